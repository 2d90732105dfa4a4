"""roles/site_build: check mode writes nothing, apply builds, the second run is changed=0."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

PLAYBOOK = """\
- name: Build the site
  hosts: localhost
  gather_facts: false
  roles:
    - role: site_build
  tasks:
    - name: Show the reported hash
      ansible.builtin.debug:
        msg: "site_build_hash={{ site_build_hash }}"
"""


@pytest.fixture
def run_role(tmp_path):
    src = tmp_path / "site"
    shutil.copytree(ROOT / "app" / "site", src, ignore=shutil.ignore_patterns("build"))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    extra = {
        "site_build_src": str(src),
        "site_build_out": str(tmp_path / "build"),
        "site_build_config": str(tmp_path / "config.json"),
        "site_build_script": str(ROOT / "app" / "build_site.py"),
        "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python"),
    }
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"))
    env.pop("SOURCE_DATE_EPOCH", None)

    def run(*flags: str) -> dict:
        proc = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "ansible-playbook"),
                "-i",
                "localhost,",
                "-c",
                "local",
                "-e",
                json.dumps(extra),
                *flags,
                str(tmp_path / "play.yml"),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        recap = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+).*failed=(\d+)", proc.stdout)
        reported = re.search(r"site_build_hash=([0-9a-f]{64})", proc.stdout)
        return {"changed": int(recap[2]), "failed": int(recap[3]), "hash": reported[1]}

    return run, tmp_path


def test_check_apply_idempotence_and_config(run_role):
    run, tmp = run_role
    assert run("--check")["changed"] == 1
    assert not (tmp / "build").exists(), "check mode wrote the build"

    first = run()
    assert first["changed"] == 1
    version = json.loads((tmp / "build" / "version.json").read_text())
    assert first["hash"] == version["hash"]
    assert not (tmp / "build" / "config.json").exists()

    assert run()["changed"] == 0
    assert run("--check")["changed"] == 0

    (tmp / "config.json").write_text('{"apiBaseUrl": "http://127.0.0.1:3001/prod"}')
    with_config = run()
    assert with_config["changed"] == 1
    assert json.loads((tmp / "build" / "config.json").read_text()) == {"apiBaseUrl": "http://127.0.0.1:3001/prod"}
    assert with_config["hash"] != version["hash"]
    assert run()["changed"] == 0
