"""s3_site_sync + cloudfront_site_invalidation through ansible-playbook against a private emulator.

check mode -> apply -> apply again (changed=0) -> assert on what the emulator holds, read back with boto3.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

MANIFEST = ".site-sync-manifest.json"
IMMUTABLE = "public, max-age=31536000, immutable"


def make_site(root: Path) -> Path:
    files = {
        "index.html": "<html><link href='css/site.0a1b2c3d.css'></html>",
        "blog/index.html": "<html>blog</html>",
        "css/site.0a1b2c3d.css": "body { color: black }",
        "js/app.1234abcd.js": "console.log(1)",
        "config.json": '{"api": "http://x"}',
        "robots.txt": "User-agent: *",
        "old.txt": "stale soon",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # 9 MiB: above the multipart threshold, so its ETag is "<md5 of md5s>-2".
    (root / "media").mkdir()
    (root / "media" / "video.9f8e7d6c.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    return root


def play(tmp_path: Path, moto_url: str, site: Path, bucket: str, **extra) -> Path:
    conn = {"region": "us-east-1", "endpoint_url": moto_url, "access_key": "testing", "secret_key": "testing"}
    variables = {
        "static_site_src": str(site),
        "static_site_bucket": bucket,
        "static_site_distribution_id": extra.pop("distribution_id", ""),
        "static_site_distribution_comment": extra.pop("comment", "cloudsite site"),
        "static_site_build_hash": "build-1",
        "static_site_invalidation_wait_delay": 1,
        **extra,
    }
    playbook = [
        {
            "name": "Publish the site",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/cloudsite.aws.aws": conn},
            "vars": variables,
            "roles": [{"role": "static_site"}],
        }
    ]
    path = tmp_path / f"play-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(json.dumps(playbook))
    return path


def run(playbook: Path, moto_url: str, *args: str, ok: bool = True) -> dict:
    proc = run_playbook(
        moto_url,
        playbook,
        *args,
        inventory=ROOT / "inventories/local/hosts.yml",
        json_output=True,
        env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
        timeout=300,
    )
    assert (proc.returncode == 0) == ok, proc.stdout[-4000:] + proc.stderr[-4000:]
    # The JSON report, then any line deploy_audit prints after it (the lock it released).
    out, _ = json.JSONDecoder().raw_decode(proc.stdout.lstrip())
    tasks = [(t["task"]["name"].split(" : ", 1)[-1], t["hosts"]["localhost"]) for t in out["plays"][0]["tasks"]]
    return {"tasks": tasks, "stats": out["stats"]["localhost"]}


def task(res: dict, prefix: str) -> dict:
    found = [result for name, result in res["tasks"] if name.startswith(prefix)]
    assert found, f"no task {prefix!r} in {[name for name, _ in res['tasks']]}"
    return found[-1]


def sync_result(res: dict) -> dict:
    return task(res, "Sync the build")


def invalidation_result(res: dict) -> dict:
    return task(res, "Invalidate the")


def keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def create_s3_distribution(cf, bucket: str, comment: str = "cloudsite site") -> str:
    """A distribution over the bucket, commented as the static stage looks it up; returns its id."""
    return cf.create_distribution(
        DistributionConfig={
            "CallerReference": bucket,
            "Comment": comment,
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": f"{bucket}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "ViewerProtocolPolicy": "allow-all",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )["Distribution"]["Id"]


@pytest.fixture
def env(tmp_path, moto_reset, aws_client):
    s3 = aws_client("s3")
    cf = aws_client("cloudfront")
    bucket = "site-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    dist = create_s3_distribution(cf, bucket)
    site = make_site(tmp_path / "site")
    return {"s3": s3, "cf": cf, "bucket": bucket, "dist": dist, "site": site, "tmp": tmp_path, "url": moto_reset}


def invalidations(cf, dist: str) -> list[dict]:
    items = cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items") or []
    return [cf.get_invalidation(DistributionId=dist, Id=i["Id"])["Invalidation"] for i in items]


def test_check_mode_then_apply_then_idempotent(env):
    s3, bucket, url = env["s3"], env["bucket"], env["url"]
    pb = play(env["tmp"], url, env["site"], bucket)

    checked = run(pb, url, "--check", "--diff")
    assert sync_result(checked)["uploaded_count"] == 8
    assert "index.html: md5=" in sync_result(checked)["diff"]["after"]
    assert keys(s3, bucket) == set()
    assert invalidations(env["cf"], env["dist"]) == []

    first = run(pb, url)
    result = sync_result(first)
    assert result["changed"] is True
    assert result["uploaded_count"] == 8
    assert keys(s3, bucket) == {
        f.relative_to(env["site"]).as_posix() for f in env["site"].rglob("*") if f.is_file()
    } | {MANIFEST}
    head = s3.head_object(Bucket=bucket, Key="index.html")
    assert (head["ContentType"], head["CacheControl"]) == ("text/html; charset=utf-8", "no-cache")
    head = s3.head_object(Bucket=bucket, Key="css/site.0a1b2c3d.css")
    assert (head["ContentType"], head["CacheControl"]) == ("text/css; charset=utf-8", IMMUTABLE)
    assert s3.head_object(Bucket=bucket, Key="config.json")["CacheControl"] == "no-cache"
    assert s3.head_object(Bucket=bucket, Key="robots.txt")["CacheControl"] == "public, max-age=300"
    assert s3.head_object(Bucket=bucket, Key="media/video.9f8e7d6c.bin")["ETag"].endswith('-2"')
    # The distribution was found by its Comment; the first publish invalidates every path, collapsed.
    assert invalidation_result(first)["changed"] is True
    assert len(invalidations(env["cf"], env["dist"])) == 1

    second = run(pb, url)
    assert second["stats"]["changed"] == 0
    assert sync_result(second)["uploaded_count"] == 0
    assert sync_result(second)["unchanged_count"] == 8
    assert sync_result(second)["verified"] == 0  # steady state: no HEAD at all
    assert invalidation_result(second).get("skipped") is True
    assert len(invalidations(env["cf"], env["dist"])) == 1


def test_one_file_change_uploads_one_and_invalidates_its_paths(env):
    s3, bucket, url = env["s3"], env["bucket"], env["url"]
    pb = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"])
    run(pb, url)
    # Same size, older mtime: aws s3 sync (size + mtime) would skip it.
    page = env["site"] / "blog" / "index.html"
    before = page.read_text()
    page.write_text(before.replace("blog", "BLOG"))
    os.utime(page, (1_000_000, 1_000_000))

    res = run(pb, url)
    assert sync_result(res)["uploaded"] == ["blog/index.html"]
    assert sync_result(res)["reasons"] == {"blog/index.html": "content"}
    assert s3.get_object(Bucket=bucket, Key="blog/index.html")["Body"].read().decode() == before.replace("blog", "BLOG")
    newest = sorted(invalidations(env["cf"], env["dist"]), key=lambda i: i["CreateTime"])[-1]
    assert sorted(newest["InvalidationBatch"]["Paths"]["Items"]) == ["/blog/", "/blog/index.html"]
    assert invalidation_result(res)["invalidation"]["status"] == "Completed"


def test_deletes_come_after_uploads_and_are_skipped_when_an_upload_fails(env):
    s3, bucket, url = env["s3"], env["bucket"], env["url"]
    pb = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"])
    run(pb, url)
    (env["site"] / "old.txt").unlink()
    (env["site"] / "new.bad").write_text("x")
    (env["site"] / "new.txt").write_text("fresh")

    # An upload that fails (a Content-Type header botocore refuses to send): the stale key must survive.
    bad = play(
        env["tmp"],
        url,
        env["site"],
        bucket,
        distribution_id=env["dist"],
        static_site_content_types={".bad": "text/x\nX-Evil: 1"},
    )
    failed = run(bad, url, ok=False)
    assert "deletes skipped" in sync_result(failed)["msg"]
    assert "old.txt" in keys(s3, bucket)
    assert "new.txt" in keys(s3, bucket)  # the other upload went through, and is remembered:
    (env["site"] / "new.bad").unlink()

    res = run(pb, url)
    assert sync_result(res)["uploaded"] == []
    assert sync_result(res)["deleted"] == ["old.txt"]
    assert "old.txt" not in keys(s3, bucket)
    newest = sorted(invalidations(env["cf"], env["dist"]), key=lambda i: i["CreateTime"])[-1]
    # The deleted key, plus what the failed run recorded as pending before its uploads: new.txt reached
    # the bucket then but was never invalidated (new.bad never did; invalidating it is harmless).
    assert newest["InvalidationBatch"]["Paths"]["Items"] == ["/new.bad", "/new.txt", "/old.txt"]


def test_cache_rule_change_reuploads_and_lost_manifest_is_rebuilt_by_head(env):
    s3, bucket, url = env["s3"], env["bucket"], env["url"]
    pb = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"])
    run(pb, url)

    rules = [
        {"glob": "*.html", "cache_control": "no-store"},
        {"glob": "*.txt", "cache_control": "public, max-age=60"},
        {"glob": "config.json", "cache_control": "no-cache"},
        {"glob": "*.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].*", "cache_control": IMMUTABLE},
    ]
    changed = play(
        env["tmp"], url, env["site"], bucket, distribution_id=env["dist"], static_site_cache_control_rules=rules
    )
    res = run(changed, url)
    assert sync_result(res)["reasons"] == {
        "blog/index.html": "cache-control",
        "index.html": "cache-control",
        "robots.txt": "cache-control",
        "old.txt": "cache-control",
    }
    assert s3.head_object(Bucket=bucket, Key="index.html")["CacheControl"] == "no-store"

    s3.delete_object(Bucket=bucket, Key=MANIFEST)
    res = run(changed, url)
    assert sync_result(res)["uploaded_count"] == 0
    assert sync_result(res)["verified"] == 8  # HEADs only because the manifest is gone (incl. multipart)
    assert sync_result(res)["manifest_written"] is True
    assert MANIFEST in keys(s3, bucket)
    assert sync_result(run(changed, url))["changed"] is False


def test_bad_input_fails_before_any_upload(env):
    s3, bucket, url = env["s3"], env["bucket"], env["url"]
    missing = play(env["tmp"], url, env["tmp"] / "nope", bucket, distribution_id=env["dist"])
    assert "is not a directory" in task(run(missing, url, ok=False), "Fail when the build directory")["msg"]

    nobucket = play(env["tmp"], url, env["site"], "no-such-bucket-here", distribution_id=env["dist"])
    assert "does not exist" in sync_result(run(nobucket, url, ok=False))["msg"]

    (env["site"] / "broken.css").symlink_to(env["tmp"] / "gone.css")
    unreadable = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"])
    assert "Cannot read" in sync_result(run(unreadable, url, ok=False))["msg"]
    assert keys(s3, bucket) == set()


def test_invalidation_is_not_duplicated(env, tmp_path):
    conn = {"region": "us-east-1", "endpoint_url": env["url"], "access_key": "testing", "secret_key": "testing"}
    invalidate = {
        "name": "Invalidate the paths",
        "cloudsite.aws.cloudfront_site_invalidation": {
            "distribution_id": env["dist"],
            "keys": [f"assets/a{i}.js" for i in range(40)] + ["index.html"],
            "wildcard_threshold": 5,
            "build_hash": "b1",
            **conn,
        },
    }
    pb = tmp_path / "inv.yml"
    pb.write_text(
        json.dumps([{"name": "Invalidate", "hosts": "localhost", "gather_facts": False, "tasks": [invalidate]}])
    )
    first = task(run(pb, env["url"]), "Invalidate the")
    assert first["changed"] is True
    assert first["paths"] == ["/", "/assets/*", "/index.html"]
    second = task(run(pb, env["url"]), "Invalidate the")
    assert (second["changed"], second["duplicate"]) == (False, True)
    assert second["invalidation"]["id"] == first["invalidation"]["id"]
    assert len(invalidations(env["cf"], env["dist"])) == 1


def test_an_interrupted_publish_is_invalidated_by_the_next_run(env):
    """A run that stops after the sync and before the invalidation (crash, Ctrl-C, CI timeout) leaves the
    bucket new and the cache old; the next run, which uploads nothing, still makes exactly that invalidation."""
    s3, cf, bucket, url = env["s3"], env["cf"], env["bucket"], env["url"]
    pb = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"])
    run(pb, url)
    before = len(invalidations(cf, env["dist"]))
    assert ".site-sync-pending-invalidation.json" not in keys(s3, bucket)
    page = env["site"] / "blog" / "index.html"
    page.write_text("<html>new blog</html>")

    # The interrupted run: everything up to the invalidation, which never happens.
    stopped = play(env["tmp"], url, env["site"], bucket, distribution_id=env["dist"], static_site_invalidate=False)
    assert sync_result(run(stopped, url))["uploaded"] == ["blog/index.html"]
    assert len(invalidations(cf, env["dist"])) == before
    record = json.loads(s3.get_object(Bucket=bucket, Key=".site-sync-pending-invalidation.json")["Body"].read())
    assert record == {"paths": ["blog/index.html"]}

    res = run(pb, url)
    assert sync_result(res)["uploaded"] == []
    created = invalidations(cf, env["dist"])
    assert len(created) == before + 1
    newest = sorted(created, key=lambda i: i["CreateTime"])[-1]
    assert sorted(newest["InvalidationBatch"]["Paths"]["Items"]) == ["/blog/", "/blog/index.html"]
    assert ".site-sync-pending-invalidation.json" not in keys(s3, bucket)

    # Done: the run after that changes nothing and invalidates nothing.
    again = run(pb, url)
    assert again["stats"]["changed"] == 0
    assert len(invalidations(cf, env["dist"])) == before + 1
