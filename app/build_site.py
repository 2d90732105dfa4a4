#!/usr/bin/env python3
"""Deterministic build of the static site: content-hashed asset names, rewritten HTML, version.json.

    python app/build_site.py --src app/site --out build/site [--config build/config.json]
                             [--hash-cache build/.site-hashes.json] [--check] [--json]

* css, js, images and fonts are renamed ``<stem>.<8 hex of sha256>.<ext>`` (served ``immutable``);
  ``url(...)`` references inside CSS and ``src``/``href`` attributes in HTML are rewritten to match.
  Images and fonts are hashed first, then CSS (whose hash covers the rewritten references), then JS,
  so a one-file change renames only that file and the files that reference it.
* ``config.json`` is the canonical form (sorted keys) of ``--config`` when that file exists; without
  it there is no config.json and the page shows its "not configured" messages.
* ``version.json`` = ``{"hash": <sha256 over every other output file>, "built": <ISO 8601 UTC>}``.
  ``built`` never comes from the wall clock: it is ``SOURCE_DATE_EPOCH`` when set; otherwise the
  ``built`` of the existing output when its hash is unchanged; otherwise the newest modification time
  among the inputs. An unchanged source and config therefore give a byte-identical tree.
* The output is replaced file by file: the new tree is built in a temporary directory next to
  ``--out``, then only differing files are moved in (assets first, HTML, config.json and version.json
  last, so a reader never sees HTML that names a missing asset) and stale files are deleted.

* ``--hash-cache`` writes the MD5 of every output file with the size, mtime, ctime and inode the file has
  after the build (the hash cache format of ``plugins/module_utils/site_files.py``): ``s3_site_sync`` then
  publishes the build without reading a file to hash it. The MD5s come from the bytes the build holds
  anyway; the file is rewritten only when it would differ, and not with ``--check``.

Prints the changes and ``hash=<hex>`` / ``changed=<true|false>`` (or one JSON object with ``--json``).
``--check`` reports what would change without writing. Exit status: 0 success, 2 bad input.
Standard library only: the controller runs it with the playbook's Python.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import posixpath
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

HASHED_FIRST = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico", ".woff", ".woff2"})
HASHED_CSS = frozenset({".css"})
HASHED_JS = frozenset({".js", ".mjs"})
HTML = frozenset({".html", ".htm"})
RESERVED = frozenset({"config.json", "version.json"})
HASH_LEN = 8
HASH_CACHE_VERSION = 1  # the format s3_site_sync reads (plugins/module_utils/site_files.py: HashCache)

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""")
_HTML_REF = re.compile(r"""\b(src|href)\s*=\s*(["'])([^"']+)\2""", re.IGNORECASE)


class BuildError(RuntimeError):
    """Invalid input (missing source, unreadable config); the message names it."""


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """Outcome of a build: the content hash and the relative paths that changed in ``out``."""

    hash: str
    built: str
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    checked_only: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["changed"] = self.changed
        for key in ("added", "updated", "removed"):
            data[key] = list(data[key])
        return data


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hashed_name(rel: str, data: bytes) -> str:
    """``css/site.css`` + content -> ``css/site.<8 hex>.css``."""
    head, ext = posixpath.splitext(rel)
    return f"{head}.{_sha256(data)[:HASH_LEN]}{ext}"


def _is_local(ref: str) -> bool:
    return not (
        ref.startswith(("#", "/", "data:", "mailto:", "tel:", "javascript:"))
        or re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I)
    )


def _split_ref(ref: str) -> tuple[str, str]:
    """Split ``a/b.css?x#y`` into the path and the ``?x#y`` suffix."""
    cut = min((i for i in (ref.find("?"), ref.find("#")) if i >= 0), default=len(ref))
    return ref[:cut], ref[cut:]


def _rewrite_ref(ref: str, from_rel: str, renames: dict[str, str]) -> str:
    if not _is_local(ref):
        return ref
    path, suffix = _split_ref(ref)
    base = posixpath.dirname(from_rel)
    target = posixpath.normpath(posixpath.join(base, path))
    if target not in renames:
        return ref
    return posixpath.relpath(renames[target], base or ".") + suffix


def rewrite_css(text: str, from_rel: str, renames: dict[str, str]) -> str:
    """Point ``url(...)`` references of a stylesheet at the hashed names."""

    def sub(m: re.Match) -> str:
        return f"url({m.group(1)}{_rewrite_ref(m.group(2), from_rel, renames)}{m.group(1)})"

    return _CSS_URL.sub(sub, text)


def rewrite_html(text: str, from_rel: str, renames: dict[str, str]) -> str:
    """Point ``src``/``href`` attributes of a page at the hashed names (and inline ``url(...)``)."""

    def sub(m: re.Match) -> str:
        return f"{m.group(1)}={m.group(2)}{_rewrite_ref(m.group(3), from_rel, renames)}{m.group(2)}"

    return rewrite_css(_HTML_REF.sub(sub, text), from_rel, renames)


def _source_files(src: Path, exclude: Iterable[Path]) -> dict[str, Path]:
    """Relative POSIX path -> file, sorted; skips dotfiles, the output directory and reserved names."""
    excluded = [p.resolve() for p in exclude]
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = (here / name).relative_to(src).as_posix()
            if rel in RESERVED:
                continue
            files[rel] = here / name
    return dict(sorted(files.items()))


def render(src: Path, config: Path | None = None, exclude: Iterable[Path] = ()) -> dict[str, bytes]:
    """The output tree (relative path -> bytes) except ``version.json``; pure apart from reading."""
    if not src.is_dir():
        raise BuildError(f"source directory {src} does not exist")
    sources = {rel: path.read_bytes() for rel, path in _source_files(src, exclude).items()}
    if not any(posixpath.splitext(rel)[1].lower() in HTML for rel in sources):
        raise BuildError(f"source directory {src} holds no HTML page")
    out: dict[str, bytes] = {}
    renames: dict[str, str] = {}
    for group in (HASHED_FIRST, HASHED_CSS, HASHED_JS):
        for rel, data in sources.items():
            if posixpath.splitext(rel)[1].lower() not in group:
                continue
            if group is HASHED_CSS:
                data = rewrite_css(data.decode("utf-8"), rel, renames).encode("utf-8")
            renames[rel] = hashed_name(rel, data)
            out[renames[rel]] = data
    for rel, data in sources.items():
        if rel in renames:
            continue
        if posixpath.splitext(rel)[1].lower() in HTML:
            data = rewrite_html(data.decode("utf-8"), rel, renames).encode("utf-8")
        out[rel] = data
    if config is not None and config.is_file():
        try:
            parsed = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BuildError(f"config file {config} is not valid JSON: {exc}") from exc
        out["config.json"] = (json.dumps(parsed, sort_keys=True, indent=2) + "\n").encode("utf-8")
    return dict(sorted(out.items()))


def tree_hash(files: dict[str, bytes]) -> str:
    """Content hash of a whole tree: sha256 over sorted ``path\\0sha256(content)\\n`` lines."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(f"{rel}\0{_sha256(files[rel])}\n".encode())
    return digest.hexdigest()


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _previous_version(out: Path) -> dict:
    try:
        data = json.loads((out / "version.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_time(content_hash: str, out: Path, inputs: Iterable[Path], env: dict[str, str] | None = None) -> str:
    """The deterministic ``built`` stamp (see the module docstring for the order of sources)."""
    env = os.environ if env is None else env
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        if not raw.isdigit():
            raise BuildError(f"SOURCE_DATE_EPOCH must be an integer number of seconds, got {raw!r}")
        return _iso(int(raw))
    previous = _previous_version(out)
    if previous.get("hash") == content_hash and isinstance(previous.get("built"), str):
        return previous["built"]
    return _iso(max((int(p.stat().st_mtime) for p in inputs), default=0))


def _existing(out: Path) -> dict[str, Path]:
    if not out.is_dir():
        return {}
    return {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*")) if p.is_file() or p.is_symlink()}


def _order(rel: str) -> tuple[int, str]:
    """Write assets before the pages and the pages before config.json/version.json."""
    if rel == "version.json":
        return (3, rel)
    if rel == "config.json":
        return (2, rel)
    if posixpath.splitext(rel)[1].lower() in HTML:
        return (1, rel)
    return (0, rel)


def write_hash_cache(path: Path, out: Path, files: dict[str, bytes]) -> None:
    """Record each output file's MD5 under the signature it has now (see the module docstring)."""
    entries = {}
    for rel in sorted(files):
        st = os.stat(out / rel)
        entries[rel] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino,
            "md5": hashlib.md5(files[rel], usedforsecurity=False).hexdigest(),
        }
    text = json.dumps({"version": HASH_CACHE_VERSION, "files": entries}, separators=(",", ":"), sort_keys=True)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=".hash-cache-", delete=False
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def build(
    src: Path, out: Path, config: Path | None = None, check: bool = False, hash_cache: Path | None = None
) -> BuildResult:
    """Build ``src`` into ``out`` (or, with ``check``, only compute what would change)."""
    src, out = Path(src), Path(out)
    config = Path(config) if config else None
    files = render(src, config, exclude=[out])
    content_hash = tree_hash(files)
    inputs = list(_source_files(src, [out]).values()) + ([config] if config is not None and config.is_file() else [])
    built = build_time(content_hash, out, inputs)
    files["version.json"] = (json.dumps({"built": built, "hash": content_hash}, indent=2) + "\n").encode()

    existing = _existing(out)
    added = sorted(rel for rel in files if rel not in existing)
    updated = sorted(
        rel
        for rel in files
        if rel in existing and (existing[rel].is_symlink() or existing[rel].read_bytes() != files[rel])
    )
    removed = sorted(rel for rel in existing if rel not in files)
    result = BuildResult(content_hash, built, tuple(added), tuple(updated), tuple(removed), checked_only=check)
    if check:
        return result
    if result.changed:
        _replace(out, files, added + updated, removed)
    if hash_cache is not None:
        write_hash_cache(Path(hash_cache), out, files)
    return result


def _replace(out: Path, files: dict[str, bytes], written: list[str], removed: list[str]) -> None:
    """Move the ``written`` files into ``out`` in reading order, then delete ``removed`` and empty directories."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out.parent) as tmp:
        staging = Path(tmp)
        for rel in sorted(written, key=_order):
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[rel])
            target.chmod(0o644)
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, dest)
    for rel in removed:
        (out / rel).unlink()
    for directory in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, type=Path, help="site source directory")
    parser.add_argument("--out", required=True, type=Path, help="build output directory")
    parser.add_argument("--config", type=Path, help="runtime config JSON copied as config.json if it exists")
    parser.add_argument("--hash-cache", type=Path, help="write each output file's MD5 here, for s3_site_sync")
    parser.add_argument("--check", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    try:
        result = build(args.src, args.out, args.config, check=args.check, hash_cache=args.hash_cache)
    except (BuildError, OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
        return 0
    prefix = "would be " if args.check else ""
    for kind in ("added", "updated", "removed"):
        for rel in getattr(result, kind):
            print(f"{prefix}{kind}: {rel}")
    print(f"hash={result.hash}")
    print(f"changed={'true' if result.changed else 'false'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
