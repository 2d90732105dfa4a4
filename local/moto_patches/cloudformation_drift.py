"""Gap 26: moto 5.2.5 has no CloudFormation drift detection (DetectStackDrift,
DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts answer "not implemented").

Implemented as AWS describes it (API reference of the three operations and "Detect drift on an entire
CloudFormation stack"):

- only properties the template sets explicitly are checked (defaults are not), each compared with the
  live resource after the template is resolved (Ref, Fn::GetAtt, Fn::Sub, parameters);
- a resource is ``IN_SYNC``, ``MODIFIED`` (``PropertyDifferences``: ``PropertyPath`` as a JSON pointer,
  ``ExpectedValue``, ``ActualValue``, ``DifferenceType`` ``ADD``/``REMOVE``/``NOT_EQUAL``), ``DELETED``
  (gone; no ``ActualProperties``) or ``NOT_CHECKED`` (a type this emulator does not inspect);
- the detection finishes at once (``DETECTION_COMPLETE``); the stack is ``DRIFTED`` when any resource
  is ``MODIFIED`` or ``DELETED`` and its ``DriftInformation`` says so.

Types inspected: ``AWS::Lambda::Function`` (Environment, MemorySize, Timeout, Runtime, Handler) and
``AWS::DynamoDB::Table`` (BillingMode, KeySchema, AttributeDefinitions, ProvisionedThroughput,
StreamSpecification.StreamViewType, SSESpecification.SSEEnabled, TimeToLiveSpecification,
PointInTimeRecoverySpecification). Other types are ``NOT_CHECKED`` here (AWS checks more of them, for
example IAM roles and API Gateway).

Gap 27, found by the detection itself: moto's ``AWS::DynamoDB::Table`` ignores the template's
``TimeToLiveSpecification`` and ``PointInTimeRecoverySpecification`` (AWS applies both at creation) and
keeps ``SSESpecification`` under the template's key ``SSEEnabled``, so DescribeTable reports no
encryption. ``_table_from_cloudformation`` applies TTL and PITR as AWS does and records SSE under the
API's ``Enabled``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.cloudformation import responses
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.parsing import clean_json
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

LAMBDA_PROPS = ("Environment", "MemorySize", "Timeout", "Runtime", "Handler")
TABLE_PROPS = (
    "BillingMode",
    "KeySchema",
    "AttributeDefinitions",
    "ProvisionedThroughput",
    "StreamSpecification",
    "SSESpecification",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
)
# Lists whose order AWS does not keep significant for drift.
UNORDERED = {"/AttributeDefinitions", "/KeySchema"}

_detections: dict[str, dict[str, Any]] = {}
_drifts: dict[str, list[dict[str, Any]]] = {}  # stack id -> resource drifts of its last detection


class ResourceGone(Exception):
    pass


def _lambda_actual(account: str, region: str, name: str) -> dict[str, Any]:
    try:
        config = lambda_backends[account][region].get_function(name).get_configuration()
    except Exception as exc:  # moto raises its own UnknownFunctionException
        raise ResourceGone(name) from exc
    actual = {k: config[k] for k in LAMBDA_PROPS if k in config and k != "Environment"}
    variables = (config.get("Environment") or {}).get("Variables") or {}
    if variables:
        actual["Environment"] = {"Variables": dict(variables)}
    return actual


def _table_actual(account: str, region: str, name: str) -> dict[str, Any]:
    backend = dynamodb_backends[account][region]
    if name not in backend.tables:
        raise ResourceGone(name)
    table = backend.tables[name]
    actual: dict[str, Any] = {
        "BillingMode": table.billing_mode or "PROVISIONED",
        "KeySchema": table.schema,
        "AttributeDefinitions": table.attr,
    }
    if actual["BillingMode"] == "PROVISIONED" and table.throughput:
        actual["ProvisionedThroughput"] = {
            "ReadCapacityUnits": table.throughput.get("ReadCapacityUnits"),
            "WriteCapacityUnits": table.throughput.get("WriteCapacityUnits"),
        }
    stream = table.stream_specification or {}
    if stream.get("StreamEnabled"):
        actual["StreamSpecification"] = {"StreamViewType": stream.get("StreamViewType")}
    sse = table.sse_specification or {}
    actual["SSESpecification"] = {"SSEEnabled": bool(sse.get("Enabled"))}
    pitr = table.continuous_backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    actual["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": pitr == "ENABLED"}
    ttl = table.ttl or {}
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        actual["TimeToLiveSpecification"] = {"AttributeName": ttl.get("AttributeName"), "Enabled": True}
    else:
        actual["TimeToLiveSpecification"] = {"Enabled": False}
    return actual


INSPECTORS = {
    "AWS::Lambda::Function": (LAMBDA_PROPS, _lambda_actual),
    "AWS::DynamoDB::Table": (TABLE_PROPS, _table_actual),
}


def _canon(value: Any) -> Any:
    """AWS compares property values as the API states them: numbers and booleans equal their strings."""
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if value is not None else None


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def property_differences(expected: Any, actual: Any, path: str = "") -> list[dict[str, str]]:
    """Differences between the template's (expected) and the live (actual) values, JSON-pointer paths."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[dict[str, str]] = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}/{key}"
            if key not in actual:
                out.append(
                    {
                        "PropertyPath": sub,
                        "ExpectedValue": _value(expected[key]),
                        "ActualValue": "null",
                        "DifferenceType": "REMOVE",
                    }
                )
            elif key not in expected:
                out.append(
                    {
                        "PropertyPath": sub,
                        "ExpectedValue": "null",
                        "ActualValue": _value(actual[key]),
                        "DifferenceType": "ADD",
                    }
                )
            else:
                out += property_differences(expected[key], actual[key], sub)
        return out
    if isinstance(expected, list) and isinstance(actual, list) and path in UNORDERED:
        key = lambda v: json.dumps(_canon(v), sort_keys=True)  # noqa: E731
        expected, actual = sorted(expected, key=key), sorted(actual, key=key)
    if json.dumps(_canon(expected), sort_keys=True) == json.dumps(_canon(actual), sort_keys=True):
        return []
    return [
        {
            "PropertyPath": path,
            "ExpectedValue": _value(expected),
            "ActualValue": _value(actual),
            "DifferenceType": "NOT_EQUAL",
        }
    ]


def resource_drift(stack: Any, logical_id: str, account: str, region: str, now: Any) -> dict[str, Any]:
    definition = stack.resource_map._resource_json_map[logical_id]
    rtype = definition["Type"]
    model = stack.resource_map[logical_id]
    physical = getattr(model, "physical_resource_id", None) or str(model)
    drift: dict[str, Any] = {
        "StackId": stack.stack_id,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical,
        "ResourceType": rtype,
        "Timestamp": now,
    }
    if rtype not in INSPECTORS:
        drift["StackResourceDriftStatus"] = "NOT_CHECKED"
        return drift
    checked, read_actual = INSPECTORS[rtype]
    declared = clean_json(definition.get("Properties") or {}, stack.resource_map)
    expected = {k: declared[k] for k in checked if k in declared}
    drift["ExpectedProperties"] = json.dumps(expected, sort_keys=True)
    try:
        live = read_actual(account, region, physical)
    except ResourceGone:
        drift["StackResourceDriftStatus"] = "DELETED"
        return drift
    # Only what the template sets is checked; an Environment variable added to a declared Environment is.
    actual = {k: live[k] for k in expected if k in live}
    drift["ActualProperties"] = json.dumps(actual, sort_keys=True)
    differences = property_differences(expected, actual)
    drift["StackResourceDriftStatus"] = "MODIFIED" if differences else "IN_SYNC"
    if differences:
        drift["PropertyDifferences"] = differences
    return drift


def _detect_stack_drift(self: responses.CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    wanted = self._get_param("LogicalResourceIds", []) or list(stack.resource_map._resource_json_map)
    now = utcnow()
    drifts = [resource_drift(stack, lid, self.current_account, self.region, now) for lid in wanted]
    drifted = sum(d["StackResourceDriftStatus"] in ("MODIFIED", "DELETED") for d in drifts)
    detection_id = str(uuid.uuid4())
    _drifts[stack.stack_id] = drifts
    status = "DRIFTED" if drifted else "IN_SYNC"
    _detections[detection_id] = {
        "StackId": stack.stack_id,
        "StackDriftDetectionId": detection_id,
        "StackDriftStatus": status,
        "DetectionStatus": "DETECTION_COMPLETE",
        "DriftedStackResourceCount": drifted,
        "Timestamp": now,
    }
    stack.drift_information = {"StackDriftStatus": status, "LastCheckTimestamp": now}
    return ActionResult({"StackDriftDetectionId": detection_id})


def _describe_stack_drift_detection_status(self: responses.CloudFormationResponse) -> ActionResult:
    detection_id = self._get_param("StackDriftDetectionId")
    if detection_id not in _detections:
        raise ValidationError(message=f"Stack drift detection id [{detection_id}] does not exist")
    return ActionResult(_detections[detection_id])


def _describe_stack_resource_drifts(self: responses.CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.stack_id not in _drifts:
        raise ValidationError(message=f"No drift detection has been run on stack [{stack.name}]")
    filters = set(self._get_param("StackResourceDriftStatusFilters", []))
    drifts = [d for d in _drifts[stack.stack_id] if not filters or d["StackResourceDriftStatus"] in filters]
    return ActionResult({"StackResourceDrifts": drifts})


_original_table_from_cfn = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _table_from_cloudformation(
    cls: type, resource_name: str, cloudformation_json: dict, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    table = _original_table_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    props = cloudformation_json.get("Properties") or {}
    backend = dynamodb_backends[account_id][region_name]
    if table.sse_specification and "SSEEnabled" in table.sse_specification:
        table.sse_specification["Enabled"] = table.sse_specification["SSEEnabled"] in (True, "true", "True")
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        enabled = ttl.get("Enabled") in (True, "true", "True")
        backend.update_time_to_live(table.name, {"Enabled": enabled, "AttributeName": ttl.get("AttributeName")})
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        enabled = pitr.get("PointInTimeRecoveryEnabled") in (True, "true", "True")
        backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": enabled})
    return table


def apply() -> None:
    Table.create_from_cloudformation_json = classmethod(_table_from_cloudformation)  # type: ignore[method-assign,assignment]
    responses.CloudFormationResponse.detect_stack_drift = _detect_stack_drift  # type: ignore[attr-defined]
    responses.CloudFormationResponse.describe_stack_drift_detection_status = (  # type: ignore[attr-defined]
        _describe_stack_drift_detection_status
    )
    responses.CloudFormationResponse.describe_stack_resource_drifts = (  # type: ignore[attr-defined]
        _describe_stack_resource_drifts
    )
