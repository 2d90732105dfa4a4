"""Issue 18, point 1: the monitoring stage against the private emulator.

The watched resources (ALB, target group, web instance, distribution, a Lambda log group without a
retention) are created directly with boto3, so the test costs one playbook run each for check, apply,
re-apply and check again, plus one after the instance is replaced. The inventory is hosts.yml alone:
no stand-in containers.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.conftest import ROOT, changed, reset_moto, run_playbook
from tests.integration.test_site_sync import create_s3_distribution

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
LOG_GROUP = "/aws/lambda/cloudsite-backend-prod-counter"


def run(moto_url: str, *args: str) -> str:
    proc = run_playbook(moto_url, "playbooks/monitoring.yml", *args, inventory=ROOT / "inventories/local/hosts.yml")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def web_instance(ec2, subnet: str) -> str:
    image = ec2.describe_images()["Images"][0]["ImageId"]
    return ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "project", "Value": "cloudsite"}, {"Key": "role", "Value": "web"}],
            }
        ],
    )["Instances"][0]["InstanceId"]


def boto(moto_url: str, service: str, region: str = "us-east-1"):
    return boto3.client(
        service, endpoint_url=moto_url, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture(scope="module")
def watched(moto_url):
    def aws_client(service: str):
        return boto(moto_url, service)

    reset_moto(moto_url)
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    alb = elb.create_load_balancer(Name="cloudsite-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="cloudsite-frontend", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    instance = web_instance(ec2, subnets[0])
    aws_client("s3").create_bucket(Bucket="cloudsite-local-site")
    dist = create_s3_distribution(aws_client("cloudfront"), "cloudsite-local-site")
    aws_client("logs").create_log_group(logGroupName=LOG_GROUP)
    out = {"alb": alb, "tg": tg["TargetGroupArn"], "instance": instance, "dist": dist, "subnet": subnets[0]}
    for step, args in (("check_first", ["--check"]), ("apply", []), ("again", []), ("check", ["--check"])):
        out[step] = run(moto_url, *args)
    return out


def alarms(aws_client, region: str = "us-east-1") -> dict[str, dict]:
    pages = aws_client("cloudwatch", region).get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    return {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}


def test_check_then_apply_then_no_change(watched):
    assert changed(watched["check_first"]) > 0
    assert changed(watched["apply"]) > 0
    assert changed(watched["again"]) == 0, watched["again"][-3000:]
    assert changed(watched["check"]) == 0, watched["check"][-3000:]


def test_topic_with_the_owner_subscribed(watched, aws_client):
    sns = aws_client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":cloudsite-alarms"))
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "owner@example.com")]


def test_every_part_has_its_alarms_notifying_the_topic(watched, aws_client):
    found = alarms(aws_client)
    alb_dim = watched["alb"].split(":loadbalancer/")[1]
    by_metric = {(a["Namespace"], a["MetricName"]) for a in found.values()}
    assert {
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/CloudFront", "5xxErrorRate"),
        ("AWS/WAFV2", "BlockedRequests"),
        ("AWS/SES", "Reputation.BounceRate"),
        ("AWS/SES", "Reputation.ComplaintRate"),
        ("AWS/EC2", "StatusCheckFailed_System"),
    } <= by_metric
    topic = "arn:aws:sns:us-east-1:123456789012:cloudsite-alarms"
    assert all(topic in a["AlarmActions"] and a["OKActions"] == [topic] for a in found.values())
    dims = {d["Name"]: d["Value"] for d in found["cloudsite-alb-target-5xx"]["Dimensions"]}
    assert dims == {"LoadBalancer": alb_dim}
    dims = {d["Name"]: d["Value"] for d in found["cloudsite-cloudfront-5xx-rate"]["Dimensions"]}
    assert dims == {"DistributionId": watched["dist"], "Region": "Global"}
    duration = found["cloudsite-backend-prod-counter-duration"]
    assert duration["Threshold"] == 4000.0  # 80 % of the 5 s timeout, in ms


def test_instance_recovers_itself(watched, aws_client):
    recover = alarms(aws_client)[f"cloudsite-recover-{watched['instance']}"]
    assert recover["AlarmActions"][0] == "arn:aws:automate:us-east-1:ec2:recover"
    assert recover["Dimensions"] == [{"Name": "InstanceId", "Value": watched["instance"]}]
    reboot = alarms(aws_client)[f"cloudsite-reboot-{watched['instance']}"]
    assert reboot["MetricName"] == "StatusCheckFailed_Instance"
    assert reboot["AlarmActions"][0] == "arn:aws:automate:us-east-1:ec2:reboot"


def test_dashboard_shows_the_whole_path(watched, aws_client):
    body = json.loads(aws_client("cloudwatch").get_dashboard(DashboardName="cloudsite")["DashboardBody"])
    namespaces = {m[0] for w in body["widgets"] for m in w["properties"]["metrics"]}
    assert namespaces == {
        "AWS/CloudFront",
        "AWS/WAFV2",
        "AWS/ApplicationELB",
        "AWS/EC2",
        "AWS/ApiGateway",
        "AWS/Lambda",
        "AWS/DynamoDB",
        "AWS/SES",
    }
    edge = [w for w in body["widgets"] if w["properties"]["metrics"][0][0] in ("AWS/CloudFront", "AWS/WAFV2")]
    assert {w["properties"]["region"] for w in edge} == {"us-east-1"}


def test_lambda_log_group_gets_a_retention(watched, aws_client):
    groups = aws_client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert groups[0]["retentionInDays"] == 30


def test_replaced_instance_moves_the_recovery_alarms(watched, aws_client, moto_url):
    ec2 = aws_client("ec2")
    ec2.terminate_instances(InstanceIds=[watched["instance"]])
    new = web_instance(ec2, watched["subnet"])
    assert changed(run(moto_url)) > 0
    names = {n for n in alarms(aws_client) if n.startswith(("cloudsite-recover-", "cloudsite-reboot-"))}
    assert names == {f"cloudsite-recover-{new}", f"cloudsite-reboot-{new}"}
