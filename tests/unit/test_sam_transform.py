"""Offline SAM transform (collections/ansible_collections/cloudsite/aws/plugins/module_utils/sam_translate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.cloudsite.aws.plugins.module_utils import sam_artifacts as sam_package
from ansible_collections.cloudsite.aws.plugins.module_utils import sam_translate as sam_transform

ROOT = Path(__file__).resolve().parent.parent.parent
PARAMS = {
    "Stage": "prod",
    "AllowedOrigin": "https://example.com",
    "SenderEmail": "a@example.com",
    "RecipientEmail": "b@example.com",
}


@pytest.fixture(scope="module", params=["tests/fixtures/sam/template.yaml", "app/backend/template.yaml"])
def packaged(request):
    path = ROOT / request.param
    if not path.exists():
        pytest.skip(f"{request.param} not present")
    template = sam_package.load_template(path.read_text())
    uris = sam_package.local_code_uris(template)
    return sam_package.rewrite_code_uris(template, {k: f"s3://artifacts/{k}.zip" for k in uris})


def test_transform_leaves_no_serverless_resources(packaged):
    out = sam_transform.transform(packaged, PARAMS, region="us-east-1")
    types = {r["Type"] for r in out["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::IAM::Role"} <= types
    assert "Transform" not in out


def test_function_code_points_at_the_uploaded_zip(packaged):
    out = sam_transform.transform(packaged, PARAMS)
    codes = [r["Properties"]["Code"] for r in out["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert codes and all(c["S3Bucket"] == "artifacts" and c["S3Key"].endswith(".zip") for c in codes)


def test_transform_is_deterministic(packaged):
    first = json.dumps(sam_transform.transform(packaged, PARAMS), sort_keys=True)
    second = json.dumps(sam_transform.transform(packaged, PARAMS), sort_keys=True)
    assert first == second


def test_managed_policies_come_from_the_static_map():
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "s3://b/k.zip",
                    "Handler": "app.handler",
                    "Runtime": "python3.12",
                    "Policies": ["CloudsiteOnlyPolicy"],
                },
            }
        },
    }
    out = sam_transform.transform(template, {}, policies={"CloudsiteOnlyPolicy": "arn:aws:iam::aws:policy/Fake"})
    role = out["Resources"]["FnRole"]["Properties"]
    assert "arn:aws:iam::aws:policy/Fake" in role["ManagedPolicyArns"]


def test_invalid_template_raises_a_readable_error():
    bad = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {"Type": "AWS::Serverless::Function"}}}
    with pytest.raises(sam_transform.SamTransformError, match="invalid SAM template"):
        sam_transform.transform(bad, {})
