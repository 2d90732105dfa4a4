"""One output root (issue 14.6): everything generated goes under build/, defined once per side (Ansible's
output_root in group_vars/all.yml, Python's tools.paths.OUTPUT_ROOT), ignored by git with one line, and
no tracked file writes to the locations used before."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from tests.conftest import ROOT
from tools import paths

GROUP_VARS = yaml.safe_load((ROOT / "group_vars" / "all.yml").read_text())
# The locations generated output had before build/ (README: "A checkout from before this layout").
OLD = re.compile(r"app/site/build|app/frontend/site/|(?<![\w/-])artifacts/|(?<![\w-])\.local(-\*)?/|bench/out")


def test_both_sides_name_the_same_root():
    assert GROUP_VARS["output_root"] == "{{ repo_root }}/build"
    assert paths.OUTPUT_ROOT == ROOT / "build"
    assert paths.LOCAL_STATE.parent == paths.OUTPUT_ROOT


def test_generated_paths_are_under_the_root():
    for var in ("site_build_dir", "site_config_json"):
        assert GROUP_VARS[var].startswith("{{ output_root }}/"), var
    sam = yaml.safe_load((ROOT / "roles" / "sam_backend" / "defaults" / "main.yml").read_text())
    assert sam["sam_backend_build_dir"].startswith("{{ output_root }}/")
    frontend = yaml.safe_load((ROOT / "playbooks" / "frontend.yml").read_text())
    (role,) = [r for play in frontend for r in play.get("roles", []) if r.get("role") == "frontend"]
    assert role["vars"]["frontend_archive_dir"].startswith("{{ output_root }}/")


def test_git_ignores_the_root_with_one_line():
    lines = [ln for ln in (ROOT / ".gitignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert [ln for ln in lines if "build" in ln] == ["/build/"]
    probe = ["git", "check-ignore", "--no-index", "build/site/index.html", "build/local/moto-5000.pid", "app/site"]
    ignored = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert ignored == ["build/site/index.html", "build/local/moto-5000.pid"]


def test_no_tracked_file_points_at_an_old_location():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    offenders = []
    for name in files.stdout.split("\0"):
        # The README's upgrade note names them on purpose, and this test does.
        if not name or name in ("README.md", "tests/unit/test_output_root.py") or not (ROOT / name).is_file():
            continue
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}:{n}: {ln.strip()}" for n, ln in enumerate(text.splitlines(), 1) if OLD.search(ln)]
    assert offenders == []


def test_the_emulator_state_follows_local_state_dir(tmp_path):
    code = "from local import envctl; print(envctl.STATE)"
    env = {k: v for k, v in os.environ.items() if k != "LOCAL_STATE_DIR"}
    default = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert default.stdout.strip() == str(paths.LOCAL_STATE), default.stderr
    moved = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"LOCAL_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert moved.stdout.strip() == str(tmp_path), moved.stderr
