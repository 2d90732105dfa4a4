"""Planning a site rollback from the bucket's object versions. Pure: no AWS call.

Every publish writes the manifest last, so in a versioned bucket the manifest's versions are the
history of builds: version N describes build N key by key (md5, ETag, Content-Type, Cache-Control).
A rollback reads the manifest version ``steps_back`` before the newest, finds for each of its keys
the object version with that ETag, copies it over the key (a server-side copy, metadata included),
deletes the keys that build lacked and writes that manifest again as the newest: so a second
rollback with ``steps_back=1`` goes forward again, like the frontend rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import (
    DEFAULT_MANIFEST_KEY,
    ObjectState,
    RemoteObject,
    describe,
    normalise_etag,
)


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
