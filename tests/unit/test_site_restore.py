"""The pure restore planning behind s3_site_restore (the static site's rollback): no AWS, no emulator."""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible_collections.cloudsite.aws.plugins.module_utils import site_files, site_manifest, site_restore

MANIFEST = site_manifest.DEFAULT_MANIFEST_KEY
HTML = ("text/html; charset=utf-8", "no-cache")
ASSET = ("text/javascript; charset=utf-8", site_files.IMMUTABLE)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def state(data: bytes, meta=HTML, etag: str | None = None) -> site_manifest.ObjectState:
    return site_manifest.ObjectState(md5(data), etag or md5(data), *meta)


def remote(key: str, data: bytes, etag: str | None = None) -> site_manifest.RemoteObject:
    return site_manifest.RemoteObject(key, f'"{etag or md5(data)}"', len(data))


def version(key: str, vid: str, data: bytes | None, at: float, latest: bool = False) -> site_restore.ObjectVersion:
    if data is None:
        return site_restore.ObjectVersion(key, vid, "", at, latest, delete_marker=True)
    return site_restore.ObjectVersion(key, vid, f'"{md5(data)}"', at, latest)


# Build A: index v1, app.aaaaaaaa.js, about.html. Build B: index v2, app.bbbbbbbb.js (new), no about.html.
A = {
    "index.html": state(b"index v1"),
    "js/app.aaaaaaaa.js": state(b"a", ASSET),
    "about.html": state(b"about"),
}
B = {
    "index.html": state(b"index v2"),
    "js/app.aaaaaaaa.js": state(b"a", ASSET),
    "js/app.bbbbbbbb.js": state(b"b", ASSET),
}
LISTED_B = {
    "index.html": remote("index.html", b"index v2"),
    "js/app.aaaaaaaa.js": remote("js/app.aaaaaaaa.js", b"a"),
    "js/app.bbbbbbbb.js": remote("js/app.bbbbbbbb.js", b"b"),
    MANIFEST: remote(MANIFEST, b"{}"),
}


def test_manifest_versions_picks_current_and_steps_back():
    history = [
        version(MANIFEST, "m3", b"3", 30, latest=True),
        version("other", "x", b"x", 25),
        version(MANIFEST, "m2", b"2", 20),
        version(MANIFEST, "m1", b"1", 10),
    ]
    current, target = site_restore.manifest_versions(history, MANIFEST)
    assert (current.version_id, target.version_id) == ("m3", "m2")
    assert site_restore.manifest_versions(history, MANIFEST, steps_back=2)[1].version_id == "m1"


def test_manifest_versions_skip_delete_markers():
    # A deleted manifest does not change the objects: the newest real version still describes them.
    history = [version(MANIFEST, "dm", None, 40, latest=True), version(MANIFEST, "m2", b"2", 20)]
    history.append(version(MANIFEST, "m1", b"1", 10))
    assert [v.version_id for v in site_restore.manifest_versions(history, MANIFEST)] == ["m2", "m1"]


@pytest.mark.parametrize("count, steps", [(0, 1), (1, 1), (2, 2)])
def test_manifest_versions_without_enough_history_fail(count, steps):
    history = [version(MANIFEST, f"m{i}", b"x", 100 - i, latest=i == 0) for i in range(count)]
    with pytest.raises(ValueError, match=f"has {count} stored version"):
        site_restore.manifest_versions(history, MANIFEST, steps_back=steps)
    with pytest.raises(ValueError, match="steps_back must be 1 or more"):
        site_restore.manifest_versions(history, MANIFEST, steps_back=0)


def test_parse_manifest_strict_accepts_render_and_refuses_garbage():
    body = site_manifest.render_manifest(A)
    assert site_manifest.parse_manifest_strict(body, "m") == {
        k: site_manifest.ObjectState(*v.to_manifest().values()) for k, v in A.items()
    }
    assert site_manifest.parse_manifest_strict(json.dumps({"version": 1, "objects": {}}), "m") == {}
    for bad in (b"", b"not json", json.dumps({"version": 99, "objects": {}}), json.dumps({"version": 1})):
        with pytest.raises(ValueError, match="m is not a manifest"):
            site_manifest.parse_manifest_strict(bad, "m")
    with pytest.raises(ValueError):
        site_manifest.parse_manifest_strict(json.dumps({"version": 1, "objects": {"k": {"md5": "x"}}}), "m")  # no etag


def test_plan_restore_b_to_a():
    plan = site_restore.plan_restore(A, B, LISTED_B)
    assert plan.restore == {"about.html": "missing", "index.html": "content"}
    assert plan.unchanged == ["js/app.aaaaaaaa.js"]
    assert plan.delete == ["js/app.bbbbbbbb.js"]  # never the manifest itself
    assert plan.changed


def test_plan_restore_without_delete_keeps_extra_keys():
    assert site_restore.plan_restore(A, B, LISTED_B, delete=False).delete == []


def test_plan_restore_same_body_other_metadata_or_unvouched_is_restored():
    target = {"index.html": state(b"index v1")}
    listed = {"index.html": remote("index.html", b"index v1")}
    other_rules = {"index.html": state(b"index v1", ("text/html; charset=utf-8", "no-store"))}
    assert site_restore.plan_restore(target, other_rules, listed).restore == {"index.html": "metadata"}
    # No current entry, or one whose ETag is not the listed one (replaced behind our back): the listing
    # proves the body, not the Content-Type and Cache-Control.
    assert site_restore.plan_restore(target, {}, listed).restore == {"index.html": "unverified"}
    stale = {"index.html": state(b"index v1", etag="0" * 32)}
    assert site_restore.plan_restore(target, stale, listed).restore == {"index.html": "unverified"}
    assert site_restore.plan_restore(target, target, listed).unchanged == ["index.html"]


def test_plan_restore_of_the_current_build_changes_nothing():
    listed = {k: site_manifest.RemoteObject(k, B[k].etag, 1) for k in B} | {MANIFEST: LISTED_B[MANIFEST]}
    plan = site_restore.plan_restore(B, B, listed)
    assert (plan.restore, plan.delete, plan.changed) == ({}, [], False)
    assert plan.unchanged == sorted(B)


def test_pick_version_takes_the_one_in_place_when_the_manifest_was_written():
    # The same body uploaded twice (a Cache-Control rule changed at t=20): the manifest of t=15 means
    # the first upload, whose metadata a COPY brings back.
    versions = [
        version("index.html", "v3", b"other", 30, latest=True),
        version("index.html", "v2", b"index v1", 20),
        version("index.html", "v1", b"index v1", 10),
        version("index.html.bak", "x", b"index v1", 12),
    ]
    assert site_restore.pick_version(versions, "index.html", md5(b"index v1"), not_after=15).version_id == "v1"
    assert site_restore.pick_version(versions, "index.html", md5(b"index v1"), not_after=25).version_id == "v2"
    # Clock skew: nothing old enough, the newest match rather than nothing.
    assert site_restore.pick_version(versions, "index.html", md5(b"index v1"), not_after=5).version_id == "v2"
    assert site_restore.pick_version(versions, "index.html", md5(b"gone"), not_after=50) is None
    assert site_restore.pick_version([version("a", "dm", None, 9)], "a", "", not_after=50) is None


def test_attach_sources_finds_versions_and_reports_missing_ones():
    plan = site_restore.plan_restore(A, B, LISTED_B)
    versions = {
        "index.html": [
            version("index.html", "i2", b"index v2", 20, True),
            version("index.html", "i1", b"index v1", 10),
        ],
        # about.html was deleted by B, and a lifecycle rule expired its old version: only a marker left.
        "about.html": [version("about.html", "dm", None, 20, True)],
    }
    plan = site_restore.attach_sources(plan, A, versions, not_after=11)
    assert {k: v.version_id for k, v in plan.sources.items()} == {"index.html": "i1"}
    assert plan.missing == ["about.html"]


def test_attach_sources_latest_version_is_unchanged():
    # Same body, no manifest entry to vouch for it, but the version in place is the one the target meant.
    target = {"index.html": state(b"index v1")}
    plan = site_restore.plan_restore(target, {}, {"index.html": remote("index.html", b"index v1")})
    plan = site_restore.attach_sources(
        plan, target, {"index.html": [version("index.html", "i1", b"index v1", 10, True)]}, 20
    )
    assert (plan.restore, plan.unchanged, plan.changed) == ({}, ["index.html"], False)


def test_restored_manifest_takes_the_copies_etags():
    multipart = {"video.bin": state(b"big", ("video/mp4", site_files.IMMUTABLE), etag="f" * 32 + "-2")}
    states = site_restore.restored_manifest(multipart, {"video.bin": '"' + md5(b"big") + '"'})
    assert states["video.bin"] == state(b"big", ("video/mp4", site_files.IMMUTABLE))
    # Unchanged keys keep the target's entry; a kept (not deleted) key keeps its current entry if trusted.
    states = site_restore.restored_manifest(A, {}, B, LISTED_B, kept=["js/app.bbbbbbbb.js"])
    assert states == {**A, "js/app.bbbbbbbb.js": B["js/app.bbbbbbbb.js"]}
    assert site_restore.restored_manifest(A, {}, {}, LISTED_B, kept=["js/app.bbbbbbbb.js"]) == A


def test_restore_and_roll_forward_are_symmetric():
    # After B -> A, the bucket lists A's objects (copies, same ETags) and the manifest says A: going
    # "back" one step from there is B again, with the mirror plan.
    listed_a = {k: site_manifest.RemoteObject(k, v.etag, 1) for k, v in A.items()} | {MANIFEST: LISTED_B[MANIFEST]}
    forward = site_restore.plan_restore(B, A, listed_a)
    assert forward.restore == {"index.html": "content", "js/app.bbbbbbbb.js": "missing"}
    assert forward.delete == ["about.html"]
    assert forward.unchanged == ["js/app.aaaaaaaa.js"]


def test_restore_diff_lists_only_changes():
    plan = site_restore.plan_restore(A, B, LISTED_B)
    plan.sources["index.html"] = version("index.html", "i1", b"index v1", 10)
    diff = site_restore.restore_diff(plan, A, B, LISTED_B, "s3://site/")
    assert diff["before"].splitlines() == [
        "about.html: (absent)",
        f"index.html: md5={md5(b'index v2')} content-type=text/html; charset=utf-8 cache-control=no-cache",
        f"js/app.bbbbbbbb.js: md5={md5(b'b')} content-type=text/javascript; charset=utf-8 cache-control={site_files.IMMUTABLE}",
    ]
    after = diff["after"].splitlines()
    assert after[0].startswith("about.html: md5=") and after[0].endswith("(missing)")
    assert after[1].endswith("(version i1, content)")
    assert "app.aaaaaaaa" not in diff["before"] + diff["after"]


def test_manifest_digest_names_the_stored_build():
    assert site_manifest.manifest_digest({}) == ""
    assert site_manifest.manifest_digest(A) == site_manifest.manifest_digest(dict(reversed(list(A.items()))))
    assert len({site_manifest.manifest_digest(A), site_manifest.manifest_digest(B)}) == 2
