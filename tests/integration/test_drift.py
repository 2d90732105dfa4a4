"""`make drift` (drift/run.py) against the private emulator on the network stage: a converged deploy
exits 0; a console-style edit (an SSH rule from anywhere added to the web security group with boto3)
exits 2 and is named by resource and attribute in the table and the JSON report; the deploy repairs it.

The whole-deployment edits of the issue (bucket policy, Block Public Access, cache policy, WAF rule,
Lambda environment, containers) need a full `make demo`: tests/demo/test_drift_matrix.py (make drift-check).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, ansible_env

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
TASK = "aws_network : Ensure the web security group admits only the ALB (and the admin allow-list)"


def deploy(moto_url: str) -> None:
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/infra.yml", "--tags", "aws_network"],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def drift(moto_url: str, report) -> tuple[int, str, dict]:
    env = ansible_env(moto_url)
    env["DRIFT_REPORT"] = str(report)
    proc = subprocess.run(
        [sys.executable, "drift/run.py", "playbooks/infra.yml", "--tags", "aws_network"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr, json.loads(report.read_text()) if report.exists() else {}


def web_group(ec2) -> dict:
    return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["cloudsite-web"]}])[
        "SecurityGroups"
    ][0]


def test_drift_exit_codes_report_and_repair(moto_reset, aws_client, tmp_path):
    ec2 = aws_client("ec2")
    deploy(moto_reset)
    rc, out, report = drift(moto_reset, tmp_path / "converged.json")
    assert rc == 0, out[-3000:]
    assert report["status"] == "in_sync" and set(report["counts"]) == {"IN_SYNC"}
    assert report["counts"]["IN_SYNC"] >= 6  # VPC, 2 subnets, gateway, route table, 2 groups

    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=web_group(ec2)["GroupId"], IpPermissions=[ssh])
    rc, out, report = drift(moto_reset, tmp_path / "drifted.json")
    assert rc == 2, out[-3000:]
    [entry] = [e for e in report["resources"] if e["status"] != "IN_SYNC"]
    assert entry["resource"] == TASK and entry["status"] == "UNMANAGED-EXTRA"  # only an extra rule (issue 17.3)
    [change] = entry["attributes"]
    assert change["attribute"] == "ip_permissions" and change["declared"] == []
    assert [(p["from_port"], p["ip_ranges"]) for p in change["deployed"]] == [(22, [{"cidr_ip": "0.0.0.0/0"}])]
    assert f"UNMANAGED-EXTRA  localhost    {TASK}" in out and "ip_permissions: deployed=" in out

    deploy(moto_reset)
    assert 22 not in [p.get("FromPort") for p in web_group(ec2)["IpPermissions"]]


def test_drift_error_exits_1(moto_url, tmp_path):
    env = ansible_env(moto_url)
    env["DRIFT_REPORT"] = str(tmp_path / "error.json")
    proc = subprocess.run(
        [sys.executable, "drift/run.py", "playbooks/does-not-exist.yml"], cwd=ROOT, env=env, capture_output=True
    )
    assert proc.returncode == 1
