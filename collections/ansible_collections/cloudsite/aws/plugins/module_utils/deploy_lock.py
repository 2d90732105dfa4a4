"""Deploy lock and audit log in one DynamoDB table (shared by the deploy_lock module and the deploy_audit callback).

Layout of the table ``<project>-deploy-lock`` (on demand, key ``pk`` + ``sk``, both strings):

- the lock: ``pk="lock", sk="lock"`` with holder, host, message, run_id, started (ISO 8601 UTC) and
  expires_at (epoch seconds). It is taken with a conditional PutItem that succeeds only when no lock
  exists, the lock has expired, or this run already holds it (each stage re-takes it and so extends it);
- the audit log: ``pk="audit", sk="<started ISO>#<run_id>"`` with the record as JSON in ``record``;
  read newest first with a Query (ScanIndexForward false).

Functions take a boto3 DynamoDB client; the callers wrap it (retries, error reporting).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

LOCK_KEY = {"pk": {"S": "lock"}, "sk": {"S": "lock"}}
AUDIT_PK = "audit"
# DynamoDB items are limited to 400 KB; an audit record is a few hundred bytes, cap it far below.
MAX_RECORD_BYTES = 64 * 1024


class LockHeld(Exception):
    """Another run holds the lock; ``lock`` is its item as a plain dict."""

    def __init__(self, lock: dict[str, Any]):
        super().__init__(describe(lock))
        self.lock = lock


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (typed attribute values) as a plain dict of strings and ints."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if "N" in value:
            out[key] = int(value["N"])
        elif "S" in value:
            out[key] = value["S"]
    return out


def describe(lock: dict[str, Any]) -> str:
    """One line: who holds the lock, since when, until when, and their message."""
    message = lock.get("message") or "(no message)"
    return (
        f"deploy lock held by {lock.get('holder', '?')}@{lock.get('host', '?')} since {lock.get('started', '?')}"
        f" (run {lock.get('run_id', '?')}, expires {iso(int(lock.get('expires_at', 0)))}): {message}"
    )


def table_exists(client: Any, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
        return True
    except client.exceptions.ResourceNotFoundException:
        return False


def create_table(client: Any, table: str, tags: dict[str, str]) -> None:
    client.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())],
    )
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def read_lock(client: Any, table: str) -> dict[str, Any] | None:
    item = client.get_item(TableName=table, Key=LOCK_KEY, ConsistentRead=True).get("Item")
    return plain(item) if item else None


def acquire(
    client: Any, table: str, *, run_id: str, holder: str, host: str, message: str, ttl: int, now: float | None = None
) -> dict[str, Any]:
    """Take (or, for the same run, extend) the lock; raise LockHeld when another live run holds it."""
    now = time.time() if now is None else now
    current = read_lock(client, table)
    started = current["started"] if current and current.get("run_id") == run_id else iso(now)
    lock = {
        "holder": holder,
        "host": host,
        "message": message,
        "run_id": run_id,
        "started": started,
        "expires_at": int(now) + ttl,
    }
    item = dict(LOCK_KEY)
    item.update({k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in lock.items()})
    try:
        client.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR run_id = :run",
            ExpressionAttributeValues={":now": {"N": str(int(now))}, ":run": {"S": run_id}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        raise LockHeld(read_lock(client, table) or {}) from None
    lock["replaced"] = current if current and current.get("run_id") != run_id else None
    return lock


def release(client: Any, table: str, run_id: str) -> bool:
    """Delete the lock if this run holds it; False when it does not (expired and taken by another, or broken)."""
    try:
        client.delete_item(
            TableName=table,
            Key=LOCK_KEY,
            ConditionExpression="run_id = :run",
            ExpressionAttributeValues={":run": {"S": run_id}},
        )
        return True
    except client.exceptions.ConditionalCheckFailedException:
        return False


def break_lock(client: Any, table: str) -> dict[str, Any] | None:
    """Delete the lock whoever holds it; return what it was (None when there was none)."""
    old = client.delete_item(TableName=table, Key=LOCK_KEY, ReturnValues="ALL_OLD").get("Attributes")
    return plain(old) if old else None


def append_audit(client: Any, table: str, record: dict[str, Any]) -> str:
    """Append one audit record; its sort key is '<started>#<run_id>' so records list in time order."""
    body = json.dumps(record, sort_keys=True, default=str)
    if len(body.encode()) > MAX_RECORD_BYTES:
        raise ValueError(f"audit record is {len(body.encode())} bytes, more than {MAX_RECORD_BYTES}")
    sort_key = f"{record['started']}#{record['run_id']}#{record.get('event', 'run')}"
    client.put_item(
        TableName=table,
        Item={"pk": {"S": AUDIT_PK}, "sk": {"S": sort_key}, "record": {"S": body}},
    )
    return sort_key


def read_audit(client: Any, table: str, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` audit records, newest first."""
    records: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": AUDIT_PK}},
        "ScanIndexForward": False,
    }
    while len(records) < limit:
        page = client.query(Limit=limit - len(records), **kwargs)
        records += [json.loads(item["record"]["S"]) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return records


def short_commit(commit: str) -> str:
    if not commit:
        return "-"
    return commit[:12] + ("+dirty" if commit.endswith("+dirty") else "")


def audit_line(record: dict[str, Any]) -> str:
    """One line of `make audit`."""
    changed = record.get("changed")
    changed_text = f" changed={changed}" if changed is not None else ""
    return (
        f"{record.get('started', '?')} {record.get('event', 'run'):7} {record.get('result', '?'):8}"
        f" {record.get('holder', '?')}@{record.get('host', '?')} commit={short_commit(str(record.get('commit', '')))}"
        f" {record.get('playbook', '')} tags={','.join(record.get('tags') or []) or 'all'}{changed_text}"
        f" {record.get('message', '')}".rstrip()
    )
