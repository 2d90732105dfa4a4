"""Contact form Lambda (API Gateway proxy integration).

``POST /contact`` with a JSON body ``{"name", "email", "message", "website"}``:

* 200 ``{"ok": true}``: exactly one email sent through SES from ``SENDER`` to ``RECIPIENT``.
* 400 ``{"error": ..., "field": <name>}``: a missing or invalid field (``body`` for a body that is
  not a JSON object); nothing is sent. ``website`` is a honeypot and must be empty.
* 405 for other methods, 502 when SES refuses the message.

Visitor input only ever goes into the email *body*: subject, sender, recipient and reply-to are fixed
by configuration, and no response header carries request data. Configuration (environment):
``SENDER``, ``RECIPIENT`` (verified SES identities), ``ALLOWED_ORIGIN``, ``STAGE``.
"""

from __future__ import annotations

import json
import logging
import os
import re
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


class ValidationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def config_from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    missing = [k for k in ("SENDER", "RECIPIENT") if not env.get(k)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not set")
    return Config(
        sender=env["SENDER"],
        recipient=env["RECIPIENT"],
        allowed_origin=env.get("ALLOWED_ORIGIN") or "*",
        stage=env.get("STAGE") or "prod",
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
    """Validate one proxy event and send the message; the client is a boto3 SES client."""
    if str(event.get("httpMethod") or "").upper() != "POST":
        return response(405, {"error": "Use POST to send a message."}, config.allowed_origin)
    try:
        fields = validate(parse_body(event))
    except ValidationError as exc:
        return response(400, {"error": exc.message, "field": exc.field}, config.allowed_origin)
    try:
        sent = client.send_email(**compose(fields, config))
    except (BotoCoreError, ClientError):
        LOG.exception("SES refused the contact message")
        return response(502, {"error": "The message could not be sent. Please try again later."}, config.allowed_origin)
    LOG.info("contact message sent: %s", sent.get("MessageId"))
    return response(200, {"ok": True}, config.allowed_origin)


@lru_cache(maxsize=1)
def _client() -> Any:
    return boto3.client("ses")


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, config_from_env(), _client())
