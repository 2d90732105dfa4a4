"""The local side of a site publish: each file of the build as it should be stored (key, MD5,
Content-Type, Cache-Control). Pure: no AWS call.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import mimetypes
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import DEFAULT_MANIFEST_KEY

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
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    key: str
    path: str
    size: int
    md5: str
    content_type: str
    cache_control: str


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
