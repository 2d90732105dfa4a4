"""app/build_site.py: deterministic, content-hashed, minimal changes, check mode, config handling."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import build_site

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "app" / "site"
SCRIPT = ROOT / "app" / "build_site.py"


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path) -> Path:
    """A private copy of the real site (tests modify it)."""
    copy = tmp_path / "site"
    shutil.copytree(SITE, copy, ignore=shutil.ignore_patterns("build"))
    return copy


@pytest.fixture(autouse=True)
def no_source_date_epoch(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def test_building_twice_gives_identical_trees(src, tmp_path):
    first = build_site.build(src, tmp_path / "a")
    second = build_site.build(src, tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert first.hash == second.hash and first.built == second.built


def test_rebuild_of_unchanged_source_changes_nothing(src, tmp_path):
    out = tmp_path / "out"
    assert build_site.build(src, out).changed
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    for path in src.rglob("*"):  # touching without changing content must not matter either
        os.utime(path)
    again = build_site.build(src, out)
    assert not again.changed
    assert (again.added, again.updated, again.removed) == ((), (), ())
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_assets_get_content_hashed_names_and_pages_reference_them(src, tmp_path):
    out = tmp_path / "out"
    build_site.build(src, out)
    files = tree(out)
    hashed = [rel for rel in files if re.search(r"\.[0-9a-f]{8}\.(css|js|svg)$", rel)]
    assert {Path(rel).suffix for rel in hashed} == {".css", ".js", ".svg"}
    for rel in hashed:
        digest = re.search(r"\.([0-9a-f]{8})\.", rel).group(1)
        assert build_site.hashed_name(re.sub(r"\.[0-9a-f]{8}\.", ".", rel), files[rel]).endswith(
            f".{digest}{Path(rel).suffix}"
        )
    assert not any(rel in files for rel in ("css/site.css", "js/app.js", "images/avatar.svg"))
    html = files["index.html"].decode()
    refs = re.findall(r'(?:src|href)="([^"#:]+)"', html)
    assert refs, "index.html references no local files"
    for ref in refs:
        assert ref in files, f"index.html references {ref}, which the build does not contain"
    css = next(files[rel].decode() for rel in hashed if rel.endswith(".css"))
    (url,) = re.findall(r'url\("([^"]+)"\)', css)
    assert re.fullmatch(r"\.\./images/header-pattern\.[0-9a-f]{8}\.svg", url)
    assert url.removeprefix("../") in files


def test_version_json_is_the_hash_of_everything_else(src, tmp_path):
    out = tmp_path / "out"
    result = build_site.build(src, out)
    files = tree(out)
    version = json.loads(files.pop("version.json"))
    assert version == {"hash": result.hash, "built": result.built}
    assert version["hash"] == build_site.tree_hash(files)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", version["built"])


def test_a_changed_script_changes_only_what_references_it(src, tmp_path):
    out = tmp_path / "out"
    first = build_site.build(src, out)
    old_js = next(rel for rel in tree(out) if rel.startswith("js/"))
    with open(src / "js" / "app.js", "a") as fh:
        fh.write("\n/* edited */\n")
    second = build_site.build(src, out)
    new_js = next(rel for rel in tree(out) if rel.startswith("js/"))
    assert new_js != old_js
    assert second.added == (new_js,)
    assert set(second.updated) == {"index.html", "version.json"}
    assert second.removed == (old_js,)
    assert second.hash != first.hash


def test_a_changed_image_renames_it_and_the_stylesheet_that_uses_it(src, tmp_path):
    out = tmp_path / "out"
    build_site.build(src, out)
    before = tree(out)
    with open(src / "images" / "header-pattern.svg", "a") as fh:
        fh.write("<!-- edited -->\n")
    result = build_site.build(src, out)
    after = tree(out)
    renamed = {Path(rel).parent.as_posix() + "/" + Path(rel).name.split(".")[0] for rel in result.added}
    assert renamed == {"images/header-pattern", "css/site"}
    assert set(result.updated) == {"index.html", "version.json"}
    # Untouched assets keep their names and bytes.
    for rel in before:
        if rel.startswith(("js/", "images/avatar", "images/favicon")):
            assert after[rel] == before[rel]


def test_config_is_copied_in_canonical_form_and_removed_when_gone(src, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "config.json"
    config.write_text('{"apiBaseUrl":   "http://127.0.0.1:3001/prod", "a": 1}')
    with_config = build_site.build(src, out, config)
    assert "config.json" in with_config.added
    assert (out / "config.json").read_text() == '{\n  "a": 1,\n  "apiBaseUrl": "http://127.0.0.1:3001/prod"\n}\n'
    config.write_text('{"a": 1, "apiBaseUrl": "http://127.0.0.1:3001/prod"}')  # same content, other form
    assert not build_site.build(src, out, config).changed
    config.unlink()
    without = build_site.build(src, out, config)
    assert without.removed == ("config.json",)
    assert not (out / "config.json").exists()
    assert without.hash != with_config.hash


def test_stale_files_and_empty_directories_are_removed(src, tmp_path):
    out = tmp_path / "out"
    build_site.build(src, out)
    (out / "old" / "deep").mkdir(parents=True)
    (out / "old" / "deep" / "gone.txt").write_text("stale")
    result = build_site.build(src, out)
    assert result.removed == ("old/deep/gone.txt",)
    assert not (out / "old").exists()


def test_output_inside_the_source_is_not_built_into_itself(src):
    out = src / "build"
    first = build_site.build(src, out)
    second = build_site.build(src, out)
    assert not second.changed
    assert first.hash == second.hash
    assert not any(rel.startswith("build/") for rel in tree(out))


def test_check_mode_reports_without_writing(src, tmp_path):
    out = tmp_path / "out"
    planned = build_site.build(src, out, check=True)
    assert planned.changed and planned.checked_only and "index.html" in planned.added
    assert not out.exists()
    real = build_site.build(src, out)
    assert real.hash == planned.hash
    (src / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    before = tree(out)
    planned = build_site.build(src, out, check=True)
    assert set(planned.updated) == {"robots.txt", "version.json"}
    assert tree(out) == before


def test_source_date_epoch_sets_the_build_time(src, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = build_site.build(src, tmp_path / "out")
    assert result.built == "2023-11-14T22:13:20Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(build_site.BuildError, match="SOURCE_DATE_EPOCH"):
        build_site.build(src, tmp_path / "other")


def test_missing_source_or_bad_config_are_errors(src, tmp_path):
    with pytest.raises(build_site.BuildError, match="does not exist"):
        build_site.build(tmp_path / "nowhere", tmp_path / "out")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(build_site.BuildError, match="not valid JSON"):
        build_site.build(src, tmp_path / "out", bad)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env)


def test_cli_reports_hash_and_changed(src, tmp_path):
    out = tmp_path / "out"
    first = run_cli("--src", str(src), "--out", str(out))
    assert first.returncode == 0
    assert "changed=true" in first.stdout.splitlines()
    assert re.search(r"^hash=[0-9a-f]{64}$", first.stdout, re.M)
    second = run_cli("--src", str(src), "--out", str(out), "--json")
    data = json.loads(second.stdout)
    assert data["changed"] is False and data["hash"] == json.loads((out / "version.json").read_text())["hash"]
    check = run_cli("--src", str(src), "--out", str(tmp_path / "new"), "--check")
    assert "would be added: index.html" in check.stdout and not (tmp_path / "new").exists()
    bad = run_cli("--src", str(tmp_path / "nowhere"), "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.startswith("error:")


def test_hash_cache_lets_the_sync_publish_the_build_without_reading_a_file(src, tmp_path, monkeypatch):
    from ansible_collections.cloudsite.aws.plugins.module_utils import site_files

    out, cache = tmp_path / "build", tmp_path / ".build-hashes.json"
    build_site.build(src, out, hash_cache=cache)
    read: list[str] = []
    monkeypatch.setattr(site_files, "file_md5", lambda path: read.append(path) or "")
    loaded = site_files.HashCache.load(str(cache))
    files = site_files.scan_local(str(out), hash_cache=loaded)
    assert read == [] and not loaded.changed
    assert {k: f.md5 for k, f in files.items()} == {
        rel: hashlib.md5(data).hexdigest() for rel, data in tree(out).items()
    }
    # An unchanged rebuild leaves the list as it is; a changed one updates it; --check writes none.
    stamp = cache.stat().st_mtime_ns
    build_site.build(src, out, hash_cache=cache)
    assert cache.stat().st_mtime_ns == stamp
    (src / "index.html").write_text((src / "index.html").read_text() + "<!-- edit -->")
    build_site.build(src, out, hash_cache=cache)
    assert (
        site_files.HashCache.load(str(cache)).get("index.html", site_files.signature(os.stat(out / "index.html")))
        == hashlib.md5((out / "index.html").read_bytes()).hexdigest()
    )
    build_site.build(src, out, check=True, hash_cache=tmp_path / "check.json")
    assert not (tmp_path / "check.json").exists()
