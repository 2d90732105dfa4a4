"""playbooks/smoke.yml against the private patched emulator and local stand-ins for the live parts.

The site is the real build (``app/build_site.py``) served by a stdlib HTTP server, its config.json
naming a local API (``local/local_api.py``) on the emulator's table; the target group and its
targets are made with boto3 the way the alb and frontend roles make them. Each failure mode the smoke
test exists for is provoked once and must fail the run with a message naming it.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from app import build_site
from tests.conftest import RECAP, ROOT, ansible_env, free_port

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PLAYBOOK = ROOT / "playbooks" / "smoke.yml"
INVENTORY = ROOT / "inventories" / "local" / "hosts.yml"
TABLE = "cloudsite-smoke-visitors"
TARGET_GROUP = "cloudsite-frontend"  # web_target_group_name


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def live(moto_reset, aws_client, tmp_path):
    """A served build, its API and a target group with two healthy targets."""
    aws_client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # The backend stage verifies both addresses (the recipient because moto's account is in the SES sandbox).
    for address in ("noreply@example.com", "owner@example.com"):
        aws_client("ses").verify_email_identity(EmailAddress=address)
    ec2, elbv2 = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]
    tg = elbv2.create_target_group(Name=TARGET_GROUP, Protocol="HTTP", Port=8081, VpcId=vpc, TargetType="instance")
    tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": instance, "Port": p} for p in (8081, 8082)])

    site_port, api_port = free_port(), free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"apiBaseUrl": f"http://127.0.0.1:{api_port}/prod"}))
    out = tmp_path / "build"
    build = build_site.build(ROOT / "app" / "site", out, config=config)
    api = subprocess.Popen(
        [
            *(sys.executable, "-m", "local.local_api", "--port", str(api_port), "--endpoint", moto_reset),
            *("--table", TABLE, "--sender", "noreply@example.com", "--recipient", "owner@example.com"),
            *("--allowed-origin", f"http://127.0.0.1:{site_port}"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = ThreadingHTTPServer(("127.0.0.1", site_port), functools.partial(QuietHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=0.5).close()
                break
            except OSError:
                assert api.poll() is None, "the local API exited"
                time.sleep(0.1)
        yield {
            "url": f"http://127.0.0.1:{site_port}/",
            "hash": build.hash,
            "out": out,
            "tg_arn": tg_arn,
            "instance": instance,
            "count_url": f"http://127.0.0.1:{api_port}/prod/count",
        }
    finally:
        server.shutdown()
        server.server_close()
        api.terminate()
        api.wait(timeout=10)


def smoke(moto_url: str, live: dict, *args: str) -> subprocess.CompletedProcess:
    cmd = ["ansible-playbook", "-i", str(INVENTORY), str(PLAYBOOK), "-e", f"smoke_site_url={live['url']}"]
    cmd += ["-e", f"smoke_expected_hash={live['hash']}", "-e", "smoke_retries=1", "-e", "smoke_delay=0", *args]
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(moto_url), capture_output=True, text=True, timeout=300)


def sent_mail(moto_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{moto_url}/moto-api/cloudsite/ses/sent", timeout=30) as resp:
        return json.load(resp)


def current_count(live: dict, query: str = "") -> int:
    with urllib.request.urlopen(live["count_url"] + query, timeout=5) as resp:
        return json.load(resp)["count"]


def test_smoke_passes_on_a_healthy_site(moto_url, live):
    before = current_count(live)
    proc = smoke(moto_url, live)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    match = RECAP.search(proc.stdout)
    assert match and match.group(4) == "0"
    # Issue 13 point 2: the production count is untouched; the smoke counter counted this controller once.
    assert current_count(live) == before
    assert current_count(live, "?counter=smoke") == 1
    # Issue 12 point 5: one real contact message, found in the emulator's sent mail.
    assert "contact form delivered: 1 smoke message(s) to owner@example.com" in proc.stdout, proc.stdout[-6000:]
    mails = sent_mail(moto_url)
    assert [m["to"] for m in mails] == [["owner@example.com"]] and "cloudsite smoke test " in mails[0]["body"]
    # Again within the sender cooldown (429): the earlier message is found, nothing more is sent.
    proc = smoke(moto_url, live)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert len(sent_mail(moto_url)) == 1
    assert (current_count(live), current_count(live, "?counter=smoke")) == (before, 1)


def test_smoke_says_the_contact_form_cannot_deliver_yet(moto_url, live, aws_client):
    # A real account before the recipient clicked SES's link: in the sandbox it may not receive mail.
    aws_client("ses").delete_identity(Identity="owner@example.com")
    proc = smoke(moto_url, live, "-e", "smoke_contact_must_deliver=true")
    assert proc.returncode != 0
    assert "contact form cannot deliver yet: verify the recipient owner@example.com" in proc.stdout, proc.stdout[-4000:]
    assert sent_mail(moto_url) == []


def test_smoke_fails_on_another_build(moto_url, live):
    (live["out"] / "version.json").write_text(json.dumps({"built": "x", "hash": "0" * 64}))
    proc = smoke(moto_url, live)
    assert proc.returncode != 0
    assert f"the current build is {live['hash']}" in proc.stdout
    assert "0" * 64 in proc.stdout


def test_smoke_fails_when_the_contact_api_accepts_a_bad_payload(moto_url, live):
    # A payload the API accepts (a valid email) stands for an API that stopped validating.
    good = {"name": "x", "email": "a@example.com", "message": "hi", "website": ""}
    proc = smoke(moto_url, live, "-e", json.dumps({"smoke_contact_bad_payload": good}))
    assert proc.returncode != 0
    assert "expected 400 naming field 'email'" in proc.stdout


def test_smoke_fails_when_a_target_is_not_healthy(moto_url, live, aws_client):
    elbv2 = aws_client("elbv2")
    # A stopped instance's targets read back as `unused` (Target.InvalidState), on AWS and the emulator.
    aws_client("ec2").stop_instances(InstanceIds=[live["instance"]])
    health = elbv2.describe_target_health(TargetGroupArn=live["tg_arn"])["TargetHealthDescriptions"]
    assert {d["TargetHealth"]["State"] for d in health} != {"healthy"}, health
    proc = smoke(moto_url, live)
    assert proc.returncode != 0
    assert f"Target group {TARGET_GROUP} needs at least one target and all healthy" in proc.stdout


def test_smoke_fails_without_targets(moto_url, live, aws_client):
    vpc = aws_client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.43.0.0/16"]}])["Vpcs"][0]["VpcId"]
    aws_client("elbv2").create_target_group(Name="cloudsite-empty", Protocol="HTTP", Port=8081, VpcId=vpc)
    proc = smoke(moto_url, live, "-e", "smoke_target_group_name=cloudsite-empty")
    assert proc.returncode != 0
    assert "Target group cloudsite-empty needs at least one target and all healthy; it has []" in proc.stdout


def test_local_smoke_checks_the_site_through_the_local_edge(tmp_path):
    """Issue 16: with the data plane on, the local inventory's smoke URL is the edge the demo prints
    (edge -> ALB -> containers, as CloudFront on AWS), read from the edge's own edge.json; with it off
    (no edge.json), the containers (none in this inventory without stand-ins)."""
    port = free_port()
    work = tmp_path / f"dataplane-{port}"
    work.mkdir()
    served = {"distribution": "E16", "domain": "d16.cloudfront.net", "local_port": 8169}
    (work / "edge.json").write_text(json.dumps({"distributions": [served]}))

    def resolved(aws_port: int) -> list[str]:
        env = ansible_env(f"http://127.0.0.1:{aws_port}") | {"LOCAL_STATE_DIR": str(tmp_path)}
        cmd = ["ansible", "-i", str(INVENTORY), "localhost", "-m", "ansible.builtin.debug"]
        cmd += ["-a", "var=smoke_site_urls_default"]
        proc = subprocess.run(cmd, cwd=ROOT / "playbooks", env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return yaml.safe_load(proc.stdout.split("=>", 1)[1])["smoke_site_urls_default"]

    assert resolved(port) == ["http://127.0.0.1:8169/"]
    assert resolved(free_port()) == []
