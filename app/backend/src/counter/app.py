"""Visitor counter Lambda (API Gateway proxy integration).

API (paths relative to the stage URL):

* ``GET /count``  -> 200 ``{"count": n}``: reads the count, never changes it (0 before the first visit).
* ``POST /count`` -> 200 ``{"count": n, "counted": bool}``: counts a visitor once per UTC day. The
  visitor is a salted hash of source address and user agent (never the raw address), claimed with a
  conditional ``PutItem`` (item ``visit#<day>#<hash>``, TTL); only a first claim increments, by exactly
  1 with one ``UpdateItem`` ``ADD`` (atomic, no read-modify-write). The salt is random per day
  (item ``salt#<day>``, TTL two days), shared with the contact function.
* ``?counter=smoke`` selects the smoke test's own counter (``SMOKE_COUNTER_ID``) for both methods, so a
  deploy's smoke test never touches the visitor count; no other id is accepted.
* anything else   -> 405 ``{"error": ...}``; a DynamoDB failure -> 503.

Configuration (environment): ``TABLE_NAME`` (required), ``ALLOWED_ORIGIN`` (CORS origin, default
``*`` only when unset), ``COUNTER_ID`` (item key, default ``visitors``), ``SMOKE_COUNTER_ID`` (default
``smoke``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


@dataclass(frozen=True)
class Config:
    table_name: str
    allowed_origin: str = "*"
    counter_id: str = "visitors"
    smoke_counter_id: str = "smoke"


CORS_METHODS = "GET,POST,OPTIONS"
CORS_HEADERS = "Content-Type"
CORS_MAX_AGE = "600"


def allowed_origins(setting: str) -> tuple[str, ...]:
    """The comma-separated ``ALLOWED_ORIGIN`` setting as a tuple (``("*",)`` admits any origin)."""
    return tuple(o.strip() for o in setting.split(",") if o.strip())


def cors_origin(event: Mapping[str, Any], config: Config) -> str:
    """The value of Access-Control-Allow-Origin: the request's own Origin when it is on the list, else ''."""
    origins = allowed_origins(config.allowed_origin)
    if "*" in origins:
        return "*"
    origin = next((str(v or "") for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), "")
    return origin if origin in origins else ""


def preflight(event: Mapping[str, Any], config: Config) -> dict[str, Any]:
    """The answer to an OPTIONS preflight: CORS headers only for an allowed Origin (Vary: Origin always)."""
    origin = cors_origin(event, config)
    headers = {"Vary": "Origin", "Cache-Control": "no-store"}
    if origin:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": CORS_HEADERS,
                "Access-Control-Max-Age": CORS_MAX_AGE,
            }
        )
    return {"statusCode": 204, "headers": headers, "body": ""}


VISIT_TTL = 2 * 86400
SALT_TTL = 2 * 86400


def config_from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    table = env.get("TABLE_NAME", "")
    if not table:
        raise RuntimeError("TABLE_NAME is not set")
    return Config(
        table_name=table,
        allowed_origin=env.get("ALLOWED_ORIGIN") or "*",
        counter_id=env.get("COUNTER_ID") or "visitors",
        smoke_counter_id=env.get("SMOKE_COUNTER_ID") or "smoke",
    )


def increment(client: Any, table_name: str, counter_id: str) -> int:
    """Add 1 atomically and return the new count."""
    resp = client.update_item(
        TableName=table_name,
        Key={"id": {"S": counter_id}},
        UpdateExpression="ADD #c :one",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(resp["Attributes"]["count"]["N"])


def daily_salt(client: Any, table_name: str, day: str, now: int) -> bytes:
    """The random salt of ``day`` (created by the first caller of the day; the same item as the contact form's)."""
    key = {"id": {"S": f"salt#{day}"}}
    item = client.get_item(TableName=table_name, Key=key, ConsistentRead=True).get("Item")
    if item:
        return bytes.fromhex(item["salt"]["S"])
    salt = secrets.token_hex(32)
    try:
        client.put_item(
            TableName=table_name,
            Item={**key, "salt": {"S": salt}, "expires": {"N": str(now + SALT_TTL)}},
            ConditionExpression="attribute_not_exists(id)",
        )
    except client.exceptions.ConditionalCheckFailedException:
        salt = client.get_item(TableName=table_name, Key=key, ConsistentRead=True)["Item"]["salt"]["S"]
    return bytes.fromhex(salt)


def first_visit_today(client: Any, table_name: str, counter_id: str, visitor: str, now: float | None = None) -> bool:
    """Claim today's visit of ``visitor`` (source + user agent) on ``counter_id``; False when already claimed."""
    now = int(time.time() if now is None else now)
    day = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")
    digest = hmac.new(daily_salt(client, table_name, day, now), visitor.encode(), hashlib.sha256).hexdigest()
    try:
        client.put_item(
            TableName=table_name,
            Item={"id": {"S": f"visit#{counter_id}#{day}#{digest}"}, "expires": {"N": str(now + VISIT_TTL)}},
            ConditionExpression="attribute_not_exists(id)",
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def visitor_of(event: Mapping[str, Any]) -> str:
    """Source address and user agent of the request (hashed before it is stored)."""
    source = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown"
    agent = next((str(v) for k, v in (event.get("headers") or {}).items() if k.lower() == "user-agent"), "")
    return f"{source}\n{agent}"


def read(client: Any, table_name: str, counter_id: str) -> int:
    """The current count (0 when the item does not exist yet), strongly consistent."""
    resp = client.get_item(
        TableName=table_name,
        Key={"id": {"S": counter_id}},
        ProjectionExpression="#c",
        ExpressionAttributeNames={"#c": "count"},
        ConsistentRead=True,
    )
    return int(resp.get("Item", {}).get("count", {}).get("N", "0"))


def response(status: int, body: Mapping[str, Any], allowed_origin: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **({"Access-Control-Allow-Origin": allowed_origin} if allowed_origin else {}),
            "Vary": "Origin",
        },
        "body": json.dumps(body),
    }


def handle(event: Mapping[str, Any], config: Config, client: Any) -> dict[str, Any]:
    """Route one proxy event; the client is a boto3 DynamoDB client."""
    method = str(event.get("httpMethod") or "").upper()
    if method == "OPTIONS":
        return preflight(event, config)
    allow = cors_origin(event, config)
    choice = ((event.get("queryStringParameters") or {}).get("counter")) or ""
    if choice and choice != config.smoke_counter_id:
        return response(400, {"error": "Unknown counter.", "field": "counter"}, allow)
    counter_id = choice or config.counter_id
    try:
        if method == "POST":
            if first_visit_today(client, config.table_name, counter_id, visitor_of(event)):
                count, counted = increment(client, config.table_name, counter_id), True
            else:
                count, counted = read(client, config.table_name, counter_id), False
            return response(200, {"count": count, "counted": counted}, allow)
        if method == "GET":
            return response(200, {"count": read(client, config.table_name, counter_id)}, allow)
    except (BotoCoreError, ClientError):
        LOG.exception("counter table %s failed", config.table_name)
        return response(503, {"error": "The counter is unavailable."}, allow)
    return response(405, {"error": "Use GET to read or POST to count a visit."}, allow)


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("dynamodb")


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, config_from_env(), _client())
