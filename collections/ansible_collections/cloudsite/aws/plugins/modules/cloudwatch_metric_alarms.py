#!/usr/bin/python
"""Project module: a list of CloudWatch metric alarms in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_metric_alarms
short_description: Manage a list of CloudWatch metric alarms in one module run
description:
  - Creates or updates every alarm of O(alarms) (PutMetricAlarm) and, with O(purge_prefixes), deletes the
    alarms whose name starts with one of the prefixes but that are not in the list (DeleteAlarms).
  - The gap filled - amazon.aws.cloudwatch_metric_alarm manages one alarm per module run, so a loop over a
    catalogue of alarms pays a Python start, a boto3 import and a DescribeAlarms call per alarm.
    This module reads them with one DescribeAlarms call per region and 100 names (the API's limit on
    C(AlarmNames)), and writes only the alarms that are missing or differ.
  - PutMetricAlarm overwrites the whole configuration of an alarm, so every attribute it sets is compared,
    normalised as AWS returns them (dimensions in any order, actions as sets, the threshold as a float, an
    absent attribute and its default alike). Attributes the module does not set (unit, datapoints to alarm,
    metric math) must be absent on AWS, or the alarm is rewritten without them. Tags are not managed.
  - Alarms may be in different regions (CloudFront and WAF metrics are in us-east-1 only), one client per
    region.
  - Supports check mode and diff mode (the attributes before and after, per alarm written or deleted).
options:
  alarms:
    description:
      - The alarms. Names must be unique within a region.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Alarm name, 1-255 characters.
        type: str
        required: true
      description:
        description: Alarm description, at most 1024 characters.
        type: str
        default: ""
      region:
        description: Region of the alarm; default the module's region.
        type: str
      metric_name:
        description: Metric name.
        type: str
        required: true
        aliases: [metric]
      namespace:
        description: Metric namespace, e.g. C(AWS/ApplicationELB).
        type: str
        required: true
      statistic:
        description: Statistic of the metric. Exactly one of O(alarms[].statistic) and O(alarms[].extended_statistic).
        type: str
        choices: [SampleCount, Average, Sum, Minimum, Maximum]
      extended_statistic:
        description: Percentile statistic, e.g. C(p90).
        type: str
      dimensions:
        description: Metric dimensions, name to value (at most 30).
        type: dict
        default: {}
      comparison:
        description: How the statistic is compared with the threshold.
        type: str
        required: true
        choices:
          - GreaterThanOrEqualToThreshold
          - GreaterThanThreshold
          - LessThanThreshold
          - LessThanOrEqualToThreshold
      threshold:
        description: Threshold.
        type: float
        required: true
      period:
        description: Seconds per datapoint (10, 20, 30 or a multiple of 60).
        type: int
        required: true
      evaluation_periods:
        description: Datapoints that must breach before the alarm fires.
        type: int
        required: true
      treat_missing_data:
        description: How missing datapoints count.
        type: str
        choices: [breaching, notBreaching, ignore, missing]
        default: missing
      alarm_actions:
        description: ARNs notified when the alarm enters C(ALARM) (at most 5).
        type: list
        elements: str
        default: []
      ok_actions:
        description: ARNs notified when the alarm returns to C(OK) (at most 5).
        type: list
        elements: str
        default: []
      insufficient_data_actions:
        description: ARNs notified when the alarm enters C(INSUFFICIENT_DATA) (at most 5).
        type: list
        elements: str
        default: []
  purge_prefixes:
    description:
      - Delete the metric alarms whose name starts with one of these prefixes and that are not in O(alarms),
        in the module's region and in every region of O(alarms). Empty prefixes are refused.
    type: list
    elements: str
    default: []
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Ensure the alarms, and only the recovery alarms of the listed instances
  cloudwatch_metric_alarms:
    alarms:
      - name: cloudsite-alb-5xx
        description: The ALB answers 5xx
        metric_name: HTTPCode_ELB_5XX_Count
        namespace: AWS/ApplicationELB
        statistic: Sum
        dimensions: {LoadBalancer: app/cloudsite-alb/0123456789abcdef}
        comparison: GreaterThanThreshold
        threshold: 5
        period: 60
        evaluation_periods: 3
        treat_missing_data: notBreaching
        alarm_actions: [arn:aws:sns:eu-west-1:123456789012:cloudsite-alarms]
        ok_actions: [arn:aws:sns:eu-west-1:123456789012:cloudsite-alarms]
      - name: cloudsite-cloudfront-5xx-rate
        region: us-east-1
        metric_name: 5xxErrorRate
        namespace: AWS/CloudFront
        statistic: Average
        dimensions: {DistributionId: E2EXAMPLE, Region: Global}
        comparison: GreaterThanThreshold
        threshold: 5
        period: 60
        evaluation_periods: 3
    purge_prefixes: [cloudsite-recover-i-, cloudsite-reboot-i-]
"""

RETURN = r"""
created:
  description: Names of the alarms created (or that check mode would create).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the alarms rewritten because an attribute differed.
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the alarms deleted by O(purge_prefixes).
  returned: always
  type: list
  elements: str
"""

from collections.abc import Iterator
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# DescribeAlarms AlarmNames and MaxRecords, DeleteAlarms AlarmNames: at most 100 (CloudWatch API reference).
BATCH = 100
ACTIONS = ("OKActions", "AlarmActions", "InsufficientDataActions")
# Every attribute PutMetricAlarm sets (an update overwrites them all), with the value an absent one means.
DEFAULTS: dict[str, Any] = {
    "AlarmDescription": "",
    "ActionsEnabled": True,
    "OKActions": [],
    "AlarmActions": [],
    "InsufficientDataActions": [],
    "MetricName": None,
    "Namespace": None,
    "Statistic": None,
    "ExtendedStatistic": None,
    "Dimensions": [],
    "Period": None,
    "Unit": None,
    "EvaluationPeriods": None,
    "DatapointsToAlarm": None,
    "Threshold": None,
    "ComparisonOperator": None,
    "TreatMissingData": "missing",
    # AWS: "evaluate", or the parameter omitted, evaluates the alarm on a low sample count alike.
    "EvaluateLowSampleCountPercentile": "evaluate",
    "Metrics": [],
    "ThresholdMetricId": None,
}


def canonical(config: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm attributes of ``config`` (a request or a DescribeAlarms MetricAlarm) in one form:
    dimensions sorted, actions as sorted sets, numbers typed, and the attributes at their default left out."""
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = config.get(key)
        if key == "Dimensions":
            value = sorted(
                ({"Name": d["Name"], "Value": str(d["Value"])} for d in value or []), key=lambda d: d["Name"]
            )
        elif key in ACTIONS:
            value = sorted(set(value or []))
        elif key == "Threshold" and value is not None:
            value = float(value)
        elif key in ("Period", "EvaluationPeriods", "DatapointsToAlarm") and value is not None:
            value = int(value)
        if value is None or value == default or value == "" or value == []:
            continue
        out[key] = value
    # M out of N with M = N is the default N out of N.
    if out.get("DatapointsToAlarm") == out.get("EvaluationPeriods"):
        out.pop("DatapointsToAlarm", None)
    return out


def desired(spec: dict[str, Any]) -> dict[str, Any]:
    """The canonical PutMetricAlarm attributes of one O(alarms) entry."""
    return canonical(
        {
            "AlarmDescription": spec.get("description"),
            "OKActions": spec.get("ok_actions"),
            "AlarmActions": spec.get("alarm_actions"),
            "InsufficientDataActions": spec.get("insufficient_data_actions"),
            "MetricName": spec["metric_name"],
            "Namespace": spec["namespace"],
            "Statistic": spec.get("statistic"),
            "ExtendedStatistic": spec.get("extended_statistic"),
            "Dimensions": [{"Name": k, "Value": v} for k, v in (spec.get("dimensions") or {}).items()],
            "Period": spec["period"],
            "EvaluationPeriods": spec["evaluation_periods"],
            "Threshold": spec["threshold"],
            "ComparisonOperator": spec["comparison"],
            "TreatMissingData": spec.get("treat_missing_data"),
        }
    )


def problems(specs: list[dict[str, Any]]) -> list[str]:
    """What AWS would refuse in ``specs``, found before any call."""
    out = []
    seen: set[tuple[str | None, str]] = set()
    for spec in specs:
        name = spec["name"]
        if not 1 <= len(name) <= 255:
            out.append(f"alarm name must be 1-255 characters: '{name}'")
        if (spec.get("region"), name) in seen:
            out.append(f"alarm {name} is listed twice")
        seen.add((spec.get("region"), name))
        if bool(spec.get("statistic")) == bool(spec.get("extended_statistic")):
            out.append(f"alarm {name}: give exactly one of statistic and extended_statistic")
        if len(spec.get("dimensions") or {}) > 30:
            out.append(f"alarm {name}: at most 30 dimensions")
        if len(spec.get("description") or "") > 1024:
            out.append(f"alarm {name}: description longer than 1024 characters")
        for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
            if len(set(spec.get(key) or [])) > 5:
                out.append(f"alarm {name}: at most 5 {key}")
    return out


def batches(names: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(names), BATCH):
        yield names[start : start + BATCH]


def describe(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every MetricAlarm a DescribeAlarms call returns, page by page (each page retried on throttling)."""
    alarms: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.describe_alarms(
            aws_retry=True,
            AlarmTypes=["MetricAlarm"],
            MaxRecords=BATCH,
            **kwargs,
            **({"NextToken": token} if token else {}),
        )
        alarms.extend(page.get("MetricAlarms", []))
        token = page.get("NextToken")
        if not token:
            return alarms


def read_alarms(client: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """The current alarms of ``names`` by name (missing ones left out), 100 names per DescribeAlarms call."""
    found: dict[str, dict[str, Any]] = {}
    for batch in batches(names):
        found.update({a["AlarmName"]: a for a in describe(client, AlarmNames=batch)})
    return found


def manage(module: Any) -> dict[str, Any]:
    """Read, compare, write and purge; returns what exit_json reports."""
    params = module.params
    by_region: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in params["alarms"]:
        by_region.setdefault(spec.get("region") or module.region, {})[spec["name"]] = desired(spec)
    if params["purge_prefixes"]:
        by_region.setdefault(module.region, {})
    created: list[str] = []
    updated: list[str] = []
    deleted: list[str] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for region, wanted in by_region.items():
        client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff(), region=region)
        current = {name: canonical(alarm) for name, alarm in read_alarms(client, list(wanted)).items()}
        for name, config in wanted.items():
            if current.get(name) == config:
                continue
            (updated if name in current else created).append(name)
            if name in current:
                before[name] = current[name]
            after[name] = config
            if not module.check_mode:
                client.put_metric_alarm(aws_retry=True, AlarmName=name, **config)
        stale: dict[str, dict[str, Any]] = {}
        for prefix in params["purge_prefixes"]:
            for alarm in describe(client, AlarmNamePrefix=prefix):
                if alarm["AlarmName"] not in wanted:
                    stale[alarm["AlarmName"]] = canonical(alarm)
        for name in sorted(stale):
            deleted.append(name)
            before[name] = stale[name]
        if stale and not module.check_mode:
            for batch in batches(sorted(stale)):
                client.delete_alarms(aws_retry=True, AlarmNames=batch)
    return {
        "changed": bool(created or updated or deleted),
        "created": created,
        "updated": updated,
        "deleted": deleted,
        "diff": {"before": before, "after": after},
    }


def main() -> None:
    alarm = dict(
        name=dict(type="str", required=True),
        description=dict(type="str", default=""),
        region=dict(type="str"),
        metric_name=dict(type="str", required=True, aliases=["metric"]),
        namespace=dict(type="str", required=True),
        statistic=dict(type="str", choices=["SampleCount", "Average", "Sum", "Minimum", "Maximum"]),
        extended_statistic=dict(type="str"),
        dimensions=dict(type="dict", default={}),
        comparison=dict(
            type="str",
            required=True,
            choices=[
                "GreaterThanOrEqualToThreshold",
                "GreaterThanThreshold",
                "LessThanThreshold",
                "LessThanOrEqualToThreshold",
            ],
        ),
        threshold=dict(type="float", required=True),
        period=dict(type="int", required=True),
        evaluation_periods=dict(type="int", required=True),
        treat_missing_data=dict(
            type="str", choices=["breaching", "notBreaching", "ignore", "missing"], default="missing"
        ),
        alarm_actions=dict(type="list", elements="str", default=[]),
        ok_actions=dict(type="list", elements="str", default=[]),
        insufficient_data_actions=dict(type="list", elements="str", default=[]),
    )
    argument_spec = dict(
        alarms=dict(type="list", elements="dict", required=True, options=alarm),
        purge_prefixes=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    errors = problems(module.params["alarms"])
    if any(not p for p in module.params["purge_prefixes"]):
        errors.append("purge_prefixes: an empty prefix would delete every alarm not listed")
    if errors:
        module.fail_json(msg="; ".join(errors))
    try:
        module.exit_json(**manage(module))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to manage the CloudWatch metric alarms")


if __name__ == "__main__":
    main()
