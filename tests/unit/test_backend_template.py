"""app/backend/template.yaml: offline SAM transform, least privilege, the stage contract, cfn-lint clean."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "app" / "backend" / "template.yaml"
PARAMS = {
    "Stage": "test",
    "AllowedOrigin": "https://site.example",
    "SenderEmail": "a@example.com",
    "RecipientEmail": "b@example.com",
}


class StaticPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict:
    # Plain YAML (long-form intrinsics): loadable by yaml.safe_load, Ansible's from_yaml and ansible-lint.
    return yaml.safe_load(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def transformed(source) -> dict:
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(source)
    for name in ("VisitorCounterFunction", "ContactFunction"):
        tpl["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": "artifacts", "Key": f"{name}.zip"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return transform(tpl, PARAMS, StaticPolicies())


def of_type(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_parameters_and_outputs_form_the_stage_contract(source):
    params = source["Parameters"]
    assert params["Stage"]["AllowedValues"] == ["prod", "test"]
    assert {"AllowedOrigin", "SenderEmail", "RecipientEmail"} <= params.keys()
    assert {"ApiUrl", "TableName", "CounterFunctionName", "ContactFunctionName"} <= source["Outputs"].keys()
    assert source["Transform"] == "AWS::Serverless-2016-10-31"


def test_physical_names_derive_from_the_stack_name(source):
    res = source["Resources"]
    for logical, prop in (
        ("CounterTable", "TableName"),
        ("Api", "Name"),
        ("VisitorCounterFunction", "FunctionName"),
        ("ContactFunction", "FunctionName"),
    ):
        assert "${AWS::StackName}" in res[logical]["Properties"][prop]["Fn::Sub"], logical


def test_transform_runs_offline_and_yields_plain_cloudformation(transformed):
    kinds = {v["Type"] for v in transformed["Resources"].values()}
    assert not any(k.startswith("AWS::Serverless::") for k in kinds)
    assert {"AWS::ApiGateway::RestApi", "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::IAM::Role"} <= kinds
    assert "Transform" not in transformed


def test_table_is_on_demand_with_pitr_and_sse(transformed):
    (table,) = of_type(transformed, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def inline_statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def test_counter_may_only_get_and_update_its_table(transformed):
    role = transformed["Resources"]["VisitorCounterFunctionRole"]
    (stmt,) = inline_statements(role)
    assert sorted(stmt["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert stmt["Resource"] == {"Fn::GetAtt": ["CounterTable", "Arn"]}


def test_contact_may_only_send_from_the_sender_identity(transformed):
    role = transformed["Resources"]["ContactFunctionRole"]
    (stmt,) = inline_statements(role)
    assert stmt["Action"] == "ses:SendEmail"
    resources = json.dumps(stmt["Resource"])
    assert "identity/${SenderEmail}" in resources and "*" not in resources
    assert stmt["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}
    for role in of_type(transformed, "AWS::IAM::Role").values():
        for s in inline_statements(role):
            assert "*" not in json.dumps(s["Action"]), s


def test_api_is_throttled_and_cors_is_limited_to_the_origin(transformed):
    (stage,) = of_type(transformed, "AWS::ApiGateway::Stage").values()
    (setting,) = stage["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    body = json.dumps(api["Properties"]["Body"])
    assert "${AllowedOrigin}" in body and "'*'" not in body
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths["/count"]) == {"get", "post", "options"}
    assert set(paths["/contact"]) == {"post", "options"}


def test_cfn_lint_is_clean():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
