"""web_host_mode asg against a private emulator with the local ALB: a web host that heals.

Runs playbooks/bootstrap-iam.yml (the web role and instance profile), then ``playbooks/infra.yml --tags
aws_network,ec2_host,alb -e web_host_mode=asg``: check on empty → apply → apply → check, read back; then
the host and frontend stages (``site.yml --tags host,frontend``), whose roll publishes the release. Then
the heal: the web instance is terminated, the group launches a replacement, the emulator boots it
(``local.ec2_boot``: its user data runs, no controller, no ansible) and the local ALB serves the site
from it again; the time from the termination to that is printed (``heal: ...``). Last, instance mode
removes the group again.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import pytest

from local import envctl
from tests.conftest import ROOT, ansible_env, free_port, reset_moto, start_moto

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]
TAGS = "aws_network,ec2_host,alb"
ARTIFACTS = "cloudsite-local-artifacts"  # inventories/local: artifacts_bucket_name
RELEASE = "releases/frontend/current.json"
HEAL_TIMEOUT = 600
# The listener forwards only what CloudFront sends with the origin secret (inventories/local's value).
ORIGIN = {"X-Origin-Verify": "local-origin-verify-0123456789abcdef"}
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


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, docker_engine):
    """This module's own emulator, with the local ALB and so the instance boot (local.ec2_boot)."""
    from local import dataplane

    if not subprocess.run(["docker", "images", "-q", dataplane.IMAGE], capture_output=True, text=True).stdout.strip():
        subprocess.run(
            ["docker", "build", "-q", "-t", dataplane.IMAGE, "-"], input=dataplane.DOCKERFILE, text=True, check=True
        )
    work = tmp_path_factory.mktemp("asg")
    port = free_port()
    proc = start_moto(
        port,
        log_path=work / "moto.log",
        dataplane={"LOCAL_ALB_PORT": str(free_port()), "LOCAL_DATAPLANE_DIR": str(work / "dp")},
    )
    url = f"http://127.0.0.1:{port}"
    yield {"url": url, "dataplane": work / "dp"}
    envctl.remove_standins(url)
    proc.terminate()
    proc.wait(timeout=60)
    print((work / "moto.log").read_text()[-2000:] if proc.returncode else "")


@pytest.fixture(scope="module")
def moto_url(emulator):
    return emulator["url"]


@pytest.fixture(scope="module")
def alb_workdir(emulator):
    return emulator["dataplane"]


def get(url: str, timeout: float = 3) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=ORIGIN), timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


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
        # The release bucket is the artifacts bucket, which the backend stage makes (with the SAM build):
        # made here so the deploy needs only the host and frontend stages.
        s3 = boto3.client(
            "s3",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=ARTIFACTS)
        started = time.monotonic()
        rc, out = run(moto_url, "site.yml", "--tags", "host,frontend", "-e", "web_host_mode=asg")
        assert rc == 0, f"deploy failed:\n{out[-6000:]}"
        print(f"deploy (host, frontend): {time.monotonic() - started:.0f} s")
        outputs["deploy"] = out
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


def serving_listener(workdir) -> int:
    """The local port of the ALB listener that forwards to the web target group (alb.json, local.dataplane)."""
    listeners = json.loads((workdir / "alb.json").read_text())["listeners"]
    for listener in listeners:
        if get(f"http://127.0.0.1:{listener['local_port']}/version.json")[0] == 200:
            return listener["local_port"]
    raise AssertionError(f"no ALB listener serves /version.json: {listeners}")


def docker_has(name: str) -> bool:
    return subprocess.run(["docker", "inspect", name], capture_output=True).returncode == 0


def slots_healthy(aws_client, instance_id: str) -> dict[int, str]:
    elbv2 = aws_client("elbv2")
    arn = elbv2.describe_target_groups(Names=["cloudsite-frontend"])["TargetGroups"][0]["TargetGroupArn"]
    described = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {d["Target"]["Port"]: d["TargetHealth"]["State"] for d in described if d["Target"]["Id"] == instance_id}


def test_the_roll_publishes_the_release_new_instances_start_from(converged, aws_client):
    release = json.loads(aws_client("s3").get_object(Bucket=ARTIFACTS, Key=RELEASE)["Body"].read())
    assert release["version"] and release["archive"].endswith(".tar") and len(release["ports"]) == 2
    aws_client("s3").head_object(Bucket=ARTIFACTS, Key="releases/frontend/" + release["archive"])


def test_a_terminated_instance_is_replaced_and_boots_to_serve_the_site_without_a_controller(
    converged, aws_client, alb_workdir
):
    release = json.loads(aws_client("s3").get_object(Bucket=ARTIFACTS, Key=RELEASE)["Body"].read())
    port = serving_listener(alb_workdir)
    (lost,) = web_instances(aws_client)

    started = time.monotonic()
    aws_client("ec2").terminate_instances(InstanceIds=[lost["InstanceId"]])
    (replacement,) = web_instances(aws_client)
    assert replacement["InstanceId"] != lost["InstanceId"]
    assert [i["InstanceId"] for i in group(aws_client)["Instances"]] == [replacement["InstanceId"]]
    new = replacement["InstanceId"]

    first_200, lost_gone = None, False
    states: dict[int, str] = {}
    while time.monotonic() - started < HEAL_TIMEOUT:
        status, body = get(f"http://127.0.0.1:{port}/version.json")
        # Only once the lost instance's stand-in is gone can a 200 come from the replacement alone.
        lost_gone = lost_gone or not docker_has(lost["InstanceId"])
        if lost_gone and status == 200 and json.loads(body).get("hash") == release["version"]:
            first_200 = first_200 or time.monotonic() - started
            states = slots_healthy(aws_client, new)
            if sorted(states) == sorted(release["ports"]) and set(states.values()) == {"healthy"}:
                break
        time.sleep(1)
    else:
        log = subprocess.run(
            ["docker", "exec", new, "tail", "-30", "/var/log/cloud-init-output.log"], capture_output=True, text=True
        )
        raise AssertionError(f"no heal within {HEAL_TIMEOUT} s (targets {states}); user data log:\n{log.stdout}")
    healed = time.monotonic() - started
    print(
        f"heal: terminate -> site served from the replacement {new} in {first_200:.0f} s,"
        f" both slots healthy in {healed:.0f} s (no controller run)"
    )
    # The replacement serves the published version from its own containers, started by the user data.
    labels = subprocess.run(
        ["docker", "exec", new, "docker", "ps", "--format", '{{.Label "cloudsite.frontend.version"}}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert labels == [release["version"]] * len(release["ports"])
    finished = subprocess.run(["docker", "exec", new, "test", "-f", "/var/lib/cloud/instance/boot-finished"])
    assert finished.returncode == 0


def test_instance_mode_removes_the_group(converged, moto_url, aws_client):
    rc, out = infra(moto_url, "instance")
    assert rc == 0, out[-4000:]
    assert group(aws_client) == {}
    (single,) = web_instances(aws_client)
    assert {"Key": "aws:autoscaling:groupName", "Value": "cloudsite-web"} not in single["Tags"]
    assert not aws_client("ec2").describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": ["cloudsite-web"]}]
    )["LaunchTemplates"]
