"""Pure planning logic for publishing a static site to S3 and invalidating CloudFront.

Nothing here talks to AWS: the modules ``s3_site_sync``, ``s3_site_restore`` and
``cloudfront_site_invalidation`` feed it listings and apply its plans, and the unit tests call it directly.

Planning model (why a manifest):
    ListObjectsV2 returns key, size and ETag, but no Content-Type, Cache-Control or user metadata. The
    ETag is the MD5 of the body only for single-part, non-KMS uploads. So the listing alone can prove a
    body differs, never that the metadata is still what the rules ask for. After every successful
    publish the module writes a manifest object (``.site-sync-manifest.json``) mapping each key to
    ``{md5, etag, content_type, cache_control}``. A manifest entry is trusted only while its ETag equals
    the listed ETag, i.e. the object was not replaced behind our back. Keys with no trustworthy entry
    whose body may be unchanged are returned as ``verify``: the module HEADs those alone (first publish
    to a bucket written by another tool, or a lost manifest) and plans again with the answers.
    Steady state: one paginated list + one GET of the manifest, no per-file request.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import mimetypes
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

MANIFEST_VERSION = 1
DEFAULT_MANIFEST_KEY = ".site-sync-manifest.json"
# User metadata key holding the body's MD5 (hex): lets a HEAD prove the content of a multipart or
# KMS-encrypted object, whose ETag is not an MD5.
CONTENT_MD5_META = "content-md5"

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
DEFAULT_CACHE_CONTROL = "public, max-age=300"
# First match wins. A pattern without "/" matches the basename, one with "/" the whole key.
# Hashed assets look like name.<8+ hex>.ext (app/build_site.py writes them that way).
DEFAULT_CACHE_RULES: tuple[dict[str, str], ...] = (
    {"glob": "*.html", "cache_control": NO_CACHE},
    {"glob": "config.json", "cache_control": NO_CACHE},
    {"glob": "version.json", "cache_control": NO_CACHE},
    {"glob": "*.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].*", "cache_control": IMMUTABLE},
    {"glob": "*.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]", "cache_control": IMMUTABLE},
)
# Types that differ between Python's table and what browsers want, or that the table lacks. Python's
# built-in table is used on purpose (not /etc/mime.types), so every controller plans the same types.
DEFAULT_CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".wasm": "application/wasm",
    ".xml": "application/xml",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MIME = mimetypes.MimeTypes(filenames=())
_SINGLE_PART_ETAG = re.compile(r"^[0-9a-f]{32}$")
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    key: str
    path: str
    size: int
    md5: str
    content_type: str
    cache_control: str


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


@dataclass
class SyncPlan:
    upload: dict[str, str] = field(default_factory=dict)  # key -> reason
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)  # keys to HEAD before the plan is final

    @property
    def changed(self) -> bool:
        return bool(self.upload or self.delete)


# --- Local side ---------------------------------------------------------------------------------


def matches(pattern: str, key: str) -> bool:
    """Glob match: patterns with a slash match the whole key, others the basename."""
    target = key if "/" in pattern else posixpath.basename(key)
    return fnmatch.fnmatchcase(target, pattern)


def content_type_for(key: str, overrides: Mapping[str, str] | None = None) -> str:
    table = dict(DEFAULT_CONTENT_TYPES)
    table.update({k.lower() if k.startswith(".") else "." + k.lower(): v for k, v in (overrides or {}).items()})
    ext = posixpath.splitext(key)[1].lower()
    if ext in table:
        return table[ext]
    guessed, encoding = _MIME.guess_type(key, strict=False)
    if guessed and not encoding:
        return guessed
    return DEFAULT_CONTENT_TYPE


def cache_control_for(
    key: str, rules: Sequence[Mapping[str, str]] | None = None, default: str = DEFAULT_CACHE_CONTROL
) -> str:
    for rule in DEFAULT_CACHE_RULES if rules is None else rules:
        if matches(rule["glob"], key):
            return rule["cache_control"]
    return default


def file_md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def md5_base64(hex_md5: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_md5)).decode("ascii")


def scan_local(
    src: str,
    prefix: str = "",
    exclude: Iterable[str] = (),
    content_types: Mapping[str, str] | None = None,
    cache_rules: Sequence[Mapping[str, str]] | None = None,
    default_cache_control: str = DEFAULT_CACHE_CONTROL,
    manifest_key: str = DEFAULT_MANIFEST_KEY,
) -> dict[str, LocalFile]:
    """Walk ``src`` and describe every file as it should be stored. Raises OSError on unreadable files."""
    exclude = list(exclude)
    manifest = join_key(prefix, manifest_key)
    found: list[tuple[str, str, str]] = []
    for root, dirs, files in os.walk(src, onerror=_raise):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            if any(matches(p, rel) for p in exclude):
                continue
            key = join_key(prefix, rel)
            if key != manifest:
                found.append((key, rel, path))
    # hashlib releases the GIL on large buffers: hash on a few threads.
    with ThreadPoolExecutor(max(2, min(8, os.cpu_count() or 2))) as pool:
        digests = list(pool.map(file_md5, [path for _, _, path in found]))
    return {
        key: LocalFile(
            key=key,
            path=path,
            size=os.path.getsize(path),
            md5=digest,
            content_type=content_type_for(rel, content_types),
            cache_control=cache_control_for(rel, cache_rules, default_cache_control),
        )
        for (key, rel, path), digest in zip(found, digests, strict=True)
    }


def _raise(error: OSError) -> None:
    raise error


def join_key(prefix: str, rel: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{rel}" if prefix else rel


def strip_prefix(prefix: str, key: str) -> str:
    prefix = prefix.strip("/")
    return key[len(prefix) + 1 :] if prefix and key.startswith(prefix + "/") else key


# --- Remote side --------------------------------------------------------------------------------


def normalise_etag(etag: str) -> str:
    return etag.strip('"').lower()


def is_single_part_etag(etag: str) -> bool:
    return bool(_SINGLE_PART_ETAG.match(normalise_etag(etag)))


def parse_manifest(body: bytes | str | None) -> dict[str, ObjectState]:
    """Read a manifest body; anything unreadable counts as no manifest (the plan then verifies)."""
    import json

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
    import json

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


# --- Planning -----------------------------------------------------------------------------------


def plan_sync(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    manifest: Mapping[str, ObjectState] | None = None,
    heads: Mapping[str, ObjectState] | None = None,
    delete: bool = True,
    manifest_key: str | None = DEFAULT_MANIFEST_KEY,
) -> SyncPlan:
    """Decide per key: upload (with a reason), delete, unchanged, or verify (HEAD, then plan again).

    Content is compared by MD5, never by size or mtime: a same-size edit with an older mtime is an
    upload. Metadata (Content-Type, Cache-Control) counts as content. When ``heads`` is given (the
    second pass), no key is left to verify: an object still unknown is uploaded.
    """
    manifest = manifest or {}
    plan = SyncPlan()
    for key in sorted(local):
        want = local[key]
        have = remote.get(key)
        if have is None:
            plan.upload[key] = "new"
            continue
        etag = normalise_etag(have.etag)
        state = manifest.get(key)
        if state is None or state.etag != etag:
            state = (heads or {}).get(key)
        if state is None:
            if have.size != want.size or (is_single_part_etag(etag) and etag != want.md5):
                # Definitely a different body (a KMS single-part ETag also lands here: uploaded once,
                # then the manifest knows its ETag).
                plan.upload[key] = "content"
            elif heads is None:
                plan.verify.append(key)
            else:
                plan.upload[key] = "unverified"
            continue
        if state.md5 != want.md5 or have.size != want.size:
            plan.upload[key] = "content"
        elif state.content_type != want.content_type:
            plan.upload[key] = "content-type"
        elif state.cache_control != want.cache_control:
            plan.upload[key] = "cache-control"
        else:
            plan.unchanged.append(key)
    if delete:
        plan.delete = sorted(k for k in remote if k not in local and k != manifest_key)
    return plan


def next_manifest(
    plan: SyncPlan,
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    uploaded_etags: Mapping[str, str],
    old: Mapping[str, ObjectState] | None = None,
    deleted: Iterable[str] = (),
) -> dict[str, ObjectState]:
    """The manifest after a run: uploaded keys with their new ETag, unchanged keys as listed, and
    (when not deleting) previously known stale keys whose object was not replaced."""
    old = old or {}
    gone = set(deleted)
    states: dict[str, ObjectState] = {}
    for key, etag in uploaded_etags.items():
        want = local[key]
        states[key] = ObjectState(want.md5, normalise_etag(etag), want.content_type, want.cache_control)
    for key in plan.unchanged:
        want = local[key]
        states[key] = ObjectState(want.md5, normalise_etag(remote[key].etag), want.content_type, want.cache_control)
    for key, state in old.items():
        if key in states or key in local or key in gone or key not in remote:
            continue
        if state.etag == normalise_etag(remote[key].etag):
            states[key] = state
    return states


def describe(key: str, state: LocalFile | ObjectState | None) -> str:
    if state is None:
        return f"{key}: (absent)"
    return f"{key}: md5={state.md5} content-type={state.content_type} cache-control={state.cache_control}"


def plan_diff(
    plan: SyncPlan,
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    known: Mapping[str, ObjectState],
    location: str,
) -> dict[str, str]:
    """Ansible ``--diff`` view of the plan: only the keys that change."""
    before, after = [], []
    for key in sorted(plan.upload):
        state = known.get(key)
        if state is None and key in remote:
            state = ObjectState(None, remote[key].etag, None, None)
        before.append(describe(key, state))
        after.append(describe(key, local[key]) + f" ({plan.upload[key]})")
    for key in plan.delete:
        before.append(describe(key, known.get(key) or ObjectState(None, remote[key].etag, None, None)))
    return {
        "before_header": f"{location} (stored)",
        "after_header": f"{location} (planned)",
        "before": "\n".join(before) + ("\n" if before else ""),
        "after": "\n".join(after) + ("\n" if after else ""),
    }


# --- CloudFront invalidation paths --------------------------------------------------------------


def invalidation_paths(keys: Iterable[str], index_document: str = "index.html") -> list[str]:
    """CloudFront paths for changed keys (relative to the origin path). ``dir/index.html`` is also
    served as ``dir/`` and the root ``index.html`` as ``/``, so those are invalidated too."""
    paths: set[str] = set()
    for key in keys:
        key = key.lstrip("/")
        if not key:
            continue
        paths.add("/" + key)
        if index_document and posixpath.basename(key) == index_document:
            directory = posixpath.dirname(key)
            paths.add(f"/{directory}/" if directory else "/")
    return sorted(quote(p, safe="/-_.~!$&'()*+,;=:@") for p in paths)


def _parent(path: str) -> str:
    """Directory of an invalidation path: '/a/b.js' -> '/a/', '/a/' -> '/', '/a/*' -> '/'."""
    trimmed = path[:-1] if path.endswith("/") or path.endswith("*") else path
    trimmed = trimmed.rstrip("/")
    parent = posixpath.dirname(trimmed)
    return parent.rstrip("/") + "/"


def collapse_paths(paths: Iterable[str], threshold: int) -> list[str]:
    """Keep at most ``threshold`` paths by replacing the busiest directories with ``dir/*``.

    Greedy: collapse the deepest directory whose wildcard alone makes the set fit, else the one that
    removes the most paths and repeat; ``/*`` is the last resort. CloudFront bills a wildcard as one path.
    """
    current = sorted(set(paths))
    threshold = max(1, threshold)
    while len(current) > threshold:
        counts: dict[str, int] = {}
        for path in current:
            directory = _parent(path)
            while True:
                counts[directory] = counts.get(directory, 0) + 1
                if directory == "/":
                    break
                directory = _parent(directory)
        candidates = [(d.count("/"), n, d) for d, n in counts.items() if d != "/" and n >= 2]
        if not candidates:
            return ["/*"]
        # The deepest wildcard that alone makes the set fit (least over-invalidation); else the one
        # that removes the most paths, and go round again.
        fitting = [c for c in candidates if len(current) - c[1] + 1 <= threshold]
        if fitting:
            best = max(fitting)[2]
        else:
            best = max(candidates, key=lambda c: (c[1], c[0]))[2]
        wildcard = best + "*"
        current = sorted({p for p in current if not p.startswith(best)} | {wildcard})
    return current


def caller_reference(paths: Iterable[str], build_hash: str = "") -> str:
    """Deterministic CallerReference: the same path set and build give the same reference, so a
    re-run does not create a second invalidation."""
    digest = hashlib.sha256()
    digest.update(build_hash.encode())
    for path in sorted(set(paths)):
        digest.update(b"\n" + path.encode())
    return "site-sync-" + digest.hexdigest()[:40]


# --- Restore (rollback) from bucket versions ------------------------------------------------------
#
# Every publish writes the manifest last, so in a versioned bucket the manifest's versions are the
# history of builds: version N describes build N key by key (md5, ETag, Content-Type, Cache-Control).
# A rollback reads the manifest version ``steps_back`` before the newest, finds for each of its keys
# the object version with that ETag, copies it over the key (a server-side copy, metadata included),
# deletes the keys that build lacked and writes that manifest again as the newest: so a second
# rollback with ``steps_back=1`` goes forward again, like the frontend rollback.


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of ListObjectVersions (a delete marker has no ETag)."""

    key: str
    version_id: str
    etag: str
    last_modified: float  # epoch seconds
    is_latest: bool = False
    delete_marker: bool = False


@dataclass
class RestorePlan:
    restore: dict[str, str] = field(default_factory=dict)  # key -> reason
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    sources: dict[str, ObjectVersion] = field(default_factory=dict)  # key -> version copied over it
    missing: list[str] = field(default_factory=list)  # keys whose version no longer exists

    @property
    def changed(self) -> bool:
        return bool(self.restore or self.delete)


def manifest_versions(
    versions: Iterable[ObjectVersion], manifest_key: str, steps_back: int = 1
) -> tuple[ObjectVersion, ObjectVersion]:
    """(current, target) manifest versions, from ListObjectVersions in its order (newest first).

    Delete markers are skipped: deleting the manifest does not change the objects, so the newest
    real version still describes what the bucket serves. Raises ValueError when there is no build
    ``steps_back`` publishes back.
    """
    if steps_back < 1:
        raise ValueError(f"steps_back must be 1 or more, got {steps_back}")
    real = [v for v in versions if v.key == manifest_key and not v.delete_marker]
    if len(real) <= steps_back:
        raise ValueError(
            f"{manifest_key} has {len(real)} stored version(s): there is no build {steps_back} publish(es) "
            "before the current one"
        )
    return real[0], real[steps_back]


def parse_manifest_strict(body: bytes | str | None, label: str) -> dict[str, ObjectState]:
    """Like ``parse_manifest``, but an unreadable body is an error (a restore cannot guess)."""
    import json

    try:
        data = json.loads(body or b"")
        valid = isinstance(data, dict) and data.get("version") == MANIFEST_VERSION and isinstance(data["objects"], dict)
    except (ValueError, KeyError, TypeError):
        valid = False
    states = parse_manifest(body) if valid else {}
    if not valid or len(states) != len(data["objects"]):
        raise ValueError(f"{label} is not a manifest of version {MANIFEST_VERSION}")
    return states


def plan_restore(
    target: Mapping[str, ObjectState],
    current: Mapping[str, ObjectState],
    remote: Mapping[str, RemoteObject],
    delete: bool = True,
    manifest_key: str | None = DEFAULT_MANIFEST_KEY,
) -> RestorePlan:
    """Decide per key: restore (with a reason), delete, or unchanged.

    ``target`` is the manifest of the build to go back to, ``current`` the newest manifest and
    ``remote`` the listing. A key is unchanged when its listed ETag is the target's and the current
    manifest vouches (same ETag) for the target's Content-Type and Cache-Control. Reasons: missing
    (no current object), content (other ETag), metadata (same body, other Content-Type or
    Cache-Control), unverified (same body, but no current manifest entry to prove the metadata).
    """
    plan = RestorePlan()
    for key in sorted(target):
        want = target[key]
        have = remote.get(key)
        if have is None:
            plan.restore[key] = "missing"
            continue
        etag = normalise_etag(have.etag)
        if etag != want.etag:
            plan.restore[key] = "content"
            continue
        state = current.get(key)
        if state is None or state.etag != etag:
            plan.restore[key] = "unverified"
        elif (state.content_type, state.cache_control) != (want.content_type, want.cache_control):
            plan.restore[key] = "metadata"
        else:
            plan.unchanged.append(key)
    if delete:
        plan.delete = sorted(k for k in remote if k not in target and k != manifest_key)
    return plan


def pick_version(versions: Iterable[ObjectVersion], key: str, etag: str, not_after: float) -> ObjectVersion | None:
    """The version of ``key`` with this ETag that was in place when the target manifest was written.

    ``versions`` in ListObjectVersions order (newest first). Several versions can share an ETag (the
    same body re-uploaded with other metadata): the newest one written no later than the manifest
    (``not_after``) is the one the manifest described; failing that (clock skew), the newest match.
    """
    etag = normalise_etag(etag)
    matching = [v for v in versions if v.key == key and not v.delete_marker and normalise_etag(v.etag) == etag]
    for version in matching:
        if version.last_modified <= not_after:
            return version
    return matching[0] if matching else None


def attach_sources(
    plan: RestorePlan,
    target: Mapping[str, ObjectState],
    versions: Mapping[str, Iterable[ObjectVersion]],
    not_after: float,
) -> RestorePlan:
    """Fill ``plan.sources`` (and ``plan.missing``) from each restored key's version listing. A key
    whose chosen version is already the latest one is unchanged after all (S3 refuses a copy of an
    object onto itself that changes nothing)."""
    for key in list(plan.restore):
        version = pick_version(versions.get(key, ()), key, target[key].etag, not_after)
        if version is None:
            plan.missing.append(key)
        elif version.is_latest:
            del plan.restore[key]
            plan.unchanged.append(key)
        else:
            plan.sources[key] = version
    plan.unchanged.sort()
    return plan


def restored_manifest(
    target: Mapping[str, ObjectState],
    copied_etags: Mapping[str, str],
    current: Mapping[str, ObjectState] | None = None,
    remote: Mapping[str, RemoteObject] | None = None,
    kept: Iterable[str] = (),
) -> dict[str, ObjectState]:
    """The manifest after a restore: the target's entries, with the ETag each copy got (a copy of a
    multipart object gets a single-part ETag), plus the still trusted current entries of ``kept``
    keys (not deleted because ``delete`` was off)."""
    states = {
        key: ObjectState(
            state.md5, normalise_etag(copied_etags.get(key, state.etag)), state.content_type, state.cache_control
        )
        for key, state in target.items()
    }
    for key in kept:
        state = (current or {}).get(key)
        have = (remote or {}).get(key)
        if state is not None and have is not None and state.etag == normalise_etag(have.etag):
            states[key] = state
    return states


def restore_diff(
    plan: RestorePlan,
    target: Mapping[str, ObjectState],
    current: Mapping[str, ObjectState],
    remote: Mapping[str, RemoteObject],
    location: str,
) -> dict[str, str]:
    """Ansible ``--diff`` view of a restore: only the keys that change."""

    def stored(key: str) -> ObjectState:
        state = current.get(key)
        have = remote[key]
        if state is not None and state.etag == normalise_etag(have.etag):
            return state
        return ObjectState(None, have.etag, None, None)

    before, after = [], []
    for key in sorted(plan.restore):
        before.append(describe(key, stored(key) if key in remote else None))
        source = plan.sources.get(key)
        version = f"version {source.version_id}, " if source else ""
        after.append(describe(key, target[key]) + f" ({version}{plan.restore[key]})")
    for key in plan.delete:
        before.append(describe(key, stored(key)))
    return {
        "before_header": f"{location} (stored)",
        "after_header": f"{location} (restored)",
        "before": "\n".join(before) + ("\n" if before else ""),
        "after": "\n".join(after) + ("\n" if after else ""),
    }
