"""Shared fixtures: a patched moto server on a free loopback port, and boto3 clients for it.

Each test session starts its own emulator (never the demo's on 5000), so test runs do not disturb a
running demo and helpers do not step on each other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
# The venv running the tests (make's VENV: .venv, or e.g. .venv-py3.13 for another Python).
BIN = Path(sys.executable).parent
REGION = "us-east-1"
# The project's collection. Tests import its plugins by their collection names
# (``from ansible_collections.cloudsite.aws.plugins.module_utils import site_sync``), as its modules
# import each other: pyproject's pythonpath puts ``collections`` on sys.path, and ``ansible_collections``
# is a namespace package that the bundled collections in site-packages share.
COLLECTION = ROOT / "collections" / "ansible_collections" / "cloudsite" / "aws"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The local data plane's switches: a test emulator has none unless the test asks (start_moto's dataplane),
# whatever the caller's shell exports (CI's second-Python leg exports them for its own `make demo`).
DATAPLANE_ENV = ("LOCAL_ALB_PORT", "LOCAL_EDGE_PORT", "LOCAL_DATAPLANE_DIR")


def start_moto(
    port: int, patched: bool = True, log_path: Path | None = None, dataplane: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in DATAPLANE_ENV} | (dataplane or {})
    code = (
        f"from local.moto_server import main; main(['--port', '{port}'])"
        if patched
        else f"from moto.server import main; main(['--port', '{port}'])"
    )
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited with {proc.returncode}")
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto did not start")


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    """URL of a patched moto server private to this test session."""
    port = free_port()
    proc = start_moto(port, log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    # Generous: on a loaded 2-core machine the server's threads take more than 10 s to stop.
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def plain_moto_url(tmp_path_factory):
    """URL of an unpatched moto server private to one test module: the emulator gap tests show each gap
    there, so the patch is what makes the difference."""
    port = free_port()
    proc = start_moto(port, patched=False, log_path=tmp_path_factory.mktemp("plain") / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def boto_client(url: str, service: str):
    """A boto3 client of ``service`` against the emulator at ``url`` (test credentials, REGION)."""
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def reset_moto(url: str) -> None:
    """Clear an emulator's state. Generous timeout: a reset drops every backend of a session-long emulator
    (and its stand-ins), which took more than 10 s in CI on a loaded 2-core machine."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=180).close()


@pytest.fixture
def moto_reset(moto_url):
    """Clear the emulator before a test that needs a blank account."""
    reset_moto(moto_url)
    return moto_url


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """Environment that points boto3 (and child processes) at the private emulator."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def aws_client(moto_url):
    def make(service: str, region: str = REGION):
        return boto3.client(
            service,
            endpoint_url=moto_url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


def docker_available() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    )


@pytest.fixture(scope="session")
def docker_engine():
    if not docker_available():
        pytest.fail("these tests need a running Docker engine (make setup starts one)")


def ansible_env(moto_url: str) -> dict[str, str]:
    """Environment for an ansible-playbook child process run against the private emulator."""
    env = {k: v for k, v in os.environ.items() if k not in DATAPLANE_ENV}
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "LOCAL_AWS_PORT": moto_url.rsplit(":", 1)[1],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PATH": f"{BIN}:{env.get('PATH', '')}",
        }
    )
    return env


# The PLAY RECAP line of the controller: groups ok, changed, unreachable, failed.
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Every host's PLAY RECAP line: groups host, ok, changed, unreachable, failed.
RECAP_HOSTS = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def changed(output: str) -> int:
    """The controller's changed count from a run's output; the run must not have failed a task."""
    match = RECAP.search(output)
    assert match, output[-3000:]
    assert match.group(4) == "0", output[-3000:]
    return int(match.group(2))


def run_playbook(
    moto_url: str,
    playbook: str | Path,
    *args: str,
    inventory: str | Path | None = None,
    json_output: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """The one way tests run a playbook: this venv's ansible-playbook, from the repository, against the
    emulator at ``moto_url`` (ansible_env), output captured. ``json_output`` switches to the
    ansible.posix.json callback (read it with ``json_tasks``)."""
    cmd = [str(BIN / "ansible-playbook")]
    if inventory is not None:
        cmd += ["-i", str(inventory)]
    run_env = ansible_env(moto_url)
    if json_output:
        run_env.update(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json")
    run_env.update(env or {})
    return subprocess.run(
        [*cmd, str(playbook), *args], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=timeout
    )


def json_tasks(stdout: str, host: str = "localhost") -> dict:
    """{"tasks": {task name: result} of ``host`` (last wins), "stats": its recap} from the JSON callback."""
    # The JSON report, then any line deploy_audit prints after it (the lock it released).
    out, _ = json.JSONDecoder().raw_decode(stdout.lstrip())
    tasks = {}
    for play in out["plays"]:
        for item in play["tasks"]:
            if host in item["hosts"]:
                tasks[item["task"]["name"].split(" : ", 1)[-1]] = item["hosts"][host]
    return {"tasks": tasks, "stats": out["stats"].get(host, {})}


@pytest.fixture
def slow_distribution_deploys():
    """``set_on(url)``: on that emulator a distribution needs two reads after a change to be Deployed (as on
    AWS it takes minutes) instead of none; moto's state manager is restored after the test."""
    urls: list[str] = []

    def post(url: str, action: str, body: dict) -> None:
        request = urllib.request.Request(
            f"{url}/moto-api/state-manager/{action}", data=json.dumps(body).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()

    def set_on(url: str) -> None:
        urls.append(url)
        transition = {"progression": "manual", "times": 2}
        post(url, "set-transition", {"model_name": "cloudfront::distribution", "transition": transition})

    yield set_on
    for url in urls:
        post(url, "unset-transition", {"model_name": "cloudfront::distribution"})


def pytest_terminal_summary(terminalreporter):
    """Print artifacts that tests recorded (e.g. the browser screenshot), so CI logs show their paths."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "screenshot" and getattr(report, "when", "") == "call":
                    terminalreporter.write_line(f"screenshot: {value} ({report.nodeid})")
