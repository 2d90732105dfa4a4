"""aws_network, ec2_host and alb against the private emulator: check on empty, apply, idempotence, read-back.

Runs ``playbooks/infra.yml --tags aws_network,ec2_host,alb`` (the guard play is tagged always).
"""

from __future__ import annotations

import pytest

from local import envctl
from tests.conftest import changed, reset_moto, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]
TAGS = "aws_network,ec2_host,alb"


def run(moto_url: str, *args: str) -> tuple[int, str]:
    proc = run_playbook(moto_url, "playbooks/infra.yml", "--tags", TAGS, *args)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def converged(moto_url, docker_engine):
    """Reset, then check → apply → apply → check; yields the four outputs."""

    reset_moto(moto_url)
    outputs = {}
    try:
        for step, args in (
            ("check_empty", ["--check"]),
            ("apply", []),
            ("again", []),
            ("check_converged", ["--check"]),
        ):
            rc, out = run(moto_url, *args)
            assert rc == 0, f"{step} failed:\n{out[-4000:]}"
            outputs[step] = out
        yield outputs
    finally:
        envctl.remove_standins(moto_url)


def test_check_mode_on_an_empty_account_succeeds_and_creates_nothing(converged):
    assert changed(converged["check_empty"]) > 0


def test_apply_creates_then_converges_to_no_change(converged):
    assert changed(converged["apply"]) > 0
    assert changed(converged["again"]) == 0, converged["again"][-3000:]
    assert changed(converged["check_converged"]) == 0, converged["check_converged"][-3000:]


def test_two_public_subnets_in_two_zones_with_igw_route(converged, aws_client):
    ec2 = aws_client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:project", "Values": ["cloudsite"]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert len(subnets) == 2
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert all(s["MapPublicIpOnLaunch"] for s in subnets)
    tables = ec2.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["cloudsite-public"]}])["RouteTables"]
    assert len(tables) == 1
    assert any(r.get("GatewayId", "").startswith("igw-") for r in tables[0]["Routes"])
    assert {a["SubnetId"] for a in tables[0]["Associations"]} == {s["SubnetId"] for s in subnets}


def test_web_security_group_admits_container_ports_from_the_alb_only(converged, aws_client):
    ec2 = aws_client("ec2")
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    alb, web = groups["cloudsite-alb"], groups["cloudsite-web"]
    # The ALB: port 80 from CloudFront's origin-facing prefix list only, no address range at all.
    (prefix_list,) = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}]
    )["PrefixLists"]
    assert [(p["FromPort"], p["ToPort"]) for p in alb["IpPermissions"]] == [(80, 80)]
    assert [p["PrefixListId"] for p in alb["IpPermissions"][0]["PrefixListIds"]] == [prefix_list["PrefixListId"]]
    assert alb["IpPermissions"][0]["IpRanges"] == [] and alb["IpPermissions"][0]["Ipv6Ranges"] == []
    assert sorted(p["FromPort"] for p in web["IpPermissions"]) == [8081, 8082]
    for perm in web["IpPermissions"]:
        assert perm["IpRanges"] == []
        assert [p["GroupId"] for p in perm["UserIdGroupPairs"]] == [alb["GroupId"]]


def test_instance_requires_imdsv2_hop_limit_1_and_encrypted_root(converged, aws_client):
    ec2 = aws_client("ec2")
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:role", "Values": ["web"]},
            {"Name": "tag:project", "Values": ["cloudsite"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 1
    instance = instances[0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert instance["ImageId"] == "ami-0deb12a00000000b2"  # the newest seeded Debian 12 image
    assert instance["KeyName"] == "cloudsite-deploy"
    root = next(m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"])
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert volume["VolumeType"] == "gp3"


def test_target_group_health_check_and_listener(converged, aws_client):
    elb = aws_client("elbv2")
    tg = elb.describe_target_groups(Names=["cloudsite-frontend"])["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/healthz"
    assert tg["HealthyThresholdCount"] == 2
    assert tg["TargetType"] == "instance"
    assert tg["Port"] == 8081
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "15"
    lb = elb.describe_load_balancers(Names=["cloudsite-alb"])["LoadBalancers"][0]
    assert len(lb["AvailabilityZones"]) == 2
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    # Without CloudFront's secret header: a fixed 403. With it (or the previous value during a rotation): forward.
    assert [(ls["Port"], ls["DefaultActions"][0]["Type"]) for ls in listeners] == [(80, "fixed-response")]
    assert listeners[0]["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "403"
    rules = [r for r in elb.describe_rules(ListenerArn=listeners[0]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1
    (condition,) = rules[0]["Conditions"]
    assert condition["Field"] == "http-header"
    assert condition["HttpHeaderConfig"] == {
        "HttpHeaderName": "X-Origin-Verify",
        "Values": ["local-origin-verify-0123456789abcdef"],  # inventories/local; no previous value
    }
    assert [(a["Type"], a["TargetGroupArn"]) for a in rules[0]["Actions"]] == [("forward", tg["TargetGroupArn"])]
