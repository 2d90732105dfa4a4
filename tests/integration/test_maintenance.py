"""Maintenance mode against the private emulator: `make maintenance` / `make live` (playbooks/maintenance.yml).

No local ALB data plane exists yet, so the outcome is read from the ELBv2 configuration the data plane
would serve: a priority-1 catch-all fixed response with the page, on the forwarding listener only; the
default action and the registered targets untouched; idempotent; --check changes nothing; live removes it.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
# The status of the one task that switches the mode (the first run also creates the lock table).
SWITCH = re.compile(r"^TASK \[Ensure the maintenance rule is \w+\][^\n]*\n[^\n]*\n(ok|changed): \[localhost\]", re.M)


def run(moto_url: str, *args: str) -> tuple[int, int, str]:
    proc = run_playbook(moto_url, "playbooks/maintenance.yml", *args)
    out = proc.stdout + proc.stderr
    match = SWITCH.search(out)
    return proc.returncode, int(match.group(1) == "changed") if match else -1, out


@pytest.fixture
def balancer(moto_reset, aws_client):
    """The ALB as the alb role leaves it (HTTPS variant: 80 redirects, 443 forwards), with one target."""
    ec2, elbv2 = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName="cloudsite-alb", Description="alb", VpcId=vpc)["GroupId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]
    tg = elbv2.create_target_group(Name="cloudsite-frontend", Protocol="HTTP", Port=8081, VpcId=vpc)["TargetGroups"][0][
        "TargetGroupArn"
    ]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance["InstanceId"], "Port": 8081}])
    lb = elbv2.create_load_balancer(Name="cloudsite-alb", Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0]
    acm = aws_client("acm")
    cert = acm.request_certificate(DomainName="example.com")["CertificateArn"]
    redirect = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    forward = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    return {"elbv2": elbv2, "redirect": redirect, "forward": forward, "tg": tg}


def custom_rules(elbv2, listener: str) -> list[dict]:
    return [r for r in elbv2.describe_rules(ListenerArn=listener)["Rules"] if not r["IsDefault"]]


def test_maintenance_serves_the_page_without_touching_targets_and_live_restores(balancer, moto_reset):
    elbv2 = balancer["elbv2"]
    targets_before = elbv2.describe_target_health(TargetGroupArn=balancer["tg"])["TargetHealthDescriptions"]
    on = ["-e", json.dumps({"maintenance_enabled": True, "maintenance_message": "Upgrading <db> until 10:00"})]

    rc, changed, out = run(moto_reset, *on, "--check")
    assert rc == 0 and changed == 1, out[-3000:]
    assert custom_rules(elbv2, balancer["forward"]) == []

    rc, changed, out = run(moto_reset, *on)
    assert rc == 0 and changed == 1, out[-3000:]
    [rule] = custom_rules(elbv2, balancer["forward"])
    assert rule["Priority"] == "1"
    assert rule["Conditions"][0]["Field"] == "path-pattern" and rule["Conditions"][0]["Values"] == ["/*"]
    config = rule["Actions"][0]["FixedResponseConfig"]
    assert rule["Actions"][0]["Type"] == "fixed-response"
    assert config["StatusCode"] == "501" and config["ContentType"] == "text/html"
    # The message is on the page, HTML-escaped.
    assert "Upgrading &lt;db&gt; until 10:00" in config["MessageBody"]
    # The redirecting listener, the default action and the targets are untouched.
    assert custom_rules(elbv2, balancer["redirect"]) == []
    listener = elbv2.describe_listeners(ListenerArns=[balancer["forward"]])["Listeners"][0]
    assert listener["DefaultActions"][0]["Type"] == "forward"
    assert elbv2.describe_target_health(TargetGroupArn=balancer["tg"])["TargetHealthDescriptions"] == targets_before

    rc, changed, out = run(moto_reset, *on)
    assert rc == 0 and changed == 0, out[-3000:]

    rc, changed, out = run(moto_reset, "-e", "maintenance_enabled=false")
    assert rc == 0 and changed == 1, out[-3000:]
    assert custom_rules(elbv2, balancer["forward"]) == []
    rc, changed, out = run(moto_reset, "-e", "maintenance_enabled=false", "--check")
    assert rc == 0 and changed == 0, out[-3000:]


def test_maintenance_refuses_a_status_cloudfront_would_fail_over_on(balancer, moto_reset):
    rc, _, out = run(moto_reset, "-e", "maintenance_enabled=true", "-e", "maintenance_status_code=503")
    assert rc != 0
    assert "maintenance_status_code must be a 2XX, 4XX or 5XX code that CloudFront does not fail over on" in out
    assert custom_rules(balancer["elbv2"], balancer["forward"]) == []
