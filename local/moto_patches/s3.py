"""Gap 21: S3 lifecycle ``NoncurrentVersionExpiration.NewerNoncurrentVersions``.

AWS keeps ``NewerNoncurrentVersions`` (how many noncurrent versions survive the expiry, 1-100) and returns
it from GetBucketLifecycleConfiguration. moto 5.2.5 stores only ``NoncurrentDays``: the site bucket's rule
would lose its "keep the last builds" half, and community.aws.s3_lifecycle would see drift on every run.
"""

from __future__ import annotations

from typing import Any

from moto.s3 import models, responses

_set_lifecycle = models.FakeBucket.set_lifecycle
_get_bucket_lifecycle = responses.S3Response.get_bucket_lifecycle


def set_lifecycle(self: Any, rules: list[dict[str, Any]]) -> None:
    _set_lifecycle(self, rules)
    for given, rule in zip(rules, self.rules, strict=True):
        newer = (given.get("NoncurrentVersionExpiration") or {}).get("NewerNoncurrentVersions")
        rule.nve_newer_versions = int(newer) if newer is not None else None


def get_bucket_lifecycle(self: Any) -> Any:
    rules = self.backend.get_bucket_lifecycle(self.bucket_name) or []
    serialized = self.serialized

    def with_newer_versions(action_result: Any) -> Any:
        for out, rule in zip(action_result.result.get("Rules", []), rules, strict=False):
            newer = getattr(rule, "nve_newer_versions", None)
            if newer is not None and "NoncurrentVersionExpiration" in out:
                out["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = newer
        return serialized(action_result)

    self.serialized = with_newer_versions
    try:
        return _get_bucket_lifecycle(self)
    finally:
        del self.serialized


def apply() -> None:
    models.FakeBucket.set_lifecycle = set_lifecycle
    responses.S3Response.get_bucket_lifecycle = get_bucket_lifecycle
