"""Deploy lock and audit log against the private emulator, with real ansible-playbook runs.

Two concurrent deploys: the second is refused in one line (who, since when, message) and deploys
nothing; a killed run leaves its lock, which refuses the next run until `make unlock` (playbooks/unlock.yml)
breaks it, or until it expires; the audit log (playbooks/audit.yml) shows each run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT, ansible_env

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
TABLE = "cloudsite-deploy-lock"
LOCK_KEY = {"pk": {"S": "lock"}, "sk": {"S": "lock"}}


def start(moto_url: str, *args: str, user: str, message: str = "") -> subprocess.Popen:
    env = ansible_env(moto_url)
    env.update({"DEPLOY_USER": user, "DEPLOY_MESSAGE": message})
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/ansible-playbook"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run(moto_url: str, *args: str, user: str = "tester", message: str = "") -> tuple[int, str]:
    proc = start(moto_url, *args, user=user, message=message)
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def lock_item(dynamodb) -> dict | None:
    try:
        return dynamodb.get_item(TableName=TABLE, Key=LOCK_KEY, ConsistentRead=True).get("Item")
    except dynamodb.exceptions.ResourceNotFoundException:
        return None


def wait_for_lock(dynamodb, proc: subprocess.Popen) -> dict:
    for _ in range(600):
        item = lock_item(dynamodb)
        if item:
            return item
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    raise AssertionError("the first run never took the lock")


def audit(dynamodb) -> list[dict]:
    items = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "audit"}},
        ScanIndexForward=False,
    )["Items"]
    return [json.loads(i["record"]["S"]) for i in items]


def test_concurrent_deploys_one_is_refused_and_nothing_is_deployed_twice(moto_reset, aws_client):
    dynamodb, ec2 = aws_client("dynamodb"), aws_client("ec2")
    first = start(moto_reset, "playbooks/infra.yml", "--tags", "aws_network", user="alice", message="network change")
    try:
        held = wait_for_lock(dynamodb, first)
        assert held["holder"]["S"] == "alice"
        rc, out = run(moto_reset, "playbooks/infra.yml", "--tags", "aws_network", user="bob")
        first_out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 0, first_out[-3000:]
    assert rc != 0
    # One line: who, since when, their message; and nothing past the lock ran.
    assert "deploy lock held by alice@" in out
    assert f"since {held['started']['S']}" in out and "network change" in out
    assert "TASK [aws_network" not in out
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["cloudsite"]}])["Vpcs"]
    assert len(vpcs) == 1
    # Released at the end; the audit holds the deploy (with its changes) and the refusal.
    assert lock_item(dynamodb) is None
    records = audit(dynamodb)
    assert [(r["event"], r["holder"], r["result"]) for r in records] == [
        ("run", "alice", "ok"),
        ("refused", "bob", "refused"),
    ] or [(r["event"], r["holder"], r["result"]) for r in records] == [
        ("refused", "bob", "refused"),
        ("run", "alice", "ok"),
    ]
    deploy = next(r for r in records if r["event"] == "run")
    assert deploy["changed"] > 0 and deploy["tags"] == ["aws_network"]
    assert deploy["playbook"] == "playbooks/infra.yml" and deploy["commit"]
    # A check run takes no lock and writes no record.
    rc, out = run(moto_reset, "playbooks/infra.yml", "--tags", "aws_network", "--check")
    assert rc == 0, out[-3000:]
    assert len(audit(dynamodb)) == 2


def test_killed_run_leaves_a_lock_that_unlock_breaks_or_that_expires(moto_reset, aws_client):
    dynamodb = aws_client("dynamodb")
    killed = start(moto_reset, "playbooks/infra.yml", "--tags", "aws_network", user="carol", message="killed")
    try:
        wait_for_lock(dynamodb, killed)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.communicate(timeout=60)
    assert lock_item(dynamodb) is not None, "SIGKILL cannot release: the lock must still be there"
    # The next run is refused while the killed run's lock lives (a tag that selects no stage task:
    # only the guard play and the lock run).
    rc, out = run(moto_reset, "playbooks/infra.yml", "--tags", "lock_only", user="dave")
    assert rc != 0 and "deploy lock held by carol@" in out
    rc, out = run(moto_reset, "playbooks/unlock.yml", "-e", json.dumps({"unlock_message": "carol's runner died"}))
    assert rc == 0, out[-3000:]
    assert lock_item(dynamodb) is None
    rc, out = run(moto_reset, "playbooks/infra.yml", "--tags", "lock_only", user="dave")
    assert rc == 0, out[-3000:]
    # A lock whose expiry has passed is taken over (with a warning naming the old holder).
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            **LOCK_KEY,
            "holder": {"S": "erin"},
            "host": {"S": "gone"},
            "message": {"S": ""},
            "run_id": {"S": "old"},
            "started": {"S": "2020-01-01T00:00:00Z"},
            "expires_at": {"N": str(int(time.time()) - 1)},
        },
    )
    rc, out = run(moto_reset, "playbooks/infra.yml", "--tags", "lock_only", user="dave")
    assert rc == 0, out[-3000:]
    assert "took over an expired lock: deploy lock held by erin@gone" in out.replace("\n", " ")
    assert lock_item(dynamodb) is None
    # make audit: newest first, every run and the unlock.
    rc, out = run(moto_reset, "playbooks/audit.yml")
    assert rc == 0, out[-3000:]
    events = [(r["event"], r["holder"], r["result"]) for r in audit(dynamodb)]
    assert events[-1] == ("refused", "dave", "refused")
    assert ("unlock", "tester", "broken") in events
    assert events.count(("run", "dave", "ok")) == 2
    unlock = next(r for r in audit(dynamodb) if r["event"] == "unlock")
    assert unlock["broken_lock"]["holder"] == "carol" and unlock["message"] == "carol's runner died"
    assert "deploy lock free" in out and "unlock  broken" in out
