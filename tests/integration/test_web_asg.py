"""web_host_mode asg against the private emulator: the Auto Scaling group of one and its launch template.

Runs playbooks/bootstrap-iam.yml (the web role and instance profile), then ``playbooks/infra.yml --tags
aws_network,ec2_host,alb -e web_host_mode=asg``: check on empty → apply → apply → check, read back; then
a terminated instance is replaced by the group, and instance mode removes the group again.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest

from local import envctl
from tests.conftest import ROOT, ansible_env, reset_moto

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]
TAGS = "aws_network,ec2_host,alb"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run(moto_url: str, playbook: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), playbook, *args],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc.returncode, proc.stdout + proc.stderr


def infra(moto_url: str, mode: str, *args: str) -> tuple[int, str]:
    return run(moto_url, "playbooks/infra.yml", "--tags", TAGS, "-e", f"web_host_mode={mode}", *args)


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported a change (for the failure message)."""
    return re.findall(r"^TASK \[(.+?)\][^\n]*\n(?:[^\n]*\n)?changed:", output, re.M)


def changed(output: str) -> int:
    match = RECAP.search(output)
    assert match, output[-3000:]
    assert match.group(4) == "0", output[-3000:]
    return int(match.group(2))


def group(aws_client) -> dict:
    groups = aws_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["cloudsite-web"])
    return groups["AutoScalingGroups"][0] if groups["AutoScalingGroups"] else {}


def web_instances(aws_client) -> list[dict]:
    reservations = aws_client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:project", "Values": ["cloudsite"]},
            {"Name": "tag:role", "Values": ["web"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


@pytest.fixture(scope="module")
def converged(moto_url, docker_engine):
    """Reset, bootstrap IAM, then check → apply → apply → check in asg mode; yields the outputs."""

    reset_moto(moto_url)
    outputs = {}
    try:
        rc, out = run(moto_url, "playbooks/bootstrap-iam.yml", "-e", json.dumps({"iam_github_repository": "me/site"}))
        assert rc == 0, out[-4000:]
        for step, args in (
            ("check_empty", ["--check"]),
            ("apply", []),
            ("again", []),
            ("check_converged", ["--check"]),
        ):
            rc, out = infra(moto_url, "asg", *args)
            assert rc == 0, f"{step} failed:\n{out[-4000:]}"
            outputs[step] = out
        yield outputs
    finally:
        envctl.remove_standins(moto_url)


def test_asg_mode_converges_to_no_change(converged):
    assert changed(converged["check_empty"]) > 0
    assert changed(converged["apply"]) > 0
    assert changed(converged["again"]) == 0, changed_tasks(converged["again"])
    assert changed(converged["check_converged"]) == 0, changed_tasks(converged["check_converged"])


def test_group_of_one_across_both_subnets_from_the_template(converged, aws_client):
    asg = group(aws_client)
    assert (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"]) == (1, 1, 1)
    assert asg["HealthCheckType"] == "EC2" and asg["HealthCheckGracePeriod"] == 300
    assert len(asg["VPCZoneIdentifier"].split(",")) == 2
    assert asg["LaunchTemplate"]["LaunchTemplateName"] == "cloudsite-web"
    assert [i["LifecycleState"] for i in asg["Instances"]] == ["InService"]


def test_launch_template_has_imdsv2_encrypted_root_profile_and_user_data(converged, aws_client):
    ec2 = aws_client("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateName="cloudsite-web")["LaunchTemplateVersions"]
    assert len(versions) == 1, "a re-run made a new template version"
    data = versions[0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    root = data["BlockDeviceMappings"][0]["Ebs"]
    assert root["Encrypted"] is True and root["VolumeType"] == "gp3"
    assert data["IamInstanceProfile"]["Arn"].endswith(":instance-profile/cloudsite-web")
    user_data = base64.b64decode(data["UserData"]).decode()
    assert user_data.startswith("#!/bin/bash")
    assert '"releases/frontend/"' in user_data and '"cloudsite-frontend"' in user_data


def test_the_group_instance_is_the_one_web_host(converged, aws_client):
    (instance,) = web_instances(aws_client)
    assert instance["Tags"] and {"Key": "aws:autoscaling:groupName", "Value": "cloudsite-web"} in instance["Tags"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/cloudsite-web")


def test_a_terminated_instance_is_replaced_and_instance_mode_removes_the_group(converged, moto_url, aws_client):
    (lost,) = web_instances(aws_client)
    aws_client("ec2").terminate_instances(InstanceIds=[lost["InstanceId"]])
    (replacement,) = web_instances(aws_client)
    assert replacement["InstanceId"] != lost["InstanceId"]
    assert [i["InstanceId"] for i in group(aws_client)["Instances"]] == [replacement["InstanceId"]]

    rc, out = infra(moto_url, "instance")
    assert rc == 0, out[-4000:]
    assert group(aws_client) == {}
    (single,) = web_instances(aws_client)
    assert {"Key": "aws:autoscaling:groupName", "Value": "cloudsite-web"} not in single["Tags"]
    assert not aws_client("ec2").describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": ["cloudsite-web"]}]
    )["LaunchTemplates"]
