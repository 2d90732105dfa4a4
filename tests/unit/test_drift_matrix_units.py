"""Issue 17.1's pure pieces (no AWS): the bucket access plan of s3_bucket_access, the function repair plan of
cloudformation_drift, and the drift report's attributes for a module that reports no diff (wafv2_web_acl)."""

from __future__ import annotations

import importlib.util
import json

from ansible_collections.cloudsite.aws.plugins.modules import cloudformation_drift as cfn_drift
from ansible_collections.cloudsite.aws.plugins.modules import s3_bucket_access as access

from tests.conftest import ROOT


def load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = load("drift_report", "plugins/callback/drift_report.py")

ALL_ON = dict.fromkeys(access.PAB_KEYS, True)
STATEMENT = {
    "Sid": "AllowCloudFrontServicePrincipalReadOnly",
    "Effect": "Allow",
    "Principal": {"Service": "cloudfront.amazonaws.com"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::b/*",
}
POLICY = {"Version": "2012-10-17", "Statement": [STATEMENT]}


def test_bucket_access_in_sync_when_the_policy_differs_only_in_form():
    deployed = {"Version": "2012-10-17", "Statement": STATEMENT | {"Action": ["s3:GetObject"]}}
    assert access.plan(deployed, POLICY, ALL_ON, ALL_ON) == ({}, {})


def test_bucket_access_names_the_replaced_policy_and_each_setting_turned_off():
    public = {"Version": "2012-10-17", "Statement": [STATEMENT | {"Principal": "*"}]}
    deployed_pab = ALL_ON | {"block_public_policy": False, "restrict_public_buckets": False}
    before, after = access.plan(public, POLICY, deployed_pab, ALL_ON)
    assert before == {
        "policy": public,
        "public_access_block": {"block_public_policy": False, "restrict_public_buckets": False},
    }
    assert after == {
        "policy": POLICY,
        "public_access_block": {"block_public_policy": True, "restrict_public_buckets": True},
    }


def test_bucket_access_without_a_policy_or_a_configuration_and_what_is_not_declared():
    before, after = access.plan(None, POLICY, access.NO_PAB, None)
    assert before == {"policy": None} and after == {"policy": POLICY}
    assert access.plan({"Statement": []}, None, access.NO_PAB, None) == ({}, {})


def drift(logical: str, rtype: str, paths: list[str], expected: dict, status: str = "MODIFIED") -> dict:
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": f"phys-{logical}",
        "ResourceType": rtype,
        "StackResourceDriftStatus": status,
        "ExpectedProperties": json.dumps(expected),
        "PropertyDifferences": [{"PropertyPath": p} for p in paths],
    }


def test_repair_plan_sets_the_templates_values_of_the_drifted_function_properties():
    expected = {"Environment": {"Variables": {"TABLE_NAME": "t", "N": 5}}, "MemorySize": "128", "Handler": "app.h"}
    updates, left = cfn_drift.repair_plan(
        [
            drift(
                "CounterFunction",
                "AWS::Lambda::Function",
                ["/Environment/Variables/TABLE_NAME", "/MemorySize", "/Timeout", "/Layers/0"],
                expected,
            ),
            drift("Table", "AWS::DynamoDB::Table", ["/BillingMode"], {}),
            drift("Gone", "AWS::Lambda::Function", [], {}, status="DELETED"),
        ]
    )
    assert updates == [
        {
            "LogicalResourceId": "CounterFunction",
            "FunctionName": "phys-CounterFunction",
            "Environment": {"Variables": {"TABLE_NAME": "t", "N": "5"}},
            "MemorySize": 128,
            "Timeout": 3,  # not in the template: the value AWS applies
        }
    ]
    assert left == ["CounterFunction/Layers/0", "Table/BillingMode", "Gone"]


def test_a_module_without_a_diff_is_reported_by_its_returned_attributes():
    declared = [{"name": "Common", "priority": 0}, {"name": "RateLimitPerIp", "priority": 1, "action": {"block": {}}}]
    result = {
        "changed": True,
        "rules": [{"name": "Common", "priority": 0, "visibility_config": {}}],
        "description": "d",
        "invocation": {"module_args": {"rules": declared, "description": "d", "default_action": "Allow"}},
    }
    status, changes = report.classify(result, "community.aws.wafv2_web_acl")
    assert status == "MODIFIED"
    assert changes == [{"attribute": "rules", "deployed": [], "declared": [declared[1]]}]
    # Another module without a diff: named, the attribute unknown.
    status, changes = report.classify(result, "community.aws.elb_target")
    assert (status, changes[0]["attribute"]) == ("MODIFIED", "(not reported by the module)")
