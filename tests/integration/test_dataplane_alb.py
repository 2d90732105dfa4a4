"""The local ALB (local/dataplane.py): traffic through HAProxy built from the emulator's ELBv2 state.

A private patched emulator runs with ``LOCAL_ALB_PORT`` set, so it starts its own HAProxy container.
The targets are one light container named after an EC2 instance id (as a stand-in is), serving two
slots on ports 8081 and 8082 (as the frontend's two containers do): each slot answers ``/`` with its
version and ``/healthz`` with the code written in its control file. Figures go to the test report.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.conftest import REGION, free_port, start_moto

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]
IMAGE = "cloudsite/dataplane16:bookworm"
INTERVAL = 5  # the smallest health check interval AWS accepts
SLOTS = (8081, 8082)

TARGET_SERVER = r"""
import http.server, os, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        slot = self.server.server_port
        read = lambda n: open(f"/srv/{slot}.{n}").read().strip()
        site = "/site" + self.path.split("?")[0]  # the built site, copied in by the browser test
        if os.path.isfile(site):
            body = open(site, "rb").read()
            ctype = {"html": "text/html", "js": "text/javascript", "css": "text/css", "json": "application/json"}
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", ctype.get(site.rsplit(".", 1)[-1], "application/octet-stream"))
            self.end_headers(); self.wfile.write(body); return
        if self.path == "/healthz":
            code, body = int(read("health")), b"ok"
        elif self.path.startswith("/slow"):
            time.sleep(3); code, body = 200, read("version").encode()
        else:
            code, body = 200, read("version").encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
servers = {}
for p in (8081, 8082):
    open(f"/srv/{p}.version", "w").write("v1"); open(f"/srv/{p}.health", "w").write("200")
while True:  # /srv/stopped: close the ports (a stopped container: connection refused); removed: reopen
    stopped = os.path.exists("/srv/stopped")
    for p in (8081, 8082):
        if stopped and p in servers:
            s = servers.pop(p); s.shutdown(); s.server_close()
        elif not stopped and p not in servers:
            servers[p] = http.server.ThreadingHTTPServer(("0.0.0.0", p), H)
            threading.Thread(target=servers[p].serve_forever, daemon=True).start()
    time.sleep(0.05)
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def alb_env(tmp_path_factory, docker_engine):
    """A private emulator with its local ALB, a VPC, one instance and its stand-in target container."""
    if not docker("images", "-q", IMAGE):
        from local import dataplane

        subprocess.run(["docker", "build", "-q", "-t", IMAGE, "-"], input=dataplane.DOCKERFILE, text=True, check=True)
    work = tmp_path_factory.mktemp("alb")
    port, alb_port, edge_port = free_port(), free_port(), free_port()
    env_keys = {
        "LOCAL_ALB_PORT": str(alb_port),
        "LOCAL_EDGE_PORT": str(edge_port),
        "LOCAL_DATAPLANE_DIR": str(work / "dp"),
    }
    proc = start_moto(port, log_path=work / "moto.log", dataplane=env_keys)
    url = f"http://127.0.0.1:{port}"

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.16.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.16.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    docker(
        "run", "-d", "--name", instance, "--label", f"cloudsite.endpoint={url}", IMAGE, "python3", "-c", TARGET_SERVER
    )
    lb = elb.create_load_balancer(Name="dp-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="dp-tg",
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        HealthCheckPath="/healthz",
        HealthCheckIntervalSeconds=INTERVAL,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "5"}]
    )
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": p} for p in SLOTS])
    env = {
        "url": url,
        "elb": elb,
        "tg": tg,
        "listener": listener,
        "instance": instance,
        "alb": f"http://127.0.0.1:{alb_port}",
        "edge": f"http://127.0.0.1:{edge_port}",
        "lb_dns": lb["DNSName"],
        "client": client,
        "work": work / "dp",
    }
    try:
        wait_states(env, {p: "healthy" for p in SLOTS}, timeout=6 * INTERVAL)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        subprocess.run(["docker", "rm", "-f", instance], capture_output=True)
        leftover = docker("ps", "-aq", "--filter", f"label=cloudsite.endpoint={url}")
        assert not leftover, "the emulator left its ALB container behind"


def states(env) -> dict[int, tuple[str, str]]:
    out = env["elb"].describe_target_health(TargetGroupArn=env["tg"])["TargetHealthDescriptions"]
    return {d["Target"]["Port"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason", "")) for d in out}


def state_of(env, slot: int) -> tuple[str, str]:
    d = env["elb"].describe_target_health(TargetGroupArn=env["tg"], Targets=[{"Id": env["instance"], "Port": slot}])
    h = d["TargetHealthDescriptions"][0]["TargetHealth"]
    return h["State"], h.get("Reason", "")


def wait_states(env, want: dict[int, str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if all(state_of(env, p)[0] == s for p, s in want.items()):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"targets did not reach {want} in {timeout} s: {states(env)}")


def control(env, slot: int, name: str, value: str) -> None:
    docker("exec", env["instance"], "sh", "-c", f"echo {value} > /srv/{slot}.{name}")


def stop_containers(env, stopped: bool) -> None:
    """Every frontend container stops (its ports refuse connections) or starts again."""
    docker("exec", env["instance"], "sh", "-c", "touch /srv/stopped" if stopped else "rm -f /srv/stopped")


class Prober:
    """GET the local ALB every 100 ms in the background; count answers by status and body."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = get(self.url, timeout=3)
            except OSError as exc:
                status, body = 0, str(exc)
            self.results.append((time.monotonic(), status, body))
            self._stop.wait(0.1)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def failures(self) -> list[tuple[float, int, str]]:
        return [r for r in self.results if r[1] != 200]


def test_alb_routes_to_both_slots_and_reports_measured_health(alb_env):
    bodies = {get(alb_env["alb"] + "/")[1] for _ in range(6)}
    assert bodies == {"v1"}
    assert states(alb_env) == {8081: ("healthy", ""), 8082: ("healthy", "")}
    assert (alb_env["work"] / "haproxy.cfg").read_text().count(f"server {alb_env['instance']}_") == 2


def test_roll_through_the_alb_drops_no_request_and_a_broken_version_gets_none(alb_env, record_property):
    elb, tg, instance = alb_env["elb"], alb_env["tg"], alb_env["instance"]
    out_of_rotation: dict[int, float] = {}
    slow: list[tuple[int, str]] = []
    drained_states: list[str] = []
    started = time.monotonic()
    with Prober(alb_env["alb"] + "/") as prober:
        for slot in SLOTS:
            # In-flight requests when the slot is deregistered must finish (deregistration delay).
            slow_threads = [
                threading.Thread(target=lambda: slow.append(get(alb_env["alb"] + "/slow"))) for _ in range(4)
            ]
            for t in slow_threads:
                t.start()
            time.sleep(0.8)
            t0 = time.monotonic()
            elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
            # Draining while its in-flight requests run (at most the delay); unused once they are done.
            drained_states.append(state_of(alb_env, slot)[0])
            wait_states(alb_env, {slot: "unused"}, timeout=10)
            control(alb_env, slot, "version", "v2")
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
            assert state_of(alb_env, slot) == ("initial", "Elb.RegistrationInProgress")
            wait_states(alb_env, {slot: "healthy"}, timeout=4 * INTERVAL)
            out_of_rotation[slot] = time.monotonic() - t0
            for t in slow_threads:
                t.join()
        # A broken version: its health check fails, it never gets a request, the roll rolls back.
        slot = SLOTS[0]
        elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
        wait_states(alb_env, {slot: "unused"}, timeout=10)
        control(alb_env, slot, "version", "broken")
        control(alb_env, slot, "health", "500")
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
        deadline = time.monotonic() + 4 * INTERVAL
        while state_of(alb_env, slot)[0] != "unhealthy" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state_of(alb_env, slot) == ("unhealthy", "Target.ResponseCodeMismatch")
        elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
        control(alb_env, slot, "version", "v2")
        control(alb_env, slot, "health", "200")
        wait_states(alb_env, {slot: "unused"}, timeout=10)
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance, "Port": slot}])
        wait_states(alb_env, {slot: "healthy"}, timeout=4 * INTERVAL)
    total = time.monotonic() - started
    bodies = {r[2] for r in prober.results}
    record_property("roll_requests", len(prober.results))
    record_property("roll_failures", len(prober.failures))
    record_property("roll_seconds", round(total, 1))
    for slot, seconds in out_of_rotation.items():
        record_property(f"out_of_rotation_{slot}_s", round(seconds, 1))
    print(
        f"\nroll: {len(prober.results)} requests, {len(prober.failures)} failed, {total:.1f} s, out {out_of_rotation}"
    )
    assert prober.failures == []
    assert len(prober.results) > 50
    assert "broken" not in bodies
    assert bodies <= {"v1", "v2"} and "v2" in bodies
    assert len(slow) == 8 and all(code == 200 for code, _ in slow), slow
    assert "draining" in drained_states and set(drained_states) <= {"draining", "unused"}, drained_states


def test_locked_origin_rule_and_fixed_403_default(alb_env):
    elb, listener, tg = alb_env["elb"], alb_env["listener"], alb_env["tg"]
    elb.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[
            {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["s3cr3t"]}}
        ],
        Actions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    elb.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/maint*"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "maintenance"},
            }
        ],
    )
    elb.modify_listener(
        ListenerArn=listener,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain", "MessageBody": "Forbidden"},
            }
        ],
    )
    try:
        deadline = time.monotonic() + 10
        while get(alb_env["alb"] + "/")[0] != 403 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert get(alb_env["alb"] + "/") == (403, "Forbidden")
        assert get(alb_env["alb"] + "/", {"X-Origin-Verify": "wrong"})[0] == 403
        assert get(alb_env["alb"] + "/", {"X-Origin-Verify": "s3cr3t"})[0] == 200
        assert get(alb_env["alb"] + "/maintenance", {"X-Origin-Verify": "s3cr3t"}) == (503, "maintenance")
    finally:
        for rule in elb.describe_rules(ListenerArn=listener)["Rules"]:
            if not rule["IsDefault"]:
                elb.delete_rule(RuleArn=rule["RuleArn"])
        elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])


def test_alb_work_dir_names_the_local_listener(alb_env):
    import json

    listeners = json.loads(Path(alb_env["work"] / "alb.json").read_text())["listeners"]
    assert listeners == [
        {
            "load_balancer": "dp-alb",
            "dns_name": alb_env["lb_dns"],
            "port": 80,
            "local_port": int(alb_env["alb"].rsplit(":", 1)[1]),
            "frontend": "lb_dp-alb_80",
        }
    ]


# ------------------------------------------------------------------------------------------------
# The local CloudFront edge (local/edge.py), in front of the same ALB.


@pytest.fixture(scope="module")
def edge_env(alb_env):
    """The project's distribution config (ALB primary, private S3 failover via OAC) over the local ALB."""
    from ansible_collections.cloudsite.aws.plugins.module_utils.cloudfront_config import build_distribution_config

    s3, cf = alb_env["client"]("s3"), alb_env["client"]("cloudfront")
    bucket = "dp-site"
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    for key, body in (("index.html", "s3 index v1"), ("a.css", "a v1"), ("b.css", "b v1"), ("img/x.svg", "x v1")):
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain")
    oac = cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": "dp-oac",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    config = build_distribution_config(
        comment="dp edge",
        alb_domain_name=alb_env["lb_dns"],
        s3_domain_name=f"{bucket}.s3.us-east-1.amazonaws.com",
        origin_access_control_id=oac,
    )
    dist = cf.create_distribution(DistributionConfig={**config, "CallerReference": "dp"})["Distribution"]["Id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if get(alb_env["edge"] + "/", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    return {**alb_env, "s3": s3, "cf": cf, "bucket": bucket, "dist": dist}


def test_edge_serves_the_alb_with_default_root_object_and_caches(edge_env):
    status, body = get(edge_env["edge"] + "/")
    assert status == 200 and body in {"v1", "v2"}  # through edge -> ALB -> target, not S3
    req = urllib.request.Request(edge_env["edge"] + "/cached-path")
    with urllib.request.urlopen(req, timeout=5) as first:
        assert first.headers["X-Cache"] in ("MISS", "EXPIRED")
    with urllib.request.urlopen(req, timeout=5) as second:
        assert second.headers["X-Cache"] == "HIT"
    assert get(edge_env["edge"] + "/anything")[0] == 200


def test_edge_fails_over_to_private_s3_when_every_target_is_down_and_comes_back(edge_env, record_property):
    paths = ["/index.html", "/a.css", "/img/x.svg"]
    failures, served_by_s3 = [], 0
    t_stop = time.monotonic()
    stop_containers(edge_env, True)
    try:
        # The containers stop a moment after the flag (under load, a second or more): until then a
        # request through the edge can still be answered, and cached, by them. Purge once they refuse.
        for _ in range(100):
            if get(edge_env["alb"] + "/img/x.svg")[0] != 200:
                break
            time.sleep(0.1)
        edge_env["cf"].create_invalidation(
            DistributionId=edge_env["dist"],
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "f0"},
        )
        first_s3 = None
        deadline = time.monotonic() + 6 * INTERVAL
        while time.monotonic() < deadline:
            for path in paths:
                status, body = get(edge_env["edge"] + path, timeout=10)
                if status != 200:
                    failures.append((path, status))
                elif " v1" in body:
                    served_by_s3 += 1
                    first_s3 = first_s3 or time.monotonic()
            if all(state_of(edge_env, s)[0] == "unhealthy" for s in SLOTS) and served_by_s3 >= 9:
                break
            time.sleep(0.1)
        assert all(state_of(edge_env, s) == ("unhealthy", "Target.FailedHealthChecks") for s in SLOTS)
        assert get(edge_env["edge"] + "/img/x.svg")[1] == "x v1"
    finally:
        stop_containers(edge_env, False)
    failover_s = (first_s3 or time.monotonic()) - t_stop
    wait_states(edge_env, {p: "healthy" for p in SLOTS}, timeout=6 * INTERVAL)
    back = time.monotonic() - t_stop
    edge_env["cf"].create_invalidation(
        DistributionId=edge_env["dist"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "f1"},
    )
    assert get(edge_env["edge"] + "/a.css")[1] in {"v1", "v2"}  # the ALB again
    record_property("failover_requests", served_by_s3 + len(failures))
    record_property("failover_failures", len(failures))
    record_property("failover_first_s3_s", round(failover_s, 1))
    record_property("failover_back_to_alb_s", round(back, 1))
    print(
        f"\nfailover: {served_by_s3} from S3, {len(failures)} failed, first S3 answer {failover_s:.1f} s, back {back:.1f} s"
    )
    assert failures == []
    assert served_by_s3 >= 9


def test_invalidation_purges_exactly_the_changed_paths(edge_env, record_property):
    s3, cf, bucket, dist = edge_env["s3"], edge_env["cf"], edge_env["bucket"], edge_env["dist"]
    stop_containers(edge_env, True)  # the edge serves the S3 copy, so a publish shows there
    try:
        deadline = time.monotonic() + 6 * INTERVAL
        while not all(state_of(edge_env, s)[0] == "unhealthy" for s in SLOTS) and time.monotonic() < deadline:
            time.sleep(0.3)
        cf.create_invalidation(
            DistributionId=dist, InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "i0"}
        )
        before = {p: get(edge_env["edge"] + p)[1] for p in ("/a.css", "/b.css", "/img/x.svg")}
        assert before == {"/a.css": "a v1", "/b.css": "b v1", "/img/x.svg": "x v1"}
        for key in ("a.css", "b.css", "img/x.svg"):
            s3.put_object(
                Bucket=bucket, Key=key, Body=key.split(".")[0][-1].encode() + b" v2", ContentType="text/plain"
            )
        assert get(edge_env["edge"] + "/a.css")[1] == "a v1"  # cached until the TTL (86400 s)
        inv = cf.create_invalidation(
            DistributionId=dist,
            InvalidationBatch={"Paths": {"Quantity": 2, "Items": ["/a.css", "/img/*"]}, "CallerReference": "i1"},
        )["Invalidation"]
        assert inv["Status"] == "Completed"
        after = {p: get(edge_env["edge"] + p)[1] for p in ("/a.css", "/b.css", "/img/x.svg")}
        assert after == {"/a.css": "a v2", "/b.css": "b v1", "/img/x.svg": "x v2"}
    finally:
        stop_containers(edge_env, False)
    record_property("invalidated_paths", 2)
    wait_states(edge_env, {p: "healthy" for p in SLOTS}, timeout=6 * INTERVAL)


def test_site_in_chromium_through_edge_alb_and_container(edge_env, tmp_path, record_property):
    """The built site on the target container: Chromium opens the edge URL; the visitor counter and
    the contact form work through edge -> ALB -> container (the page calls the local API)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    import json
    import sys

    from app import build_site
    from tests.conftest import ROOT
    from tests.integration.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}")
    client = edge_env["client"]
    table, sender, recipient = "dp-visitors", "noreply@example.com", "owner@example.com"
    client("dynamodb").create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for address in (sender, recipient):
        client("ses").verify_email_identity(EmailAddress=address)
    api_port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"apiBaseUrl": f"http://127.0.0.1:{api_port}/prod"}))
    build_site.build(ROOT / "app" / "site", tmp_path / "build", config=config)
    api = subprocess.Popen(
        [sys.executable, "-m", "local.local_api", "--port", str(api_port), "--endpoint", edge_env["url"],
         "--table", table, "--sender", sender, "--recipient", recipient, "--allowed-origin", edge_env["edge"]],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    docker("cp", str(tmp_path / "build"), f"{edge_env['instance']}:/site")
    edge_env["cf"].create_invalidation(
        DistributionId=edge_env["dist"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "b0"},
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        # The URL the data plane publishes for this distribution (edge.json: what `envctl urls` and the
        # demo's summary print as "Open ..."), not one the test composes.
        served = json.loads((edge_env["work"] / "edge.json").read_text())["distributions"]
        url = next(f"http://127.0.0.1:{d['local_port']}/" for d in served if d["distribution"] == edge_env["dist"])
        assert url == edge_env["edge"] + "/"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert b"visitor-count" in resp.read()  # index.html from the container, via the ALB
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.goto(url)

                def count() -> int:
                    page.wait_for_function(
                        "document.getElementById('visitor-count').dataset.state !== 'loading'", timeout=15000
                    )
                    assert page.locator("#visitor-count").get_attribute("data-state") == "ok"
                    return int(page.locator("#visitor-count").inner_text().replace(",", ""))

                first = count()
                assert first >= 1  # this visit counted
                page.evaluate("window.sessionStorage.clear()")
                page.reload()
                assert count() == first  # the same visitor again today: not counted twice (server-side)
                page.fill("#contact-name", "Edge Test")
                page.fill("#contact-email", "visitor@example.com")
                mark = f"Hello through the local edge {time.time_ns()}."
                page.fill("#contact-message", mark)
                page.click("#contact-submit")
                page.wait_for_function("document.getElementById('contact-status').dataset.kind === 'ok'", timeout=15000)
            finally:
                browser.close()
        with urllib.request.urlopen(edge_env["url"] + "/moto-api/cloudsite/ses/sent", timeout=10) as resp:
            sent = [m for m in json.load(resp) if mark in m.get("body", "")]
        assert [m["to"] for m in sent] == [[recipient]], sent  # really sent, once, to the owner
        record_property("edge_counter", first)
    finally:
        api.terminate()
        api.wait(timeout=10)
        docker("exec", edge_env["instance"], "rm", "-rf", "/site")
