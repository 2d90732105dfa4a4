"""Visitor counter Lambda (API Gateway proxy integration).

API (paths relative to the stage URL):

* ``GET /count``  -> 200 ``{"count": n}``: reads the count, never changes it (0 before the first visit).
* ``POST /count`` -> 200 ``{"count": n}``: increments by exactly 1 with one DynamoDB ``UpdateItem``
  ``ADD`` (atomic, no read-modify-write) and returns the new value.
* anything else   -> 405 ``{"error": ...}``; a DynamoDB failure -> 503.

Configuration (environment): ``TABLE_NAME`` (required), ``ALLOWED_ORIGIN`` (CORS origin, default
``*`` only when unset), ``COUNTER_ID`` (item key, default ``visitors``).
"""

from __future__ import annotations

import json
import logging
import os
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


def config_from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    table = env.get("TABLE_NAME", "")
    if not table:
        raise RuntimeError("TABLE_NAME is not set")
    return Config(
        table_name=table,
        allowed_origin=env.get("ALLOWED_ORIGIN") or "*",
        counter_id=env.get("COUNTER_ID") or "visitors",
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
            "Access-Control-Allow-Origin": allowed_origin,
            "Vary": "Origin",
        },
        "body": json.dumps(body),
    }


def handle(event: Mapping[str, Any], config: Config, client: Any) -> dict[str, Any]:
    """Route one proxy event; the client is a boto3 DynamoDB client."""
    method = str(event.get("httpMethod") or "").upper()
    try:
        if method == "POST":
            return response(
                200, {"count": increment(client, config.table_name, config.counter_id)}, config.allowed_origin
            )
        if method == "GET":
            return response(200, {"count": read(client, config.table_name, config.counter_id)}, config.allowed_origin)
    except (BotoCoreError, ClientError):
        LOG.exception("counter table %s failed", config.table_name)
        return response(503, {"error": "The counter is unavailable."}, config.allowed_origin)
    return response(405, {"error": "Use GET to read or POST to count a visit."}, config.allowed_origin)


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("dynamodb")


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, config_from_env(), _client())
