"""Visitor counter handler: one atomic ADD per visitor and day, GET reads only, no update lost under concurrency."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
TABLE = "cloudsite-backend-test-visitors"


def load_handler(name: str):
    """Import app/backend/src/<name>/app.py under a unique module name (both handlers are 'app')."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "app" / "backend" / "src" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


counter = load_handler("counter")
CONFIG = counter.Config(table_name=TABLE, allowed_origin="https://site.example")


def create_table(client, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )


def visit(method: str, source: str | None = None, agent: str = "Mozilla/5.0", query: dict | None = None) -> dict:
    """A proxy event; each call without ``source`` comes from a new address (a new visitor)."""
    return {
        "httpMethod": method,
        "path": "/count",
        "headers": {"User-Agent": agent},
        "queryStringParameters": query,
        "requestContext": {
            "identity": {"sourceIp": source or f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex}"}
        },
    }


def call(client, method: str, config=CONFIG, **kw) -> tuple[int, dict]:
    resp = counter.handle(visit(method, **kw), config, client)
    body = json.loads(resp["body"])
    body.pop("counted", None)
    return resp["statusCode"], body


@pytest.fixture
def ddb(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield client


def test_get_before_any_visit_is_zero(ddb):
    assert call(ddb, "GET") == (200, {"count": 0})


def test_post_increments_by_exactly_one_per_new_visitor(ddb):
    assert [call(ddb, "POST")[1]["count"] for _ in range(5)] == [1, 2, 3, 4, 5]
    item = ddb.get_item(TableName=TABLE, Key={"id": {"S": "visitors"}})["Item"]
    assert item["count"] == {"N": "5"}


def test_get_does_not_change_the_count(ddb):
    call(ddb, "POST")
    call(ddb, "POST")
    assert [call(ddb, "GET")[1]["count"] for _ in range(3)] == [2, 2, 2]
    assert call(ddb, "POST")[1]["count"] == 3


def test_other_methods_are_rejected_without_touching_the_table(ddb):
    status, body = call(ddb, "DELETE")
    assert status == 405 and "error" in body
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "visitors"}})


def test_missing_table_is_503_not_a_crash(ddb):
    cfg = counter.Config(table_name="no-such-table", allowed_origin="https://site.example")
    resp = counter.handle(visit("POST"), cfg, ddb)
    assert resp["statusCode"] == 503


def test_response_headers_carry_no_origin_for_a_foreign_one(ddb):
    event = {"httpMethod": "GET", "headers": {"Origin": "https://evil.example"}}
    headers = counter.handle(event, CONFIG, ddb)["headers"]
    assert "Access-Control-Allow-Origin" not in headers
    assert headers["Vary"] == "Origin"
    assert headers["Content-Type"] == "application/json"
    assert "evil" not in json.dumps(headers)


SITE_NAMES = ("https://example.com", "https://www.example.com", "https://d111abcdef8.cloudfront.net")


@pytest.mark.parametrize("origin", SITE_NAMES)
def test_every_site_name_gets_its_own_origin_back_on_responses_and_preflight(ddb, origin):
    """Issue 12 point 2: apex, www and the distribution domain each get their own Origin echoed."""
    cfg = counter.Config(table_name=TABLE, allowed_origin=",".join(SITE_NAMES))
    get = counter.handle({**visit("GET"), "headers": {"Origin": origin}}, cfg, ddb)
    assert get["statusCode"] == 200
    assert get["headers"]["Access-Control-Allow-Origin"] == origin and get["headers"]["Vary"] == "Origin"
    pre = counter.handle({**visit("OPTIONS"), "headers": {"origin": origin}}, cfg, ddb)
    assert pre["statusCode"] == 204 and pre["body"] == ""
    assert pre["headers"]["Access-Control-Allow-Origin"] == origin
    assert set(pre["headers"]["Access-Control-Allow-Methods"].split(",")) == {"GET", "POST", "OPTIONS"}
    assert pre["headers"]["Access-Control-Allow-Headers"] == "Content-Type"


def test_preflight_from_a_foreign_origin_gets_no_cors_headers(ddb):
    cfg = counter.Config(table_name=TABLE, allowed_origin=",".join(SITE_NAMES))
    for origin in ("https://evil.example", "https://example.com.evil.example", ""):
        pre = counter.handle({**visit("OPTIONS"), "headers": {"Origin": origin}}, cfg, ddb)
        assert pre["statusCode"] == 204
        assert not any(k.startswith("Access-Control-") for k in pre["headers"])
        assert pre["headers"]["Vary"] == "Origin"


def test_handler_reads_its_configuration_from_the_environment(ddb, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("ALLOWED_ORIGIN", "https://env.example")
    counter._client.cache_clear()
    try:
        resp = counter.handler({**visit("POST"), "headers": {"Origin": "https://env.example"}}, None)
    finally:
        counter._client.cache_clear()
    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"count": 1, "counted": True}
    assert resp["headers"]["Access-Control-Allow-Origin"] == "https://env.example"


def test_config_requires_a_table_name():
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        counter.config_from_env({})


def test_post_is_a_single_atomic_update_item_with_add():
    """No read-modify-write: after the visit claim, exactly one UpdateItem call with an ADD expression."""
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": {"id": {"S": "salt#x"}, "salt": {"S": "00" * 32}}})
        stub.add_response("put_item", {})
        stub.add_response(
            "update_item",
            {"Attributes": {"count": {"N": "42"}}},
            {
                "TableName": TABLE,
                "Key": {"id": {"S": "visitors"}},
                "UpdateExpression": "ADD #c :one",
                "ExpressionAttributeNames": {"#c": "count"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "UPDATED_NEW",
            },
        )
        assert call(client, "POST") == (200, {"count": 42})
        stub.assert_no_pending_responses()


@pytest.mark.emulator
def test_twenty_concurrent_posts_lose_no_update(aws_client, moto_url):
    """Real concurrency: 20 threads against the moto server, each with its own client."""
    # A table of its own: the session's emulator is shared with other tests (e.g. a deployed test stack).
    config = counter.Config(table_name=f"concurrency-{uuid.uuid4().hex[:8]}", allowed_origin="https://site.example")
    admin = aws_client("dynamodb")
    create_table(admin, config.table_name)
    clients = [aws_client("dynamodb") for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda c: call(c, "POST", config), clients))
    assert all(status == 200 for status, _ in results)
    counts = sorted(body["count"] for _, body in results)
    # Every call saw a distinct new value, and the stored total is exactly the number of calls.
    assert counts == list(range(1, 21))
    assert call(admin, "GET", config) == (200, {"count": 20})
    admin.delete_table(TableName=config.table_name)


def test_emulator_patch_serialises_item_writes(ddb):
    """local/moto_patches/dynamodb.py: while its lock is held, an increment cannot run (then it does, once)."""
    import threading

    from local.moto_patches import dynamodb as patch

    patch.apply()
    patch.apply()  # idempotent: wrapping twice would still work, but must not stack
    assert not getattr(patch.DynamoDBBackend.update_item.__wrapped__, "__cloudsite_serialised__", False)
    results: list = []
    worker = threading.Thread(target=lambda: results.append(call(ddb, "POST")))
    with patch.LOCK:
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive(), "the increment ran while the emulator's item lock was held"
        assert results == []
    worker.join(timeout=30)
    assert results == [(200, {"count": 1})]


def test_hundred_posts_from_one_source_count_once_and_two_sources_twice(ddb):
    """Issue 13 point 2: dedupe per visitor (source + user agent) and UTC day, in DynamoDB."""
    first = [counter.handle(visit("POST", source="198.51.100.7"), CONFIG, ddb) for _ in range(100)]
    bodies = [json.loads(r["body"]) for r in first]
    assert bodies[0] == {"count": 1, "counted": True}
    assert all(b == {"count": 1, "counted": False} for b in bodies[1:])
    assert json.loads(counter.handle(visit("POST", source="198.51.100.8"), CONFIG, ddb)["body"])["count"] == 2
    assert call(ddb, "GET") == (200, {"count": 2})


def test_visits_are_stored_as_expiring_salted_hashes_never_the_address(ddb):
    counter.handle(visit("POST", source="198.51.100.7", agent="curl/8"), CONFIG, ddb)
    items = ddb.scan(TableName=TABLE)["Items"]
    (claim,) = [i for i in items if i["id"]["S"].startswith("visit#")]
    assert "198.51.100.7" not in json.dumps(items) and "curl" not in json.dumps(items)
    assert int(claim["expires"]["N"]) > 0
    (salt,) = [i for i in items if i["id"]["S"].startswith("salt#")]
    assert len(bytes.fromhex(salt["salt"]["S"])) == 32 and "expires" in salt


def test_the_smoke_counter_leaves_the_visitor_count_untouched(ddb):
    call(ddb, "POST")
    smoke = [
        json.loads(counter.handle(visit("POST", query={"counter": "smoke"}), CONFIG, ddb)["body"]) for _ in range(2)
    ]
    assert [b["count"] for b in smoke] == [1, 2]
    assert call(ddb, "GET") == (200, {"count": 1})
    assert call(ddb, "GET", query={"counter": "smoke"}) == (200, {"count": 2})
    status, body = call(ddb, "POST", query={"counter": "other"})
    assert (status, body["field"]) == (400, "counter")
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "other"}})
