"""Gap 16: CloudWatch PutMetricAlarm accepts any period and any string as an alarm action.

AWS refuses (ValidationError) a ``Period`` other than 10, 20, 30 or a multiple of 60, an action that
is not an ARN of a supported kind, an EC2 action (``arn:aws:automate:<region>:ec2:<action>``) in
another region than the alarm's or on a metric without an ``InstanceId`` dimension, and the
``recover`` action on any metric but ``AWS/EC2`` ``StatusCheckFailed_System``. moto 5.2.5 stores all of
it, so a typo in the monitoring role's recover ARN would pass the rehearsal and fail on AWS.

Gap 32: DescribeAlarms ignores ``MaxRecords`` and ``NextToken`` (every alarm in one answer) and takes any
number of ``AlarmNames``. AWS pages its answer (``MaxRecords`` 1-100, ``NextToken`` to the next page) and
refuses more than 100 names or a name prefix beside names (ValidationError; limits from the API
reference and botocore's model, which checks no maximum on the client). A caller that asked for 150
alarms at once, or read one page only, would pass here and miss alarms on AWS.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudwatch import models, responses
from moto.cloudwatch.exceptions import ValidationError
from moto.core.responses import ActionResult

EC2_ACTION = re.compile(r"^arn:aws[a-z-]*:automate:([a-z0-9-]+):ec2:(stop|terminate|reboot|recover)$")
OTHER_ACTION = re.compile(r"^arn:aws[a-z-]*:(sns|autoscaling|ssm|ssm-incidents|lambda|swf):[a-z0-9-]+:[0-9]{12}:.+$")
_original = models.CloudWatchBackend.put_metric_alarm
_original_describe = responses.CloudWatchResponse.describe_alarms
# DescribeAlarms: the API reference's limits. Without MaxRecords, pages of 50 (the reference names no default).
MAX_NAMES = 100
MAX_RECORDS = 100
DEFAULT_RECORDS = 50


def _dimension_names(dimensions: Any) -> set[str]:
    names = set()
    for d in dimensions or []:
        names.add(d.get("Name") if isinstance(d, dict) else getattr(d, "name", None))
    return names


def check_alarm(
    region: str, namespace: str, metric_name: str, period: Any, dimensions: Any, actions: list[str]
) -> None:
    """Raise ValidationError where AWS would."""
    if period is not None and ((int(period) not in (10, 20, 30) and int(period) % 60 != 0) or int(period) <= 0):
        raise ValidationError("Period must be 10, 20, 30 or a multiple of 60")
    for action in actions:
        ec2 = EC2_ACTION.match(action)
        if ec2:
            if ec2.group(1) != region:
                raise ValidationError(f"Invalid region {ec2.group(1)} specified. Only {region} is supported.")
            if namespace != "AWS/EC2" or "InstanceId" not in _dimension_names(dimensions):
                raise ValidationError("EC2 actions are supported only on AWS/EC2 metrics with an InstanceId dimension")
            if ec2.group(2) == "recover" and metric_name != "StatusCheckFailed_System":
                raise ValidationError("The recover action is supported only on the StatusCheckFailed_System metric")
        elif not OTHER_ACTION.match(action):
            raise ValidationError(f"Invalid arn syntax: {action}")


def put_metric_alarm(
    self: Any,
    name: str,
    namespace: str,
    metric_name: str,
    comparison_operator: str,
    evaluation_periods: int,
    period: int,
    threshold: float,
    statistic: str,
    description: str,
    dimensions: Any,
    alarm_actions: list[str],
    *args: Any,
    **kwargs: Any,
) -> Any:
    actions = (
        list(alarm_actions or [])
        + list(kwargs.get("ok_actions") or [])
        + list(kwargs.get("insufficient_data_actions") or [])
    )
    check_alarm(self.region_name, namespace, metric_name, period, dimensions, actions)
    return _original(
        self,
        name,
        namespace,
        metric_name,
        comparison_operator,
        evaluation_periods,
        period,
        threshold,
        statistic,
        description,
        dimensions,
        alarm_actions,
        *args,
        **kwargs,
    )


def describe_alarms(self: Any) -> ActionResult:
    """DescribeAlarms with AWS's limits and pages: metric alarms, then composite ones, by name."""
    names = self._get_param("AlarmNames", []) or []
    if len(names) > MAX_NAMES:
        raise ValidationError(
            f"1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_NAMES}"
        )
    if names and self._get_param("AlarmNamePrefix"):
        raise ValidationError("AlarmNamePrefix and AlarmNames cannot be specified together")
    max_records = self._get_param("MaxRecords")
    if max_records is not None and not 1 <= int(max_records) <= MAX_RECORDS:
        raise ValidationError(
            f"1 validation error detected: Value '{max_records}' at 'maxRecords' failed to satisfy constraint: "
            f"Member must have value between 1 and {MAX_RECORDS}"
        )
    size = int(max_records or DEFAULT_RECORDS)
    token = self._get_param("NextToken")
    if token is not None and not str(token).isdigit():
        raise ValidationError(f"Invalid NextToken: {token}")
    start = int(token or 0)
    result = _original_describe(self).result
    every = [("MetricAlarms", a) for a in sorted(result["MetricAlarms"], key=lambda a: a.name)]
    every += [("CompositeAlarms", a) for a in sorted(result["CompositeAlarms"], key=lambda a: a.name)]
    page = every[start : start + size]
    out: dict[str, Any] = {
        "MetricAlarms": [a for kind, a in page if kind == "MetricAlarms"],
        "CompositeAlarms": [a for kind, a in page if kind == "CompositeAlarms"],
    }
    if start + size < len(every):
        out["NextToken"] = str(start + size)
    return ActionResult(out)


def apply() -> None:
    models.CloudWatchBackend.put_metric_alarm = put_metric_alarm
    responses.CloudWatchResponse.describe_alarms = describe_alarms
