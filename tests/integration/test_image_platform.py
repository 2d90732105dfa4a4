"""The frontend image is built for the host's platform (from the instance type), not the controller's.

Runs the role frontend_build on the controller against a one-line Dockerfile,
with the platform the deploy passes (``web_image_platform``, from ``web_instance_type``). On this
x86_64 controller:

* a ``t3.micro`` target gets an image built for linux/amd64 (the build is asked for it, and the image
  is amd64);
* a ``t4g.micro`` target asks the build for linux/arm64; the controller has no arm64 emulation, so
  Docker's classic builder silently produces amd64, and the role stops with a message instead of
  shipping an image that dies with "exec format error" on the Graviton host.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow]

PLAYBOOK = """\
- name: Build the frontend image for the target's platform
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Show what the build is asked for
      ansible.builtin.debug:
        msg: "requested={{ frontend_build_platform }}"

    - name: Build the image
      ansible.builtin.include_role:
        name: frontend_build
      vars:
        frontend_build_version: "{{ test_version }}"
"""


@pytest.fixture
def build(tmp_path, docker_engine):
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM cloudsite/debian:bookworm\nRUN true\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    name = f"cloudsite-test/frontend-platform-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"))

    def run(instance_type: str) -> subprocess.CompletedProcess:
        extra = {
            "test_version": instance_type.replace(".", "-"),
            "web_instance_type": instance_type,
            "frontend_build_platform": "{{ web_image_platform }}",
            "frontend_build_image_name": name,
            "frontend_build_context": str(context),
            "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python"),
        }
        return subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "ansible-playbook"),
                "-i",
                str(ROOT / "inventories" / "local" / "hosts.yml"),
                # The shared defaults that derive web_architecture and web_image_platform from
                # web_instance_type (site.yml reads them as playbook group_vars).
                "-e",
                f"@{ROOT / 'group_vars' / 'all.yml'}",
                "-e",
                json.dumps(extra),
                str(tmp_path / "play.yml"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
        )

    yield name, run
    listed = subprocess.run(["docker", "images", "-q", name], capture_output=True, text=True).stdout.split()
    if listed:
        subprocess.run(["docker", "rmi", "-f", *set(listed)], capture_output=True)


def test_x86_instance_type_gets_an_amd64_image(build):
    name, run = build
    proc = run("t3.micro")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "requested=linux/amd64" in output
    arch = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", f"{name}:t3-micro"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert arch == "linux/amd64"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="shows the mismatch on an x86_64 controller")
def test_graviton_instance_type_asks_for_arm64_and_refuses_an_amd64_result(build):
    _, run = build
    proc = run("t4g.micro")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    failed = [line for line in output.splitlines() if line.startswith(("[ERROR]: Task failed", "fatal:"))]
    assert failed, output[-3000:]
    assert "not linux/arm64 (frontend_build_platform)" in output, output[-3000:]
    assert "built cloudsite-test/frontend-platform" in output and "for amd64" in output
