"""The static site's rollback (playbooks/rollback.yml -> static_site rollback -> s3_site_restore) against a
private emulator.

Publish build A, then build B (index.html changed, a new hashed asset, a multipart file removed) with the
static_site role → the real playbooks/rollback.yml in check mode changes nothing → the rollback makes the
bucket hold A again (bytes, Content-Type, Cache-Control), deletes B's new key, writes A's manifest, and
invalidates exactly the changed paths → publishing A now changes nothing → a second rollback goes forward to
B, and B published again from source after one more rollback is invalidated again. A rollback without
history, or whose needed version has expired, fails naming why and changes nothing.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, json_tasks, run_playbook
from tests.integration.test_site_sync import create_s3_distribution

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

MANIFEST = ".site-sync-manifest.json"
COMMENT = "cloudsite site"  # site_distribution_comment for project_name cloudsite
VIDEO = os.urandom(9 * 1024 * 1024)  # above the 8 MiB multipart threshold: its ETag is not an MD5

BUILD_A = {
    "index.html": b"<html><script src='js/app.aaaaaaaa.js'></script>A</html>",
    "js/app.aaaaaaaa.js": b"console.log('a')",
    "robots.txt": b"User-agent: *",
    "media/video.9f8e7d6c.bin": VIDEO,
}
BUILD_B = {
    "index.html": b"<html><script src='js/app.bbbbbbbb.js'></script>B</html>",
    "js/app.aaaaaaaa.js": b"console.log('a')",
    "js/app.bbbbbbbb.js": b"console.log('b')",
    "robots.txt": b"User-agent: *",
}
# What A and B differ in, as CloudFront paths (index.html is also served as /).
PATHS = ["/", "/index.html", "/js/app.bbbbbbbb.js", "/media/video.9f8e7d6c.bin"]


def write_site(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def ansible(moto_url: str, playbook: Path, *args: str, ok: bool = True) -> dict:
    """Run a playbook with the JSON callback; returns {task name: result} of localhost (last wins)."""
    inventory = ROOT / "inventories/local/hosts.yml"
    proc = run_playbook(moto_url, playbook, *args, inventory=inventory, json_output=True, timeout=300)
    assert (proc.returncode == 0) == ok, proc.stdout[-6000:] + proc.stderr[-3000:]
    return json_tasks(proc.stdout)


def task(res: dict, prefix: str) -> dict:
    found = [result for name, result in res["tasks"].items() if name.startswith(prefix)]
    assert found, f"no task {prefix!r} in {list(res['tasks'])}"
    return found[-1]


def restore_result(res: dict) -> dict:
    """The restore's result; when playbooks/rollback.yml stopped at its plan (a version is missing), the plan's."""
    found = [
        r for name, r in res["tasks"].items() if name.startswith(("Restore the earlier build", "Plan the restore"))
    ]
    assert found, f"no restore task in {list(res['tasks'])}"
    return found[-1]


def invalidation_result(res: dict) -> dict:
    return task(res, "Invalidate exactly the restored")


def snapshot(s3, bucket: str) -> dict[str, tuple]:
    """What the site serves: every key but the manifest -> (bytes, Content-Type, Cache-Control, metadata)."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        if item["Key"] != MANIFEST:
            got = s3.get_object(Bucket=bucket, Key=item["Key"])
            found[item["Key"]] = (got["Body"].read(), got["ContentType"], got["CacheControl"], got["Metadata"])
    return found


def manifest(s3, bucket: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read())["objects"]


def without_etags(objects: dict) -> dict:
    return {key: {k: v for k, v in entry.items() if k != "etag"} for key, entry in objects.items()}


def manifest_versions(s3, bucket: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=MANIFEST).get("Versions", [])
    return [v["VersionId"] for v in listed if v["Key"] == MANIFEST]


def invalidations(cf, dist: str) -> list[dict]:
    items = cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items") or []
    found = [cf.get_invalidation(DistributionId=dist, Id=i["Id"])["Invalidation"] for i in items]
    return sorted(found, key=lambda i: i["CreateTime"])


@pytest.fixture
def env(tmp_path, moto_reset, aws_client):
    s3, cf = aws_client("s3"), aws_client("cloudfront")
    bucket = "site-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    dist = create_s3_distribution(cf, bucket, COMMENT)
    url = moto_reset
    conn = {"region": "us-east-1", "endpoint_url": url, "access_key": "testing", "secret_key": "testing"}

    def publish_playbook(name: str, files: dict[str, bytes]) -> Path:
        site = write_site(tmp_path / name, files)
        play = {
            "name": "Publish the site",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/cloudsite.aws.aws": conn},
            "vars": {
                "static_site_src": str(site),
                "static_site_bucket": bucket,
                "static_site_distribution_comment": COMMENT,
                "static_site_build_hash": name,
                "static_site_invalidation_wait_delay": 1,
            },
            "roles": [{"role": "static_site"}],
        }
        path = tmp_path / f"publish-{name}.yml"
        path.write_text(json.dumps([play]))
        return path

    return {
        "s3": s3,
        "cf": cf,
        "bucket": bucket,
        "dist": dist,
        "url": url,
        "publish_a": publish_playbook("build-a", BUILD_A),
        "publish_b": publish_playbook("build-b", BUILD_B),
        # The real playbook, static part (--tags static): this emulator has no web host, and without the
        # tag the frontend part stops the run naming the inventory filter (tests/integration/test_standin_access.py).
        "rollback": [ROOT / "playbooks/rollback.yml", "-e", f"site_bucket_name={bucket}", "--tags", "static"],
    }


def test_rollback_restores_the_previous_build_and_a_second_one_goes_forward(env):
    s3, cf, bucket, url = env["s3"], env["cf"], env["bucket"], env["url"]
    ansible(url, env["publish_a"])
    built_a, manifest_a = snapshot(s3, bucket), manifest(s3, bucket)
    assert built_a["index.html"][1:3] == ("text/html; charset=utf-8", "no-cache")
    ansible(url, env["publish_b"])
    built_b, history = snapshot(s3, bucket), manifest_versions(s3, bucket)
    assert set(built_b) == set(BUILD_B)
    published = len(invalidations(cf, env["dist"]))

    # Check mode: the plan, the diff, and nothing written.
    checked = ansible(url, *env["rollback"], "--check", "--diff")
    plan = restore_result(checked)
    assert plan["changed"] is True
    assert plan["restored"] == ["index.html", "media/video.9f8e7d6c.bin"]
    assert plan["reasons"] == {"index.html": "content", "media/video.9f8e7d6c.bin": "missing"}
    assert (plan["deleted"], plan["unchanged"]) == (["js/app.bbbbbbbb.js"], ["js/app.aaaaaaaa.js", "robots.txt"])
    assert plan["target_manifest_version_id"] == history[1]
    assert "(version " in plan["diff"]["after"] and "js/app.bbbbbbbb.js: md5=" in plan["diff"]["before"]
    assert invalidation_result(checked)["paths"] == PATHS
    assert (snapshot(s3, bucket), manifest_versions(s3, bucket)) == (built_b, history)
    assert len(invalidations(cf, env["dist"])) == published

    started = time.monotonic()
    back = ansible(url, *env["rollback"])
    elapsed = time.monotonic() - started
    print(f"rollback B -> A: {elapsed:.1f} s (ansible-playbook, whole playbooks/rollback.yml)")
    assert restore_result(back)["restored_count"] == 2
    assert restore_result(back)["deleted_count"] == 1
    assert snapshot(s3, bucket) == built_a  # bytes, Content-Type, Cache-Control, content-md5 metadata
    assert without_etags(manifest(s3, bucket)) == without_etags(manifest_a)
    listed = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert all(entry["etag"] == listed[key] for key, entry in manifest(s3, bucket).items())  # trusted by the sync
    assert len(manifest_versions(s3, bucket)) == len(history) + 1
    newest = invalidations(cf, env["dist"])[-1]
    assert sorted(newest["InvalidationBatch"]["Paths"]["Items"]) == PATHS
    assert invalidation_result(back)["changed"] is True

    # The sync agrees the bucket holds A: publishing A again uploads nothing and invalidates nothing.
    again = ansible(url, env["publish_a"])
    assert again["stats"]["changed"] == 0
    assert task(again, "Sync the build")["unchanged_count"] == len(BUILD_A)

    # A second rollback goes forward to B: same paths, but a new invalidation (another CallerReference).
    forward = ansible(url, *env["rollback"])
    assert restore_result(forward)["restored"] == ["index.html", "js/app.bbbbbbbb.js"]
    assert restore_result(forward)["deleted"] == ["media/video.9f8e7d6c.bin"]
    assert snapshot(s3, bucket) == built_b
    assert invalidation_result(forward)["duplicate"] is False
    assert sorted(invalidations(cf, env["dist"])[-1]["InvalidationBatch"]["Paths"]["Items"]) == PATHS
    assert len(invalidations(cf, env["dist"])) == published + 2

    # Back to A once more, then B published again from its source: the same paths and build as B's first
    # publish, yet a new invalidation (the CallerReference names the state replaced, not just the build).
    ansible(url, *env["rollback"])
    assert snapshot(s3, bucket) == built_a
    republished = ansible(url, env["publish_b"])
    assert task(republished, "Sync the build")["uploaded"] == ["index.html", "js/app.bbbbbbbb.js"]
    assert task(republished, "Invalidate the changed")["duplicate"] is False
    assert task(republished, "Invalidate the changed")["paths"] == PATHS
    assert len(invalidations(cf, env["dist"])) == published + 4
    assert snapshot(s3, bucket) == built_b


def test_rollback_without_history_or_with_an_expired_version_fails_and_changes_nothing(env):
    s3, cf, bucket, url = env["s3"], env["cf"], env["bucket"], env["url"]
    ansible(url, env["publish_a"])
    first = ansible(url, *env["rollback"], ok=False)
    msg = restore_result(first)["msg"]
    assert "has 1 stored version(s)" in msg and "versioning: Enabled" in msg and "nothing was changed" in msg

    ansible(url, env["publish_b"])
    built_b, history, published = snapshot(s3, bucket), manifest_versions(s3, bucket), invalidations(cf, env["dist"])
    # A lifecycle rule expired A's index.html (its noncurrent version is gone for good).
    for version in s3.list_object_versions(Bucket=bucket, Prefix="index.html")["Versions"]:
        if not version["IsLatest"]:
            s3.delete_object(Bucket=bucket, Key="index.html", VersionId=version["VersionId"])
    for args in ((), ("--check",)):
        failed = restore_result(ansible(url, *env["rollback"], *args, ok=False))
        assert failed["missing"] == ["index.html"]
        assert "no stored version of index.html has the ETag" in failed["msg"]
    assert (snapshot(s3, bucket), manifest_versions(s3, bucket)) == (built_b, history)
    assert invalidations(cf, env["dist"]) == published
