"""The local environment's set-up pieces: image build skip-if-present, emulator start/ready/stop, and the
one-line errors for missing Docker, an unreachable emulator and an unknown inventory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from local import images
from tests.conftest import BIN, ROOT, ansible_env, free_port


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kw)


# --- images -------------------------------------------------------------------------------------


def test_mirror_url_reads_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
    )
    assert images.mirror_url(str(tmp_path)) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert images.mirror_url(str(tmp_path)) == "http://other.example/debian"


@pytest.mark.docker
def test_plain_image_build_is_skipped_when_tagged(docker_engine, monkeypatch):
    """First call builds (here: a stand-in build that tags an existing image), second call finds the tag."""
    tag = f"cloudsite-test/debian:skip-{os.getpid()}"
    source = images.plain_tag("bookworm")
    builds: list[str] = []

    def fake_debootstrap(release: str, target: str) -> None:
        builds.append(target)
        subprocess.run(["docker", "tag", source, target], check=True)

    monkeypatch.setattr(images, "plain_tag", lambda release: tag)
    monkeypatch.setattr(images, "_try_pull", lambda release: False)
    monkeypatch.setattr(images, "_debootstrap", fake_debootstrap)
    subprocess.run(["docker", "rmi", tag], capture_output=True)
    try:
        assert images.ensure_plain("bookworm") == "debootstrap"
        assert images.ensure_plain("bookworm") == "present"
        assert builds == [tag]
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True)


@pytest.mark.docker
def test_all_base_images_present_after_setup(docker_engine):
    listing = run([sys.executable, "-m", "local.images", "list"]).stdout.splitlines()
    # plain + systemd + the stand-in (admin) image per release, and the nginx base.
    assert len(listing) == 7
    assert all(line.endswith("\tpresent") for line in listing), listing
    assert "cloudsite/debian-systemd:bookworm-admin\tpresent" in listing


# --- emulator process ---------------------------------------------------------------------------


@pytest.fixture
def envctl(tmp_path):
    port = free_port()
    env = dict(
        os.environ, LOCAL_AWS_PORT=str(port), LOCAL_API_PORT=str(free_port()), LOCAL_STATE_DIR=str(tmp_path / "state")
    )
    env["LOCAL_DATAPLANE"] = "0"  # the data plane has its own tests (tests/integration/test_dataplane_alb.py)

    def call(*args: str):
        return run([sys.executable, "-m", "local.envctl", *args], env=env)

    yield call, port
    call("down")


def test_emulator_start_ready_reuse_reset_stop(envctl):
    call, port = envctl
    url = f"http://127.0.0.1:{port}"
    first = call("up")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"emulator started: {url}")
    assert call("up").stdout.startswith(f"emulator reused: {url}")
    assert "answering" in call("status").stdout

    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    s3.create_bucket(Bucket="reset-me")
    assert call("reset").returncode == 0
    assert s3.list_buckets()["Buckets"] == []

    down = call("down")
    assert down.returncode == 0 and "emulator stopped" in down.stdout
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1)
    assert "not answering" in call("status").stdout


def test_up_reuses_its_emulator_whatever_the_state(envctl):
    """Thousands of objects, and a deleted bucket that held objects (what a teardown leaves): moto's
    /moto-api/data.json is then slow or answers 500, yet every `up` reuses the emulator it started."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    call, port = envctl
    url = f"http://127.0.0.1:{port}"
    assert call("up").returncode == 0
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    s3.create_bucket(Bucket="big")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="big", Key=f"f/{i:05d}.html", Body=b"x" * 64), range(3000)))
    s3.create_bucket(Bucket="torn-down")
    s3.put_object(Bucket="torn-down", Key="index.html", Body=b"x")
    s3.delete_object(Bucket="torn-down", Key="index.html")
    s3.delete_bucket(Bucket="torn-down")
    # The state-sized endpoint the old probe used now fails (the condition after a teardown).
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=30)
    for _ in range(5):
        again = call("up")
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith(f"emulator reused: {url}"), again.stdout
    assert f"emulator: {url} answering" in call("status").stdout


def test_up_adopts_its_own_emulator_when_the_pid_file_is_lost(envctl, tmp_path):
    call, port = envctl
    first = call("up")
    assert first.returncode == 0, first.stderr
    (tmp_path / "state" / f"moto-{port}.pid").unlink()
    again = call("up")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"emulator reused: http://127.0.0.1:{port}")
    assert (tmp_path / "state" / f"moto-{port}.pid").read_text().strip() == first.stdout.split("pid ")[1].split(")")[0]


def test_a_foreign_moto_on_the_port_is_one_clear_line(envctl):
    """A plain moto server (not this checkout's) on the port is named as such, never reused."""
    from tests.conftest import start_moto

    call, port = envctl
    foreign = start_moto(port, patched=False)
    try:
        result = call("up")
    finally:
        foreign.terminate()
        foreign.wait(timeout=10)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: a moto server not managed here already answers on http://127.0.0.1:{port}; "
        "stop it or set LOCAL_AWS_PORT"
    ]


def test_emulator_port_taken_by_something_else_is_one_clear_line(envctl):
    call, port = envctl
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = call("up")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use by something that is not the emulator; "
        "set LOCAL_AWS_PORT to a free port"
    ]


def test_bad_port_value_is_one_clear_line(tmp_path):
    env = dict(os.environ, LOCAL_AWS_PORT="http", LOCAL_STATE_DIR=str(tmp_path))
    result = run([sys.executable, "-m", "local.envctl", "up"], env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: LOCAL_AWS_PORT must be a TCP port number, got 'http'"


def test_unreachable_emulator_stops_the_playbook_with_a_clear_line():
    port = free_port()
    env = ansible_env(f"http://127.0.0.1:{port}")
    result = run([str(BIN / "ansible-playbook"), "site.yml", "--list-hosts"], env=env)
    assert result.returncode != 0
    message = f"the local AWS emulator does not answer at http://127.0.0.1:{port}: start it with 'make local-up'"
    assert message in result.stdout + result.stderr


# --- make targets and bootstrap ------------------------------------------------------------------


def test_unknown_inventory_is_one_clear_line():
    result = run(["make", "-s", "check-inventory", "INVENTORY=staging"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: unknown inventory 'staging': choose one of ")
    assert "local" in lines[0] and "production" in lines[0]


def test_missing_docker_is_one_clear_line(tmp_path):
    """No docker, no dockerd, no apt-get on PATH: bootstrap says what to install and exits non-zero."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "grep", "id", "printf", "seq", "sleep"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = run(["/bin/bash", "local/bootstrap.sh", "docker"], env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no Docker engine: install Docker Engine (https://docs.docker.com/engine/install/) "
        "and start it, then re-run"
    )


@pytest.mark.docker
def test_down_removes_only_its_own_standins(envctl, docker_engine):
    call, port = envctl
    mine, other = f"standin-mine-{port}", f"standin-other-{port}"
    for name, endpoint in ((mine, f"http://127.0.0.1:{port}"), (other, "http://127.0.0.1:1")):
        subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "--label",
                "cloudsite.standin=1",
                "--label",
                f"cloudsite.endpoint={endpoint}",
                images.plain_tag("bookworm"),
                "sleep",
                "600",
            ],
            check=True,
            capture_output=True,
        )
    try:
        assert call("up").returncode == 0
        assert "removed 1 stand-in objects" in call("down").stdout
        names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        assert mine not in names and other in names
    finally:
        subprocess.run(["docker", "rm", "-f", mine, other], capture_output=True)
