"""CloudFront invalidation paths for the keys a publish or a rollback changed. Pure: no AWS call."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable
from urllib.parse import quote


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
