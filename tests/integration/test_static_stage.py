"""`playbooks/static.yml` alone publishes only the build the frontend containers serve (issue 15.5).

CloudFront serves the ALB (the containers) first and S3 only on failover, so a build published to S3 alone
stays invisible. The real playbook runs against a private emulator with one web host of this project:
a host reached over the local connection (its state file in a temporary directory), so the test controls
the version its containers record. The stand-in path (a deploy, then the stage alone with changed=0) is
`make stages-check` after `make demo`.

- the containers record another build → the run stops before any upload, naming both builds and the
  command that rolls the containers and publishes together; the bucket stays empty;
- they record this build (as after `site.yml`'s roll) → the stage publishes it;
- a deployment whose containers record nothing yet → the stage publishes (nothing serves another build).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_playbook
from tests.integration.test_site_sync import create_s3_distribution

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture
def stage(tmp_path, moto_reset, aws_client):
    s3 = aws_client("s3")
    bucket = "site-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    create_s3_distribution(aws_client("cloudfront"), bucket)
    state_dir = tmp_path / "frontend-state"
    # One web host of project cloudsite in the emulator's region, as the stand-in and aws_ec2 inventories
    # describe them; the local connection without become (the test does not run as a sudoer).
    web = {
        "web": {
            "hosts": {
                "web-under-test": {
                    "ansible_connection": "local",
                    "ansible_become": False,
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "ec2_region": "us-east-1",
                    "ec2_tags": {"project": "cloudsite", "role": "web"},
                    "frontend_state_dir": str(state_dir),
                }
            }
        }
    }
    (tmp_path / "web.yml").write_text(json.dumps(web))

    def run(recorded: str | None):
        if recorded is not None:
            state_dir.mkdir(exist_ok=True)
            (state_dir / "state.json").write_text(json.dumps({"current": recorded, "history": [recorded]}))
        return run_playbook(
            moto_reset,
            ROOT / "playbooks/static.yml",
            "-i",
            str(tmp_path / "web.yml"),
            "-e",
            f"site_bucket_name={bucket}",
            "-e",
            f"site_build_dir={tmp_path / 'build'}",
            "-e",
            f"site_config_json={tmp_path / 'config.json'}",
            inventory=ROOT / "inventories/local",
            timeout=600,
        )

    def objects() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}

    return run, objects


def test_static_alone_refuses_a_build_the_containers_do_not_serve(stage):
    run, objects = stage
    proc = run("0123456789ab")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    match = re.search(r"The frontend containers serve build (\S+), this build is (\S+): publishing", out)
    assert match, out[-3000:]
    assert match.group(1) == "0123456789ab" and match.group(2) != "0123456789ab"
    assert "site.yml --tags frontend,static" in out
    assert objects() == set()  # stopped before the sync: nothing published

    built = match.group(2)
    proc = run(built)  # the containers now serve this build, as after site.yml's roll
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "index.html" in objects()


def test_static_alone_publishes_when_no_container_serves_yet(stage, tmp_path: Path):
    run, objects = stage
    proc = run(None)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "index.html" in objects()
