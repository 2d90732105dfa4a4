"""Gap 26 (local/moto_patches/cloudformation_drift.py): CloudFormation drift detection on the emulator.

A stack with a function and a table (the types the SAM stacks hold) is deployed; console-style edits
(an environment variable changed and one added, memory and timeout changed, the table's billing mode
switched) are reported per resource and property as AWS reports them; an unpatched moto cannot detect.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import botocore.parsers
import pytest

from local.moto_patches.cloudformation_drift import property_differences
from tests.conftest import free_port, start_moto

TEMPLATE = {
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "app.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(e, c): return 1"},
                "MemorySize": 128,
                "Timeout": 10,
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"}, "STAGE": {"Ref": "Stage"}}},
            },
        },
    },
}


def _client(url: str, service: str):
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _deploy(url: str) -> tuple[str, str]:
    cfn = _client(url, "cloudformation")
    params = [{"ParameterKey": "Stage", "ParameterValue": "prod"}]
    cfn.create_stack(StackName="drifty", TemplateBody=json.dumps(TEMPLATE), Parameters=params)
    res = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="drifty")["StackResources"]
    }
    return res["Fn"], res["Table"]


def _detect(url: str) -> tuple[dict, dict[str, dict]]:
    cfn = _client(url, "cloudformation")
    detection = cfn.detect_stack_drift(StackName="drifty")["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    drifts = cfn.describe_stack_resource_drifts(StackName="drifty")["StackResourceDrifts"]
    return status, {d["LogicalResourceId"]: d for d in drifts}


@pytest.fixture
def unpatched(tmp_path):
    port = free_port()
    proc = start_moto(port, patched=False, log_path=tmp_path / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_drift_detection_reports_console_edits_like_aws(moto_reset):
    fn, table = _deploy(moto_reset)
    status, drifts = _detect(moto_reset)
    assert (status["DetectionStatus"], status["StackDriftStatus"], status["DriftedStackResourceCount"]) == (
        "DETECTION_COMPLETE",
        "IN_SYNC",
        0,
    )
    assert {k: d["StackResourceDriftStatus"] for k, d in drifts.items()} == {
        "Role": "NOT_CHECKED",
        "Table": "IN_SYNC",
        "Fn": "IN_SYNC",
    }
    # Gap 27: the table got the TTL, PITR and encryption its template declares (else it would drift at once).
    ddb = _client(moto_reset, "dynamodb")
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    assert ddb.describe_table(TableName=table)["Table"]["SSEDescription"]["Status"] == "ENABLED"
    expected = json.loads(drifts["Fn"]["ExpectedProperties"])
    assert expected["Environment"]["Variables"] == {"TABLE": table, "STAGE": "prod"}  # resolved Ref/parameter

    lam = _client(moto_reset, "lambda")
    lam.update_function_configuration(
        FunctionName=fn,
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"TABLE": table, "STAGE": "dev", "X": "1"}},
    )
    _client(moto_reset, "dynamodb").update_table(
        TableName=table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    status, drifts = _detect(moto_reset)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 2)
    assert drifts["Fn"]["StackResourceDriftStatus"] == "MODIFIED"
    diffs = {
        d["PropertyPath"]: (d["ExpectedValue"], d["ActualValue"], d["DifferenceType"])
        for d in drifts["Fn"]["PropertyDifferences"]
    }
    assert diffs == {
        "/Environment/Variables/STAGE": ("prod", "dev", "NOT_EQUAL"),
        "/Environment/Variables/X": ("null", "1", "ADD"),
        "/MemorySize": ("128", "256", "NOT_EQUAL"),
        "/Timeout": ("10", "30", "NOT_EQUAL"),
    }
    table_diffs = {d["PropertyPath"]: d["ActualValue"] for d in drifts["Table"]["PropertyDifferences"]}
    assert table_diffs == {"/BillingMode": "PROVISIONED"}  # throughput is not in the template: not checked
    only = _client(moto_reset, "cloudformation").describe_stack_resource_drifts(
        StackName="drifty", StackResourceDriftStatusFilters=["MODIFIED"]
    )["StackResourceDrifts"]
    assert sorted(d["LogicalResourceId"] for d in only) == ["Fn", "Table"]

    _client(moto_reset, "dynamodb").delete_table(TableName=table)
    _, drifts = _detect(moto_reset)
    assert drifts["Table"]["StackResourceDriftStatus"] == "DELETED" and "ActualProperties" not in drifts["Table"]


def test_unknown_detection_id_is_a_validation_error(moto_reset):
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationError"):
        _client(moto_reset, "cloudformation").describe_stack_drift_detection_status(StackDriftDetectionId="nope")


def test_property_differences_paths_and_unordered_key_lists():
    assert property_differences({"A": {"B": 1}}, {"A": {"B": "1"}}) == []
    assert property_differences({"KeySchema": [{"a": 1}, {"b": 2}]}, {"KeySchema": [{"b": 2}, {"a": 1}]}) == []
    [diff] = property_differences({"Environment": {"Variables": {"K": "v"}}}, {})
    assert diff == {
        "PropertyPath": "/Environment",
        "ExpectedValue": '{"Variables": {"K": "v"}}',
        "ActualValue": "null",
        "DifferenceType": "REMOVE",
    }


def test_unpatched_emulator_has_no_drift_detection(unpatched):
    """The gaps the patch closes (if moto ever closes them, re-check the patch and drop it)."""
    _, table = _deploy(unpatched)
    ddb = _client(unpatched, "dynamodb")
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    assert "SSEDescription" not in ddb.describe_table(TableName=table)["Table"]
    with pytest.raises((botocore.exceptions.ClientError, botocore.parsers.ResponseParserError)):
        _client(unpatched, "cloudformation").detect_stack_drift(StackName="drifty")
