"""The local side of a site publish: each file of the build as it should be stored (key, MD5,
Content-Type, Cache-Control), and the hash cache that spares re-reading unchanged files. Pure: no AWS call.

Hash cache: a JSON file ``{"version": 1, "files": {<path relative to src>: {"size", "mtime_ns",
"ctime_ns", "ino", "md5"}}}``. ``app/build_site.py --hash-cache`` writes one for the tree it just wrote
(from the bytes it holds, so a publish right after a build reads no file to hash it); ``s3_site_sync``
reads it, trusts an entry only while the file's size, mtime, ctime and inode are the ones recorded, hashes
every other file, and writes the list back. A file rewritten in place with the same size within one
timestamp tick of the recorded state (milliseconds on Linux file systems, a whole second on file systems
that store seconds) keeps all four values: that is the limit of the approach. A missing or unreadable
cache is an empty one.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import mimetypes
import os
import posixpath
import tempfile
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
HASH_CACHE_VERSION = 1
# What identifies one state of a file: size, mtime_ns, ctime_ns, inode. ctime cannot be set back (touch
# -d, cp -p and tar restore mtime, not ctime) and a file replaced by a rename has another inode.
Signature = tuple[int, int, int, int]


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


def signature(st: os.stat_result) -> Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class HashCache:
    """Relative path -> (signature, MD5) of the files of one tree (see the module docstring)."""

    FIELDS = ("size", "mtime_ns", "ctime_ns", "ino")

    def __init__(self, entries: Mapping[str, tuple[Signature, str]] | None = None) -> None:
        self.entries: dict[str, tuple[Signature, str]] = dict(entries or {})
        self.changed = False

    @classmethod
    def load(cls, path: str) -> HashCache:
        try:
            with open(path, "rb") as handle:
                data = json.load(handle)
            if data.get("version") != HASH_CACHE_VERSION:
                return cls()
            return cls(
                {
                    rel: (tuple(int(entry[f]) for f in cls.FIELDS), str(entry["md5"]))
                    for rel, entry in data["files"].items()
                }
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def get(self, rel: str, sig: Signature) -> str | None:
        entry = self.entries.get(rel)
        return entry[1] if entry is not None and entry[0] == sig else None

    def replace(self, entries: Mapping[str, tuple[Signature, str]]) -> None:
        """Hold exactly ``entries`` (the files just scanned); ``changed`` says whether that differs."""
        if dict(entries) != self.entries:
            self.entries = dict(entries)
            self.changed = True

    def render(self) -> str:
        files = {
            rel: dict(zip(self.FIELDS, sig, strict=True)) | {"md5": md5}
            for rel, (sig, md5) in sorted(self.entries.items())
        }
        return json.dumps({"version": HASH_CACHE_VERSION, "files": files}, separators=(",", ":"), sort_keys=True)

    def save(self, path: str) -> None:
        """Replace the file atomically (a reader sees the old list or the new one, never half of one)."""
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".hash-cache-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.render())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise


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
    hash_cache: HashCache | None = None,
) -> dict[str, LocalFile]:
    """Walk ``src`` and describe every file as it should be stored. Raises OSError on unreadable files.

    A file whose signature ``hash_cache`` holds is not read; the others are hashed, and the cache is left
    holding exactly the files scanned (``hash_cache.changed`` says whether it must be saved).
    """
    exclude = list(exclude)
    manifest = join_key(prefix, manifest_key)
    found: list[tuple[str, str, str, Signature]] = []
    for root, dirs, files in os.walk(src, onerror=_raise):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            if any(matches(p, rel) for p in exclude):
                continue
            key = join_key(prefix, rel)
            if key != manifest:
                # Stat before the read: a change during the hash then shows as another signature next time.
                found.append((key, rel, path, signature(os.stat(path))))
    digests = {rel: hash_cache.get(rel, sig) for _, rel, _, sig in found} if hash_cache is not None else {}
    missing = [(rel, path) for _, rel, path, _ in found if digests.get(rel) is None]
    if missing:
        # hashlib releases the GIL on large buffers: hash on a few threads.
        with ThreadPoolExecutor(max(2, min(8, os.cpu_count() or 2))) as pool:
            digests.update(
                zip([rel for rel, _ in missing], pool.map(file_md5, [path for _, path in missing]), strict=True)
            )
    if hash_cache is not None:
        hash_cache.replace({rel: (sig, digests[rel]) for _, rel, _, sig in found})
    return {
        key: LocalFile(
            key=key,
            path=path,
            size=sig[0],
            md5=digests[rel],
            content_type=content_type_for(rel, content_types),
            cache_control=cache_control_for(rel, cache_rules, default_cache_control),
        )
        for key, rel, path, sig in found
    }


def _raise(error: OSError) -> None:
    raise error


def join_key(prefix: str, rel: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{rel}" if prefix else rel


def strip_prefix(prefix: str, key: str) -> str:
    prefix = prefix.strip("/")
    return key[len(prefix) + 1 :] if prefix and key.startswith(prefix + "/") else key
