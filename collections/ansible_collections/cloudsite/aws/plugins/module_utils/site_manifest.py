"""The manifest a site publish writes last, and what it says of each stored object.

ListObjectsV2 returns key, size and ETag, but no Content-Type, Cache-Control or user metadata, and the
ETag is the MD5 of the body only for single-part, non-KMS uploads. So after every successful publish
``s3_site_sync`` writes a manifest object (``.site-sync-manifest.json``) mapping each key to
``{md5, etag, content_type, cache_control}``. An entry is trusted only while its ETag equals the listed
ETag, i.e. the object was not replaced behind our back. In a versioned bucket the manifest's versions
are the history of builds, which is what ``s3_site_restore`` rolls back along.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MANIFEST_VERSION = 1
DEFAULT_MANIFEST_KEY = ".site-sync-manifest.json"
# User metadata key holding the body's MD5 (hex): lets a HEAD prove the content of a multipart or
# KMS-encrypted object, whose ETag is not an MD5.
CONTENT_MD5_META = "content-md5"
_SINGLE_PART_ETAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class RemoteObject:
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class ObjectState:
    """What we know of a stored object: from the manifest (trusted while ``etag`` matches) or a HEAD."""

    md5: str | None
    etag: str
    content_type: str | None
    cache_control: str | None

    def to_manifest(self) -> dict[str, Any]:
        return {
            "md5": self.md5,
            "etag": self.etag,
            "content_type": self.content_type,
            "cache_control": self.cache_control,
        }


def normalise_etag(etag: str) -> str:
    return etag.strip('"').lower()


def is_single_part_etag(etag: str) -> bool:
    return bool(_SINGLE_PART_ETAG.match(normalise_etag(etag)))


def parse_manifest(body: bytes | str | None) -> dict[str, ObjectState]:
    """Read a manifest body; anything unreadable counts as no manifest (the plan then verifies)."""
    if not body:
        return {}
    try:
        data = json.loads(body)
        if data.get("version") != MANIFEST_VERSION:
            return {}
        return {
            key: ObjectState(
                md5=entry.get("md5"),
                etag=normalise_etag(entry["etag"]),
                content_type=entry.get("content_type"),
                cache_control=entry.get("cache_control"),
            )
            for key, entry in data["objects"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def render_manifest(states: Mapping[str, ObjectState]) -> str:
    objects = {key: states[key].to_manifest() for key in sorted(states)}
    return json.dumps({"version": MANIFEST_VERSION, "objects": objects}, indent=0, sort_keys=True)


def manifest_digest(states: Mapping[str, ObjectState]) -> str:
    """Short digest of what a manifest describes ("" for none): names the stored build a run starts
    from, so an invalidation's CallerReference can name the transition and not just the target build
    (publishing B after a rollback from B to A must invalidate again, not reuse B's first invalidation)."""
    if not states:
        return ""
    return hashlib.sha256(render_manifest(states).encode()).hexdigest()[:16]


def state_from_head(etag: str, content_type: str | None, cache_control: str | None, metadata: Mapping[str, str]):
    """Describe an object from a HeadObject answer."""
    etag = normalise_etag(etag)
    md5 = (metadata or {}).get(CONTENT_MD5_META) or (etag if is_single_part_etag(etag) else None)
    return ObjectState(md5=md5, etag=etag, content_type=content_type, cache_control=cache_control)


def describe(key: str, state: Any) -> str:
    """One line of a --diff view: a local file or a stored object (anything with md5, content_type and
    cache_control)."""
    if state is None:
        return f"{key}: (absent)"
    return f"{key}: md5={state.md5} content-type={state.content_type} cache-control={state.cache_control}"


def parse_manifest_strict(body: bytes | str | None, label: str) -> dict[str, ObjectState]:
    """Like ``parse_manifest``, but an unreadable body is an error (a restore cannot guess)."""
    try:
        data = json.loads(body or b"")
        valid = isinstance(data, dict) and data.get("version") == MANIFEST_VERSION and isinstance(data["objects"], dict)
    except (ValueError, KeyError, TypeError):
        valid = False
    states = parse_manifest(body) if valid else {}
    if not valid or len(states) != len(data["objects"]):
        raise ValueError(f"{label} is not a manifest of version {MANIFEST_VERSION}")
    return states
