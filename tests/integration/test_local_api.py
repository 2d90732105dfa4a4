"""local/local_api.py against a private moto server: the demo's counter and contact form end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from local import local_api
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1:8080"
SENDER = "site@example.com"
RECIPIENT = "owner@example.com"

pytestmark = pytest.mark.emulator

# Same parameter and output names as app/backend/template.yaml; only the table is a real resource.
STACK_TEMPLATE = {
    "Parameters": {name: {"Type": "String"} for name in ("Stage", "AllowedOrigin", "SenderEmail", "RecipientEmail")},
    "Resources": {
        "CounterTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": {"Fn::Sub": "${AWS::StackName}-visitors"},
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
        }
    },
    "Outputs": {"TableName": {"Value": {"Ref": "CounterTable"}}},
}


def request(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json", **(headers or {})} if data else dict(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers.items()), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, dict(exc.headers.items()), json.loads(raw) if raw else None


def ses_messages(moto_url: str) -> list[dict]:
    """The mail SES sent to RECIPIENT, from the emulator's constant-cost route (never the whole-state dump)."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/cloudsite/ses/sent", timeout=30) as resp:
        messages = json.load(resp)
    return [m for m in messages if m["to"] == [RECIPIENT]]


@pytest.fixture(scope="module")
def deployed(moto_url):
    """A stand-in 'prod' backend stack (unique project name, so no reset is needed) + verified SES identities."""
    import boto3

    project = f"lapi{uuid.uuid4().hex[:8]}"
    kw = {"endpoint_url": moto_url, "region_name": "us-east-1", "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    ses = boto3.client("ses", **kw)
    for address in (SENDER, RECIPIENT):
        ses.verify_email_identity(EmailAddress=address)
    params = {"Stage": "prod", "AllowedOrigin": ORIGIN, "SenderEmail": SENDER, "RecipientEmail": RECIPIENT}
    boto3.client("cloudformation", **kw).create_stack(
        StackName=f"{project}-backend-prod",
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    return project


@pytest.fixture(scope="module")
def api(moto_url, deployed, tmp_path_factory):
    """The local API as the demo runs it: a child process, configured through the environment."""
    port = free_port()
    env = dict(os.environ, LOCAL_AWS_PORT=moto_url.rsplit(":", 1)[1], LOCAL_API_PORT=str(port), PROJECT_NAME=deployed)
    env.pop("AWS_ENDPOINT_URL", None)
    log = tmp_path_factory.mktemp("local-api") / "local_api.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "local.local_api"], cwd=ROOT, env=env, stdout=fh, stderr=fh)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if request(f"{url}/healthz")[0] == 200:
                break
        except OSError:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"local API did not start: {log.read_text()}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_posts_count_each_visitor_once_and_get_does_not_change_it(api):
    status, headers, first = request(f"{api}/prod/count", "POST", headers={"User-Agent": "visitor-a", "Origin": ORIGIN})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    n = first["count"]
    assert n >= 1 and first["counted"] is True
    assert request(f"{api}/prod/count", "POST", headers={"User-Agent": "visitor-a"})[2] == {
        "count": n,
        "counted": False,
    }
    assert request(f"{api}/prod/count")[2] == {"count": n}
    assert request(f"{api}/prod/count", "POST", headers={"User-Agent": "visitor-b"})[2] == {
        "count": n + 1,
        "counted": True,
    }
    assert request(f"{api}/prod/count")[2] == {"count": n + 1}


def test_hundred_posts_from_one_source_count_once_two_sources_twice(api, deployed, moto_url):
    """Issue 13 point 2, through the local API with real DynamoDB writes in the emulator."""
    lapi = api_in_process(deployed, moto_url)
    before = json.loads(lapi.dispatch("GET", "/prod/count", {}, "")[2])["count"]
    for _ in range(100):
        lapi.dispatch("POST", "/prod/count", {"User-Agent": "curl/8"}, "", "198.51.100.20")
    assert json.loads(lapi.dispatch("GET", "/prod/count", {}, "")[2])["count"] == before + 1
    lapi.dispatch("POST", "/prod/count", {"User-Agent": "curl/8"}, "", "198.51.100.21")
    assert json.loads(lapi.dispatch("GET", "/prod/count", {}, "")[2])["count"] == before + 2


def test_contact_burst_is_throttled_and_cross_site_posts_send_nothing(api, deployed, moto_url):
    """Issue 13 point 1: the local API enforces what the handler enforces (cooldown, Content-Type,
    Origin); API Gateway's method throttle is checked on the template (test_backend_template)."""
    lapi = api_in_process(deployed, moto_url)
    before = len(ses_messages(moto_url))
    good = json.dumps({"name": "Ada", "email": "ada@example.org", "message": "burst", "website": ""})
    json_from_site = {"Content-Type": "application/json", "Origin": ORIGIN}
    statuses = [lapi.dispatch("POST", "/prod/contact", json_from_site, good, "198.51.100.30")[0] for _ in range(10)]
    assert statuses == [200] + [429] * 9
    plain = lapi.dispatch(
        "POST", "/prod/contact", {"Content-Type": "text/plain", "Origin": ORIGIN}, good, "198.51.100.31"
    )
    foreign = {"Content-Type": "application/json", "Origin": "https://evil.example"}
    assert plain[0] == 415
    assert lapi.dispatch("POST", "/prod/contact", foreign, good, "198.51.100.32")[0] == 403
    assert len(ses_messages(moto_url)) == before + 1


def api_in_process(project: str, moto_url: str) -> local_api.LocalApi:
    """The local API's dispatcher, in-process (so a test can choose the source address)."""
    import boto3

    kw = {"endpoint_url": moto_url, "region_name": "us-east-1", "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    clients = {name: boto3.client(name, **kw) for name in ("dynamodb", "ses", "cloudformation")}
    return local_api.LocalApi(
        local_api.StackSettings(clients["cloudformation"], project, local_api.Overrides()), clients
    )


def test_cors_preflight_is_the_functions_own(api):
    """The preflight goes to the function, as on API Gateway (OPTIONS events, aws_proxy)."""
    status, headers, _ = request(f"{api}/prod/contact", "OPTIONS", headers={"Origin": ORIGIN})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Vary"] == "Origin"
    assert "POST" in headers["Access-Control-Allow-Methods"].split(",")
    assert headers["Access-Control-Allow-Headers"] == "Content-Type"
    status, headers, _ = request(f"{api}/prod/count", "OPTIONS", headers={"Origin": "https://evil.example"})
    assert status == 204 and "Access-Control-Allow-Origin" not in headers


def test_contact_sends_exactly_one_message_for_good_input_and_none_for_bad(api, moto_url):
    before = len(ses_messages(moto_url))
    good = {"name": "Ada", "email": "ada@example.org", "message": "Hello from the local API", "website": ""}
    status, _, body = request(f"{api}/prod/contact", "POST", good, headers={"Origin": ORIGIN})
    assert (status, body) == (200, {"ok": True})
    messages = ses_messages(moto_url)
    assert len(messages) == before + 1
    assert messages[-1]["source"] == SENDER and "Hello from the local API" in messages[-1]["body"]
    for bad, field in (
        ({**good, "email": "not-an-email"}, "email"),
        ({k: v for k, v in good.items() if k != "name"}, "name"),
        ({**good, "message": "x" * 2001}, "message"),
        ({**good, "website": "http://spam.example"}, "website"),
    ):
        status, _, body = request(f"{api}/prod/contact", "POST", bad, headers={"Origin": ORIGIN})
        assert (status, body["field"]) == (400, field)
    assert len(ses_messages(moto_url)) == before + 1


def test_stage_without_a_stack_is_503_naming_it(api, deployed):
    status, _, body = request(f"{api}/test/count")
    assert status == 503
    assert f"{deployed}-backend-test" in body["error"]


def test_unknown_routes_and_methods(api):
    assert request(f"{api}/prod/nothing")[0] == 404
    assert request(f"{api}/count")[0] == 404
    status, headers, _ = request(f"{api}/prod/contact", headers={"Origin": ORIGIN})
    assert status == 405
    assert headers["Access-Control-Allow-Origin"] == ORIGIN


def test_cli_overrides_serve_a_stage_without_a_stack(moto_url, deployed):
    """--table/--sender/--recipient/--allowed-origin: no stack needed (in-process server, free port)."""
    overrides = local_api.Overrides(f"{deployed}-backend-prod-visitors", SENDER, RECIPIENT, "https://other.example")
    server = local_api.make_server(0, moto_url, project=deployed, overrides=overrides)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        status, headers, body = request(f"{url}/staging/count", headers={"Origin": "https://other.example"})
        assert status == 200 and isinstance(body["count"], int)
        assert headers["Access-Control-Allow-Origin"] == "https://other.example"
    finally:
        server.shutdown()
        server.server_close()


def test_envctl_up_starts_and_down_stops_the_local_api(tmp_path):
    """`envctl up` starts emulator + local API (own state dir and free ports); `down` stops both."""
    aws_port, api_port = free_port(), free_port()
    env = dict(os.environ, LOCAL_STATE_DIR=str(tmp_path), LOCAL_AWS_PORT=str(aws_port), LOCAL_API_PORT=str(api_port))

    def envctl(cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "local.envctl", cmd], cwd=ROOT, env=env, capture_output=True, text=True
        )

    up = envctl("up")
    try:
        assert up.returncode == 0, up.stderr
        assert f"local API started: http://127.0.0.1:{api_port}" in up.stdout
        assert request(f"http://127.0.0.1:{api_port}/healthz")[2]["ok"] is True
        # Nothing deployed in this fresh emulator: the stage answers 503 naming the stack.
        status, _, body = request(f"http://127.0.0.1:{api_port}/prod/count")
        assert status == 503 and "cloudsite-backend-prod" in body["error"]
        assert envctl("up").stdout.count("reused") == 2
        assert f"local API: http://127.0.0.1:{api_port} answering" in envctl("status").stdout
        assert (tmp_path / f"local_api-{api_port}.pid").exists()
    finally:
        down = envctl("down")
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / f"local_api-{api_port}.pid").exists()
    with pytest.raises(OSError):
        request(f"http://127.0.0.1:{api_port}/healthz")


def test_local_frontend_origins_are_admitted_other_origins_are_not():
    from local.local_api import is_local_frontend

    assert is_local_frontend("http://127.0.0.1:8081")
    assert is_local_frontend("http://172.17.0.2:8082")
    assert is_local_frontend("http://localhost:8000")
    assert not is_local_frontend("https://d111111abcdef8.cloudfront.net")
    assert not is_local_frontend("http://evil.example")
    assert not is_local_frontend("http://8.8.8.8")
    assert not is_local_frontend("")
