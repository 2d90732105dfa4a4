"""cloudwatch_metric_alarms (issue 14.8): one module run reads the alarms in batches and writes only what differs.

botocore's Stubber answers every call in the order expected; an unexpected call, or an expected one with other
parameters, fails the test. Retries come from the module's decorator (botocore's own are off).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.cloudsite.aws.plugins.modules import cloudwatch_metric_alarms as m
from botocore.config import Config
from botocore.stub import Stubber

TOPIC = "arn:aws:sns:eu-west-1:123456789012:cloudsite-alarms"


class Module:
    """What manage() asks of AnsibleAWSModule: params, check_mode, region and a retrying client per region."""

    def __init__(self, alarms: list[dict[str, Any]], check_mode: bool = False, purge_prefixes=()) -> None:
        self.params = {"alarms": [spec(**a) for a in alarms], "purge_prefixes": list(purge_prefixes)}
        self.check_mode = check_mode
        self.region = "eu-west-1"
        self.stubbers: dict[str, Stubber] = {}

    def client(self, service: str, retry_decorator=None, region: str | None = None):
        assert service == "cloudwatch"
        stubber = self.stubbers[region]  # a region without stubbed answers fails the test here
        stubber.activate()
        return RetryingBotoClientWrapper(stubber.client, retry_decorator)

    def stub(self, region: str = "eu-west-1") -> Stubber:
        client = boto3.client(
            "cloudwatch",
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )
        self.stubbers[region] = Stubber(client)
        return self.stubbers[region]


def spec(**overrides: Any) -> dict[str, Any]:
    """An O(alarms) entry as AnsibleModule hands it over (every suboption present, defaults applied)."""
    base = {
        "name": "cloudsite-alb-5xx",
        "description": "The ALB answers 5xx",
        "region": None,
        "metric_name": "HTTPCode_ELB_5XX_Count",
        "namespace": "AWS/ApplicationELB",
        "statistic": "Sum",
        "extended_statistic": None,
        "dimensions": {"LoadBalancer": "app/cloudsite-alb/0123", "AvailabilityZone": "eu-west-1a"},
        "comparison": "GreaterThanThreshold",
        "threshold": 5.0,
        "period": 60,
        "evaluation_periods": 3,
        "treat_missing_data": "notBreaching",
        "alarm_actions": [TOPIC],
        "ok_actions": [TOPIC],
        "insufficient_data_actions": [],
    }
    return base | overrides


def described(name: str = "cloudsite-alb-5xx", **overrides: Any) -> dict[str, Any]:
    """The alarm of spec(name=name) as DescribeAlarms returns it: dimensions in another order, the threshold
    a float, state and timestamps beside the configuration, empty lists for the unset actions."""
    alarm = {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}",
        "AlarmDescription": "The ALB answers 5xx",
        "ActionsEnabled": True,
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "StateValue": "INSUFFICIENT_DATA",
        "StateReason": "Unchecked: Initial alarm creation",
        "MetricName": "HTTPCode_ELB_5XX_Count",
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Sum",
        "Dimensions": [
            {"Name": "AvailabilityZone", "Value": "eu-west-1a"},
            {"Name": "LoadBalancer", "Value": "app/cloudsite-alb/0123"},
        ],
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    return alarm | overrides


def expect_describe(stub: Stubber, names: list[str], alarms: list[dict[str, Any]]) -> None:
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": alarms},
        {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100},
    )


def put_params(name: str = "cloudsite-alb-5xx", **overrides: Any) -> dict[str, Any]:
    params = {
        "AlarmName": name,
        "AlarmDescription": "The ALB answers 5xx",
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "MetricName": "HTTPCode_ELB_5XX_Count",
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Sum",
        "Dimensions": [
            {"Name": "AvailabilityZone", "Value": "eu-west-1a"},
            {"Name": "LoadBalancer", "Value": "app/cloudsite-alb/0123"},
        ],
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    return params | overrides


def test_equal_alarms_make_no_write_and_no_change():
    module = Module([{}])
    stub = module.stub()
    expect_describe(stub, ["cloudsite-alb-5xx"], [described()])
    result = m.manage(module)
    stub.assert_no_pending_responses()
    assert (result["changed"], result["created"], result["updated"]) == (False, [], [])
    assert result["diff"] == {"before": {}, "after": {}}


def test_equal_in_aws_form_an_integer_threshold_and_absent_defaults_make_no_change():
    """What AWS leaves out or spells otherwise: no description key, no TreatMissingData (missing),
    DatapointsToAlarm equal to EvaluationPeriods, EvaluateLowSampleCountPercentile 'evaluate', Metrics []."""
    module = Module(
        [
            {
                "description": "",
                "treat_missing_data": "missing",
                "threshold": 5,
                "statistic": None,
                "extended_statistic": "p90",
            }
        ]
    )
    stub = module.stub()
    alarm = described(DatapointsToAlarm=3, EvaluateLowSampleCountPercentile="evaluate", Metrics=[])
    for key in ("AlarmDescription", "TreatMissingData", "Statistic"):
        alarm.pop(key)
    expect_describe(stub, ["cloudsite-alb-5xx"], [alarm | {"ExtendedStatistic": "p90"}])
    assert m.manage(module)["changed"] is False
    stub.assert_no_pending_responses()


def test_a_different_threshold_puts_that_alarm_only():
    module = Module([{}, {"name": "cloudsite-alb-target-5xx"}])
    stub = module.stub()
    expect_describe(
        stub,
        ["cloudsite-alb-5xx", "cloudsite-alb-target-5xx"],
        [described(Threshold=10.0), described("cloudsite-alb-target-5xx")],
    )
    stub.add_response("put_metric_alarm", {}, put_params())
    result = m.manage(module)
    stub.assert_no_pending_responses()
    assert (result["changed"], result["created"], result["updated"]) == (True, [], ["cloudsite-alb-5xx"])
    assert result["diff"]["before"]["cloudsite-alb-5xx"]["Threshold"] == 10.0
    assert result["diff"]["after"]["cloudsite-alb-5xx"]["Threshold"] == 5.0
    assert list(result["diff"]["after"]) == ["cloudsite-alb-5xx"]


@pytest.mark.parametrize(
    "drift",
    [
        {"Dimensions": [{"Name": "LoadBalancer", "Value": "app/cloudsite-alb/0123"}]},
        {"OKActions": []},
        {"ActionsEnabled": False},
        {"Unit": "Count"},
        {"DatapointsToAlarm": 2},
        {"TreatMissingData": "breaching"},
        {"AlarmDescription": "edited in the console"},
    ],
)
def test_every_attribute_put_sets_is_compared(drift):
    module = Module([{}])
    stub = module.stub()
    expect_describe(stub, ["cloudsite-alb-5xx"], [described(**drift)])
    stub.add_response("put_metric_alarm", {}, put_params())
    assert m.manage(module)["updated"] == ["cloudsite-alb-5xx"]
    stub.assert_no_pending_responses()


def test_check_mode_reads_but_puts_nothing():
    module = Module([{}, {"name": "cloudsite-new"}], check_mode=True)
    stub = module.stub()
    expect_describe(stub, ["cloudsite-alb-5xx", "cloudsite-new"], [described(Threshold=1.0)])
    result = m.manage(module)  # a put would find no stubbed answer and fail
    stub.assert_no_pending_responses()
    assert (result["changed"], result["created"], result["updated"]) == (True, ["cloudsite-new"], ["cloudsite-alb-5xx"])
    assert "cloudsite-new" not in result["diff"]["before"]


def test_more_than_100_names_are_read_in_batches_of_100():
    names = [f"cloudsite-a{i:03d}" for i in range(205)]
    module = Module([{"name": n} for n in names])
    stub = module.stub()
    for start in (0, 100, 200):
        batch = names[start : start + 100]
        expect_describe(stub, batch, [described(n) for n in batch])
    assert m.manage(module)["changed"] is False
    stub.assert_no_pending_responses()


def test_a_paginated_answer_is_read_to_the_end():
    module = Module([{}, {"name": "cloudsite-b"}])
    stub = module.stub()
    names = ["cloudsite-alb-5xx", "cloudsite-b"]
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [described()], "NextToken": "t1"},
        {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100},
    )
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [described("cloudsite-b")]},
        {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100, "NextToken": "t1"},
    )
    assert m.manage(module)["changed"] is False
    stub.assert_no_pending_responses()


def test_alarms_are_grouped_by_region_one_client_each():
    module = Module([{}, {"name": "cloudsite-cloudfront-5xx-rate", "region": "us-east-1"}])
    home, edge = module.stub(), module.stub("us-east-1")
    expect_describe(home, ["cloudsite-alb-5xx"], [described()])
    expect_describe(edge, ["cloudsite-cloudfront-5xx-rate"], [])
    edge.add_response("put_metric_alarm", {}, put_params("cloudsite-cloudfront-5xx-rate"))
    assert m.manage(module)["created"] == ["cloudsite-cloudfront-5xx-rate"]
    home.assert_no_pending_responses()
    edge.assert_no_pending_responses()


def test_purge_deletes_only_prefixed_alarms_not_listed():
    module = Module([{"name": "cloudsite-recover-i-new"}], purge_prefixes=["cloudsite-recover-i-"])
    stub = module.stub()
    expect_describe(stub, ["cloudsite-recover-i-new"], [described("cloudsite-recover-i-new")])
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [described("cloudsite-recover-i-new"), described("cloudsite-recover-i-old")]},
        {"AlarmNamePrefix": "cloudsite-recover-i-", "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100},
    )
    stub.add_response("delete_alarms", {}, {"AlarmNames": ["cloudsite-recover-i-old"]})
    result = m.manage(module)
    stub.assert_no_pending_responses()
    assert (result["changed"], result["deleted"]) == (True, ["cloudsite-recover-i-old"])
    assert "cloudsite-recover-i-old" in result["diff"]["before"]


def test_a_throttled_read_is_retried(monkeypatch):
    from ansible_collections.amazon.aws.plugins.module_utils import cloud

    monkeypatch.setattr(cloud.time, "sleep", lambda _seconds: None)
    module = Module([{}])
    stub = module.stub()
    stub.add_client_error("describe_alarms", service_error_code="Throttling", http_status_code=400)
    expect_describe(stub, ["cloudsite-alb-5xx"], [described()])
    assert m.manage(module)["changed"] is False
    stub.assert_no_pending_responses()


def test_problems_are_found_before_any_call():
    assert m.problems([spec(), spec()]) == ["alarm cloudsite-alb-5xx is listed twice"]
    assert m.problems([spec(extended_statistic="p90")]) == [
        "alarm cloudsite-alb-5xx: give exactly one of statistic and extended_statistic"
    ]
    assert m.problems([spec(alarm_actions=[f"arn:{i}" for i in range(6)])]) == [
        "alarm cloudsite-alb-5xx: at most 5 alarm_actions"
    ]
