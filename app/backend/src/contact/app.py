"""Contact form Lambda (API Gateway proxy integration).

``POST /contact`` with a JSON body ``{"name", "email", "message", "website"}``:

* 200 ``{"ok": true}``: exactly one email sent through SES from ``SENDER`` to ``RECIPIENT``.
* 400 ``{"error": ..., "field": <name>}``: a missing or invalid field (``body`` for a body that is
  not a JSON object); nothing is sent. ``website`` is a honeypot and must be empty.
* 403 when ``Origin`` is not the allowed origin, 415 when ``Content-Type`` is not
  ``application/json`` (a cross-site ``text/plain`` post needs no CORS preflight: it is refused here).
* 429 (with ``Retry-After``) while the sender's cooldown runs (``COOLDOWN_SECONDS`` per source, kept in
  DynamoDB as a salted hash of the source address with a TTL, never the address itself), or once
  ``DAILY_LIMIT`` messages have been sent today (UTC).
* 405 for other methods, 502 when SES refuses the message.

Every body gets a 4xx with a reason, including one nested too deeply for the JSON parser.

Visitor input only ever goes into the email *body*: subject, sender, recipient and reply-to are fixed
by configuration, and no response header carries request data. Configuration (environment):
``SENDER``, ``RECIPIENT`` (verified SES identities), ``ALLOWED_ORIGIN``, ``STAGE``, ``TABLE_NAME``
(the stack's table: cooldowns, the daily tally and the daily salt), ``COOLDOWN_SECONDS`` (default 300),
``DAILY_LIMIT`` (default 50).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

NAME_MAX = 100
EMAIL_MAX = 254
MESSAGE_MAX = 2000
BODY_MAX = 16 * 1024
COOLDOWN_SECONDS = 300
DAILY_LIMIT = 50
SALT_TTL = 2 * 86400
# Deliberately conservative: one @, no spaces or control characters, a dotted domain of LDH labels.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


@dataclass(frozen=True)
class Config:
    sender: str
    recipient: str
    allowed_origin: str = "*"
    stage: str = "prod"
    table_name: str = ""
    cooldown_seconds: int = COOLDOWN_SECONDS
    daily_limit: int = DAILY_LIMIT


CORS_METHODS = "POST,OPTIONS"
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


class ValidationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def config_from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    missing = [k for k in ("SENDER", "RECIPIENT", "TABLE_NAME") if not env.get(k)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set")
    return Config(
        sender=env["SENDER"],
        recipient=env["RECIPIENT"],
        allowed_origin=env.get("ALLOWED_ORIGIN") or "*",
        stage=env.get("STAGE") or "prod",
        table_name=env["TABLE_NAME"],
        cooldown_seconds=int(env.get("COOLDOWN_SECONDS") or COOLDOWN_SECONDS),
        daily_limit=int(env.get("DAILY_LIMIT") or DAILY_LIMIT),
    )


def _has_control(text: str, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in allowed for ch in text)


def parse_body(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raise ValidationError("body", "Send the form as JSON.")
    if len(raw) > BODY_MAX:
        raise ValidationError("body", "The request is too large.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationError("body", "The request body must be a JSON object.") from None
    except RecursionError:
        # e.g. 10 KB of "[": json.loads recurses once per level and would crash the function (502).
        raise ValidationError("body", "The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ValidationError("body", "The request body must be a JSON object.")
    return data


def validate(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the cleaned ``name``/``email``/``message`` or raise ValidationError naming the field."""
    if data.get("website"):
        raise ValidationError("website", "The website field must be left empty.")
    cleaned: dict[str, str] = {}
    for field in ("name", "email", "message"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(field, f"The {field} field is required.")
        cleaned[field] = value.strip()
    if len(cleaned["name"]) > NAME_MAX or _has_control(cleaned["name"]):
        raise ValidationError("name", f"The name must be at most {NAME_MAX} characters, on one line.")
    if len(cleaned["email"]) > EMAIL_MAX or not EMAIL_RE.match(cleaned["email"]):
        raise ValidationError("email", "The email address is not valid.")
    if len(cleaned["message"]) > MESSAGE_MAX:
        raise ValidationError("message", f"The message must be at most {MESSAGE_MAX} characters.")
    if _has_control(cleaned["message"], allow_newlines=True):
        raise ValidationError("message", "The message contains characters that are not allowed.")
    return cleaned


def compose(fields: Mapping[str, str], config: Config) -> dict[str, Any]:
    """The SES SendEmail arguments: input only in the text body."""
    text = (
        f"New message from the contact form ({config.stage}).\n\n"
        f"Name: {fields['name']}\n"
        f"Email: {fields['email']}\n\n"
        f"{fields['message']}\n"
    )
    return {
        "Source": config.sender,
        "Destination": {"ToAddresses": [config.recipient]},
        "Message": {
            "Subject": {"Data": f"Contact form message ({config.stage})", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    }


def response(
    status: int, body: Mapping[str, Any], allowed_origin: str, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **({"Access-Control-Allow-Origin": allowed_origin} if allowed_origin else {}),
            "Vary": "Origin",
            **(extra or {}),
        },
        "body": json.dumps(body),
    }


def header(event: Mapping[str, Any], name: str) -> str:
    """A request header, case-insensitively ('' when absent)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value or "")
    return ""


def check_request(event: Mapping[str, Any], config: Config) -> tuple[int, str, str] | None:
    """(status, field, reason) when the request is not a JSON post from an allowed origin."""
    media_type = header(event, "content-type").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return 415, "content-type", "Send the form as application/json."
    if not cors_origin(event, config):
        return 403, "origin", "Messages are accepted from the site's own pages only."
    return None


def source_of(event: Mapping[str, Any]) -> str:
    return str(((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown")


class Guard:
    """Per-sender cooldown and a daily tally in DynamoDB; senders are keyed by a salted hash.

    The salt is random per UTC day (item ``salt#<day>``, TTL two days): hashes cannot be linked
    across days, and once the salt has expired the stored hashes cannot be tested against addresses.
    """

    def __init__(self, client: Any, config: Config, now: float | None = None) -> None:
        self.client = client
        self.table = config.table_name
        self.config = config
        self.now = int(time.time() if now is None else now)
        self.day = dt.datetime.fromtimestamp(self.now, dt.UTC).strftime("%Y-%m-%d")

    def _salt(self) -> bytes:
        key = {"id": {"S": f"salt#{self.day}"}}
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if item:
            return bytes.fromhex(item["salt"]["S"])
        salt = secrets.token_hex(32)
        try:
            self.client.put_item(
                TableName=self.table,
                Item={**key, "salt": {"S": salt}, "expires": {"N": str(self.now + SALT_TTL)}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
            salt = item["salt"]["S"]
        return bytes.fromhex(salt)

    def sender_key(self, source: str) -> str:
        return "contact#" + hmac.new(self._salt(), source.encode(), hashlib.sha256).hexdigest()

    def start_cooldown(self, source: str) -> bool:
        """Claim the sender's cooldown; False while an earlier one has not expired."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": self.sender_key(source)},
                    "expires": {"N": str(self.now + self.config.cooldown_seconds)},
                },
                # TTL deletion lags (up to days): an expired item must not block, so compare the time too.
                ConditionExpression="attribute_not_exists(id) OR expires < :now",
                ExpressionAttributeValues={":now": {"N": str(self.now)}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def take_daily_slot(self) -> bool:
        """Count one message against today's limit; False once the limit is reached."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"id": {"S": f"contact-day#{self.day}"}},
                UpdateExpression="ADD sent :one SET expires = :expires",
                ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(self.config.daily_limit)},
                    ":expires": {"N": str(self.now + SALT_TTL)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def handle(event: Mapping[str, Any], config: Config, client: Any, dynamodb: Any) -> dict[str, Any]:
    """Check, validate and send one proxy event; clients: boto3 SES and DynamoDB."""
    method = str(event.get("httpMethod") or "").upper()
    if method == "OPTIONS":
        return preflight(event, config)
    allow = cors_origin(event, config)
    if method != "POST":
        return response(405, {"error": "Use POST to send a message."}, allow)
    refused = check_request(event, config)
    if refused:
        status, field, reason = refused
        return response(status, {"error": reason, "field": field}, allow)
    try:
        fields = validate(parse_body(event))
    except ValidationError as exc:
        return response(400, {"error": exc.message, "field": exc.field}, allow)
    guard = Guard(dynamodb, config)
    try:
        if not guard.start_cooldown(source_of(event)):
            return response(
                429,
                {"error": "Please wait a few minutes before sending another message."},
                allow,
                {"Retry-After": str(config.cooldown_seconds)},
            )
        if not guard.take_daily_slot():
            return response(
                429,
                {"error": "The contact form is closed for today. Please try again tomorrow."},
                allow,
            )
    except (BotoCoreError, ClientError):
        LOG.exception("contact guard table %s failed", config.table_name)
        return response(503, {"error": "The contact form is unavailable."}, allow)
    try:
        sent = client.send_email(**compose(fields, config))
    except (BotoCoreError, ClientError):
        LOG.exception("SES refused the contact message")
        return response(502, {"error": "The message could not be sent. Please try again later."}, allow)
    LOG.info("contact message sent: %s", sent.get("MessageId"))
    return response(200, {"ok": True}, allow)


@lru_cache(maxsize=2)
def _client(service: str = "ses") -> Any:
    return boto3.client(service)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, config_from_env(), _client("ses"), _client("dynamodb"))
