"""Contact handler: 400 naming the field for each bad input, exactly one SES message for a good one,
nothing sent for cross-site or non-JSON posts, a cooldown per sender and a daily limit."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

ROOT = Path(__file__).resolve().parents[2]
SENDER = "site@example.com"
RECIPIENT = "owner@example.com"


def load_handler(name: str):
    """Import app/backend/src/<name>/app.py under a unique module name (both handlers are 'app')."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "app" / "backend" / "src" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


contact = load_handler("contact")
TABLE = "cloudsite-backend-test-visitors"
ORIGIN = "https://site.example"
CONFIG = contact.Config(sender=SENDER, recipient=RECIPIENT, allowed_origin=ORIGIN, stage="test", table_name=TABLE)
GOOD = {"name": "Ada Lovelace", "email": "ada@example.org", "message": "Hello, I liked your site.", "website": ""}


def event(body, method: str = "POST", source: str | None = None, headers: dict | None = None) -> dict:
    """A proxy event as the site's page sends it; each call without ``source`` comes from a new address."""
    return {
        "httpMethod": method,
        "path": "/contact",
        "headers": {"Content-Type": "application/json", "Origin": ORIGIN} if headers is None else headers,
        "requestContext": {"identity": {"sourceIp": source or f"203.0.113.{uuid.uuid4().hex}"}},
        "body": body if isinstance(body, str) else json.dumps(body),
    }


def sent_messages() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


@pytest.fixture
def ses(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("ses", region_name="us-east-1")
        client.verify_email_identity(EmailAddress=SENDER)
        client.verify_email_identity(EmailAddress=RECIPIENT)
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        yield client


@pytest.fixture
def ddb(ses):
    return boto3.client("dynamodb", region_name="us-east-1")


def post(client, body, config=CONFIG, **kw) -> tuple[int, dict, dict]:
    resp = contact.handle(event(body, **kw), config, client, boto3.client("dynamodb", region_name="us-east-1"))
    return resp["statusCode"], json.loads(resp["body"]), resp["headers"]


BAD_INPUTS = {
    "missing name": ({k: v for k, v in GOOD.items() if k != "name"}, "name"),
    "blank name": ({**GOOD, "name": "   "}, "name"),
    "missing email": ({k: v for k, v in GOOD.items() if k != "email"}, "email"),
    "missing message": ({k: v for k, v in GOOD.items() if k != "message"}, "message"),
    "email without @": ({**GOOD, "email": "ada.example.org"}, "email"),
    "email without domain dot": ({**GOOD, "email": "ada@localhost"}, "email"),
    "email with space": ({**GOOD, "email": "ada @example.org"}, "email"),
    "email with header injection": ({**GOOD, "email": "ada@example.org\r\nBcc: x@evil.example"}, "email"),
    "email over 254 chars": ({**GOOD, "email": "a" * 60 + "@" + "b" * 190 + ".example.org"}, "email"),
    "over-long message": ({**GOOD, "message": "x" * (contact.MESSAGE_MAX + 1)}, "message"),
    "over-long name": ({**GOOD, "name": "n" * (contact.NAME_MAX + 1)}, "name"),
    "name with newline": ({**GOOD, "name": "Ada\r\nBcc: x@evil.example"}, "name"),
    "honeypot filled": ({**GOOD, "website": "http://spam.example"}, "website"),
    "name not a string": ({**GOOD, "name": ["Ada"]}, "name"),
    "body not JSON": ("name=Ada&email=ada@example.org", "body"),
    "body a JSON list": ([GOOD], "body"),
}


@pytest.mark.parametrize("body,field", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_400_naming_the_field_and_sends_nothing(ses, body, field):
    status, payload, _ = post(ses, body)
    assert status == 400
    assert payload["field"] == field
    assert payload["error"]
    assert sent_messages() == []


def test_message_at_the_length_limit_is_accepted(ses):
    status, _, _ = post(ses, {**GOOD, "message": "y" * contact.MESSAGE_MAX})
    assert status == 200
    assert len(sent_messages()) == 1


def test_good_input_sends_exactly_one_message(ses):
    status, payload, _ = post(ses, GOOD)
    assert (status, payload) == (200, {"ok": True})
    messages = sent_messages()
    assert len(messages) == 1
    msg = messages[0]
    assert msg.source == SENDER
    assert msg.destinations["ToAddresses"] == [RECIPIENT]
    assert "Ada Lovelace" in msg.body and "ada@example.org" in msg.body and "liked your site" in msg.body
    assert ses.get_send_quota()["SentLast24Hours"] == 1


def test_visitor_input_never_reaches_email_or_response_headers(ses):
    sneaky = {**GOOD, "name": "Eve Example", "message": "Subject: hi\nBcc: x@evil.example\n\nbody"}
    status, _, headers = post(ses, sneaky)
    assert status == 200
    args = contact.compose(contact.validate(sneaky), CONFIG)
    assert args["Message"]["Subject"]["Data"] == "Contact form message (test)"
    assert args["Source"] == SENDER and args["Destination"] == {"ToAddresses": [RECIPIENT]}
    assert "ReplyToAddresses" not in args
    flat = json.dumps(headers)
    assert "Eve" not in flat and "evil" not in flat
    assert headers["Access-Control-Allow-Origin"] == "https://site.example"


SITE_NAMES = ("https://example.com", "https://www.example.com", "https://d111abcdef8.cloudfront.net")


@pytest.mark.parametrize("origin", SITE_NAMES)
def test_every_site_name_can_send_and_gets_its_own_origin_back(ses, origin):
    """Issue 12 point 2: the contact form works on apex, www and the distribution domain."""
    cfg = contact.Config(sender=SENDER, recipient=RECIPIENT, allowed_origin=",".join(SITE_NAMES), table_name=TABLE)
    pre = contact.handle(event(GOOD, method="OPTIONS", headers={"Origin": origin}), cfg, ses, None)
    assert pre["statusCode"] == 204
    assert pre["headers"]["Access-Control-Allow-Origin"] == origin and pre["headers"]["Vary"] == "Origin"
    assert "POST" in pre["headers"]["Access-Control-Allow-Methods"].split(",")
    status, _, headers = post(ses, GOOD, cfg, headers={"Content-Type": "application/json", "Origin": origin})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
    assert len(sent_messages()) == 1


def test_a_foreign_origin_is_refused_and_gets_no_cors_headers(ses):
    cfg = contact.Config(sender=SENDER, recipient=RECIPIENT, allowed_origin=",".join(SITE_NAMES), table_name=TABLE)
    evil = {"Content-Type": "application/json", "Origin": "https://evil.example"}
    pre = contact.handle(event(GOOD, method="OPTIONS", headers=evil), cfg, ses, None)
    assert not any(k.startswith("Access-Control-") for k in pre["headers"])
    status, _, headers = post(ses, GOOD, cfg, headers=evil)
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert sent_messages() == []


def test_other_methods_are_405(ses):
    resp = contact.handle(event(GOOD, method="GET"), CONFIG, ses, None)
    assert resp["statusCode"] == 405
    assert sent_messages() == []


def test_unverified_sender_is_502_and_nothing_is_sent(ses):
    cfg = contact.Config(sender="nobody@unverified.example", recipient=RECIPIENT, allowed_origin="*", table_name=TABLE)
    status, _, _ = post(ses, GOOD, cfg)
    assert status == 502
    assert sent_messages() == []


def test_handler_reads_its_configuration_from_the_environment(ses, monkeypatch):
    monkeypatch.setenv("SENDER", SENDER)
    monkeypatch.setenv("RECIPIENT", RECIPIENT)
    monkeypatch.setenv("ALLOWED_ORIGIN", "https://env.example")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    contact._client.cache_clear()
    try:
        resp = contact.handler(
            event(GOOD, headers={"content-type": "application/json", "origin": "https://env.example"}), None
        )
    finally:
        contact._client.cache_clear()
    assert resp["statusCode"] == 200
    assert resp["headers"]["Access-Control-Allow-Origin"] == "https://env.example"
    assert len(sent_messages()) == 1


def test_config_names_what_is_missing():
    with pytest.raises(RuntimeError, match="SENDER, RECIPIENT, TABLE_NAME"):
        contact.config_from_env({})


def test_deeply_nested_body_is_400_not_a_crash(ses):
    """Issue 13 point 3: 10 KB of '[' (under the 16 KiB limit) raised RecursionError (API Gateway: 502)."""
    status, payload, headers = post(ses, "[" * 10 * 1024)
    assert status == 400 and payload["field"] == "body" and payload["error"]
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert sent_messages() == []


REFUSED = {
    "text/plain (no CORS preflight)": ({"Content-Type": "text/plain", "Origin": ORIGIN}, 415, "content-type"),
    "form post": ({"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}, 415, "content-type"),
    "no content type": ({"Origin": ORIGIN}, 415, "content-type"),
    "foreign origin": ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403, "origin"),
    "no origin": ({"Content-Type": "application/json"}, 403, "origin"),
}


@pytest.mark.parametrize("headers,status,field", REFUSED.values(), ids=REFUSED.keys())
def test_non_json_or_foreign_origin_posts_are_refused_and_send_nothing(ses, headers, status, field):
    """Issue 13 point 1: a third-party page's text/plain post, or any foreign origin, sends no mail."""
    got, payload, _ = post(ses, GOOD, headers=headers)
    assert (got, payload["field"]) == (status, field)
    assert sent_messages() == []


def test_json_with_charset_from_the_site_is_accepted(ses):
    status, _, _ = post(ses, GOOD, headers={"content-type": "application/json; charset=utf-8", "origin": ORIGIN})
    assert status == 200 and len(sent_messages()) == 1


def test_a_burst_from_one_sender_sends_one_message_then_429(ses, ddb):
    """Issue 13 point 1: the per-sender cooldown, kept in DynamoDB as a salted hash with a TTL."""
    results = [post(ses, GOOD, source="198.51.100.7") for _ in range(5)]
    assert [r[0] for r in results] == [200, 429, 429, 429, 429]
    assert results[1][2]["Retry-After"] == str(CONFIG.cooldown_seconds)
    assert len(sent_messages()) == 1
    assert post(ses, GOOD, source="198.51.100.8")[0] == 200
    items = ddb.scan(TableName=TABLE)["Items"]
    assert "198.51.100" not in json.dumps(items)
    cooldowns = [i for i in items if i["id"]["S"].startswith("contact#")]
    assert len(cooldowns) == 2 and all("expires" in i for i in cooldowns)


def test_an_expired_cooldown_no_longer_blocks(ses, ddb):
    """TTL deletion lags: an expired item still in the table must not block the sender."""
    guard = contact.Guard(ddb, CONFIG, now=1_700_000_000)
    assert guard.start_cooldown("198.51.100.7") is True
    assert (
        contact.Guard(ddb, CONFIG, now=1_700_000_000 + CONFIG.cooldown_seconds - 1).start_cooldown("198.51.100.7")
        is False
    )
    assert (
        contact.Guard(ddb, CONFIG, now=1_700_000_000 + CONFIG.cooldown_seconds + 1).start_cooldown("198.51.100.7")
        is True
    )


def test_the_daily_limit_caps_the_mail_sent(ses):
    cfg = contact.Config(sender=SENDER, recipient=RECIPIENT, allowed_origin=ORIGIN, table_name=TABLE, daily_limit=3)
    statuses = [post(ses, GOOD, cfg)[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert len(sent_messages()) == 3
