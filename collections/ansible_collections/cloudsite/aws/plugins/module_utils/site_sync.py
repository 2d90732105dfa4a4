"""Planning a site publish: which keys to upload (and why), delete, leave, or verify first. No AWS call.

Planning model (the manifest itself: ``site_manifest``):
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.cloudsite.aws.plugins.module_utils.site_files import LocalFile
from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import (
    DEFAULT_MANIFEST_KEY,
    ObjectState,
    RemoteObject,
    describe,
    is_single_part_etag,
    normalise_etag,
)


@dataclass
class SyncPlan:
    upload: dict[str, str] = field(default_factory=dict)  # key -> reason
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)  # keys to HEAD before the plan is final

    @property
    def changed(self) -> bool:
        return bool(self.upload or self.delete)


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
