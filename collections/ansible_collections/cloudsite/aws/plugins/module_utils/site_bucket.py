"""The S3 side shared by ``s3_site_sync`` (publish) and ``s3_site_restore`` (rollback).

Both modules work on the same thing: a site under a prefix of a bucket, described by the manifest
object that ``s3_site_sync`` writes last. This class holds the client and the calls both make; each
module adds its own reads and writes (uploads and HEADs; object versions and copies).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.site_files import join_key
from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import RemoteObject, normalise_etag

# Paths published but not yet invalidated: written before the uploads, deleted once CloudFront accepted the
# invalidation, so a run that stops in between (crash, Ctrl-C, CI timeout) leaves the next run the job.
DEFAULT_PENDING_KEY = ".site-sync-pending-invalidation.json"

# S3 answers throttling with 503 SlowDown, which AWSRetry's default list (Throttling, RequestLimitExceeded, ...)
# does not name; botocore's own retries stop after a few attempts.
S3_RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["SlowDown", "RequestTimeout"])


def parse_timestamp(value: str) -> datetime:
    """botocore's timestamp parser, made fast for the ISO 8601 form of XML bodies.

    botocore hands every timestamp to dateutil: ~0.1 ms each, most of the client's time in a 2,000-key
    listing. ``fromisoformat`` reads the listing's UTC form ``2024-05-01T10:00:00.000Z`` directly (Python
    >= 3.11) into the same aware datetime; anything else (the HTTP dates of HEAD headers, epochs) goes to
    botocore's own parser.
    """
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    from botocore.utils import parse_timestamp as botocore_parse

    return botocore_parse(value)


@S3_RETRY
def all_pages(client: Any, operation: str, **kwargs: Any) -> list[dict]:
    """Every page of a paginated call, the listing retried as a whole (a paginator takes no aws_retry)."""
    return list(client.get_paginator(operation).paginate(**kwargs))


def parse_pending(body: bytes | None) -> list[str]:
    """Paths a previous publish uploaded or deleted but did not get invalidated ([] when none)."""
    paths = json.loads(body or b"{}").get("paths", [])
    return sorted({str(path) for path in paths})


class SiteBucket:
    """A site's objects in ``bucket``/``prefix`` and its manifest."""

    def __init__(self, module: Any) -> None:
        self.module = module
        p = module.params
        self.bucket: str = p["bucket"]
        self.prefix: str = p["prefix"].strip("/")
        self.manifest_key = join_key(self.prefix, p["manifest_key"])
        self.pending_key = join_key(self.prefix, p.get("pending_key") or DEFAULT_PENDING_KEY)
        self.concurrency = max(1, p["max_concurrency"])
        self.client = module.client(
            "s3",
            retry_decorator=S3_RETRY,
            # Our own Content-MD5 guards each body; botocore's default CRC32 on every upload only costs CPU.
            config={
                "max_pool_connections": self.concurrency + 2,
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            },
        )
        # The parser factory is botocore's documented hook for the timestamp parser, but a client keeps it in
        # its endpoint; without that attribute (another botocore layout) the default parser stays.
        raw = getattr(self.client, "client", self.client)
        factory = getattr(getattr(raw, "_endpoint", None), "_response_parser_factory", None)
        if factory is not None:
            factory.set_parser_defaults(timestamp_parser=parse_timestamp)
        self.pending_listed = False  # whether the last listing held the pending record
        self.extra: dict[str, str] = {}
        if p["encryption"] != "none":
            self.extra["ServerSideEncryption"] = p["encryption"]
            if p["kms_key_id"]:
                self.extra["SSEKMSKeyId"] = p["kms_key_id"]

    def list_objects(self) -> dict[str, RemoteObject]:
        """One paginated ListObjectsV2 of the prefix (botocore errors propagate to the caller)."""
        kwargs = {"Bucket": self.bucket}
        if self.prefix:
            kwargs["Prefix"] = self.prefix + "/"
        remote: dict[str, RemoteObject] = {}
        for page in all_pages(self.client, "list_objects_v2", **kwargs):
            for item in page.get("Contents", []):
                if item["Key"] == self.pending_key:
                    self.pending_listed = True
                    continue  # bookkeeping, not a site object: never planned, restored or deleted
                remote[item["Key"]] = RemoteObject(item["Key"], normalise_etag(item["ETag"]), item["Size"])
        return remote

    def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            answer = self.client.delete_objects(
                aws_retry=True, Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise RuntimeError(f"delete of {first['Key']} failed: {first.get('Code')} {first.get('Message')}")

    def write_manifest(self, body: str) -> str:
        """Write the manifest last; returns its version id ("" when the bucket is not versioned)."""
        answer = self.client.put_object(
            aws_retry=True,
            Bucket=self.bucket,
            Key=self.manifest_key,
            Body=body.encode(),
            ContentType="application/json",
            CacheControl="no-cache",
            **self.extra,
        )
        return answer.get("VersionId") or ""

    def get_body(self, key: str) -> bytes | None:
        """The body of ``key`` (None when there is no such object)."""
        try:
            return self.client.get_object(aws_retry=True, Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def write_pending(self, paths: list[str]) -> None:
        self.client.put_object(
            aws_retry=True,
            Bucket=self.bucket,
            Key=self.pending_key,
            Body=json.dumps({"paths": sorted(paths)}, indent=1).encode(),
            ContentType="application/json",
            CacheControl="no-cache",
            **self.extra,
        )
