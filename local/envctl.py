"""The local environment's managed processes: the patched moto server and the local API (local.local_api).

    python -m local.envctl up        start (or reuse) the emulator, wait until it answers
    python -m local.envctl status    say what runs where
    python -m local.envctl reset     clear the emulator's state (POST /moto-api/reset)
    python -m local.envctl down      stop processes, remove stand-in containers/volumes and state
    python -m local.envctl urls      JSON: the local edge and ALB URLs (local.dataplane)

State (pid files, logs, the data plane's files) lives in ``build/local/`` (``tools.paths.LOCAL_STATE``), or in
``LOCAL_STATE_DIR`` when that is set. Port: env ``LOCAL_AWS_PORT`` (default 5000). Every failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.paths import LOCAL_STATE

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("LOCAL_STATE_DIR") or LOCAL_STATE)
HOST = "127.0.0.1"


class EnvError(RuntimeError):
    pass


def port() -> int:
    raw = os.environ.get("LOCAL_AWS_PORT", "5000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise EnvError(f"LOCAL_AWS_PORT must be a TCP port number, got {raw!r}")
    return int(raw)


def endpoint(p: int | None = None) -> str:
    return f"http://{HOST}:{p or port()}"


def moto_name(p: int | None = None) -> str:
    """Pid and log files are per port, so emulators on two ports of one checkout never share one."""
    return f"moto-{p or port()}"


def api_name(p: int | None = None) -> str:
    return f"local_api-{p or local_api_port()}"


def _pidfile(name: str) -> Path:
    return STATE / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read_pid(name: str) -> int | None:
    try:
        pid = int(_pidfile(name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _port_open(p: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((HOST, p)) == 0


HEALTH_PATH = "/moto-api/cloudsite/health"


def probe(url: str, timeout: float = 2.0) -> dict | None:
    """Who answers at ``url``: the identity a ``local.moto_server`` reports, or None.

    The health route is answered before moto sees the request, so its cost and success do not depend on
    the emulator's state (moto's ``/moto-api/data.json`` serialises all of it, and fails after a
    teardown). ``{}`` means a plain moto server (not this project's) answers.
    """
    try:
        with urllib.request.urlopen(f"{url}{HEALTH_PATH}", timeout=timeout) as resp:
            data = json.load(resp)
            if resp.status == 200 and isinstance(data, dict) and data.get("service") == "cloudsite-moto":
                return data
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError):
        return None
    # Something answered HTTP but not our route: a moto server of someone else's answers /moto-api/ here.
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=timeout) as resp:
            return {} if resp.status == 200 and b"moto" in resp.read(4096).lower() else None
    except (OSError, ValueError):
        return None


def is_moto(url: str, timeout: float = 2.0) -> bool:
    return bool(probe(url, timeout))


def _cmdline(pid: int) -> list[str]:
    """The process's argument vector (Linux /proc; ps elsewhere, e.g. macOS)."""
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0") if a]
    except OSError:
        pass
    try:
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False)
    except OSError:
        return []
    return out.stdout.split()


def owned_pid(name: str, module: str, p: int) -> int | None:
    """The pid from ``<STATE>/<name>.pid`` if that process is alive and is this checkout's ``module`` on port p.

    Ownership comes from the pid file and the process's command line, never from how fast it answers.
    """
    pid = _read_pid(name)
    if pid is None:
        return None
    argv = _cmdline(pid)
    if module in argv and "--port" in argv and argv[argv.index("--port") + 1 : argv.index("--port") + 2] == [str(p)]:
        return pid
    return None


def wait_ready(url: str, timeout: float = 30.0, pid: int | None = None) -> float:
    """Poll until this project's emulator answers; return seconds waited. Fail early if the process died."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if probe(url, timeout=1.0):
            return time.monotonic() - started
        if pid is not None and not _alive(pid):
            raise EnvError(f"the emulator exited during start-up; see {STATE / (moto_name() + '.log')}")
        time.sleep(0.1)
    raise EnvError(f"the emulator did not answer at {url} within {timeout:.0f} s")


def start_moto(p: int | None = None) -> tuple[int, str]:
    p = p or port()
    url = endpoint(p)
    legacy = owned_pid("moto", "local.moto_server", p)
    if legacy:
        # Started by an earlier version of this file (one pid file per checkout, no health route):
        # restart it under the current code rather than call it foreign.
        stop("moto", "local.moto_server", p)
        stop("local_api", "local.local_api", local_api_port())
    pid = owned_pid(moto_name(p), "local.moto_server", p)
    if pid:
        # Ours by pid file and command line: wait for it (a busy emulator is slow, not foreign).
        try:
            wait_ready(url, timeout=60, pid=pid)
        except EnvError as exc:
            raise EnvError(
                f"the emulator started here (pid {pid}) does not answer at {url}: {exc}; run 'make local-down'"
            ) from exc
        return pid, "reused"
    if _port_open(p):
        who = probe(url)
        if who and who.get("root") == str(ROOT) and who.get("port") == p and _alive(int(who.get("pid", 0))):
            # This checkout's emulator whose pid file was lost: adopt it.
            STATE.mkdir(parents=True, exist_ok=True)
            _pidfile(moto_name(p)).write_text(str(who["pid"]))
            return int(who["pid"]), "reused"
        if who:
            raise EnvError(
                f"an emulator of another checkout ({who.get('root')}, pid {who.get('pid')}) answers on {url}; "
                "stop it there ('make local-down') or set LOCAL_AWS_PORT"
            )
        if who is not None:
            raise EnvError(f"a moto server not managed here already answers on {url}; stop it or set LOCAL_AWS_PORT")
        raise EnvError(
            f"port {p} on {HOST} is in use by something that is not the emulator; set LOCAL_AWS_PORT to a free port"
        )
    STATE.mkdir(parents=True, exist_ok=True)
    log = open(STATE / f"{moto_name(p)}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.moto_server", "--host", HOST, "--port", str(p)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=dataplane_env(p),
    )
    _pidfile(moto_name(p)).write_text(str(proc.pid))
    wait_ready(url, pid=proc.pid)
    return proc.pid, "started"


def dataplane_env(moto_port: int) -> dict[str, str]:
    """The emulator's environment with its data plane (local ALB + edge, ``local.dataplane``) switched
    on: LOCAL_ALB_PORT (default 8100) and LOCAL_EDGE_PORT (default 8180); LOCAL_DATAPLANE=0 turns it
    off. Builds the data plane image the first time (Debian's haproxy and nginx, ~30 s)."""
    env = dict(os.environ)
    if env.get("LOCAL_DATAPLANE", "1") == "0":
        env.pop("LOCAL_ALB_PORT", None)
        env.pop("LOCAL_EDGE_PORT", None)
        return env
    for var, default in (("LOCAL_ALB_PORT", "8100"), ("LOCAL_EDGE_PORT", "8180")):
        raw = env.setdefault(var, default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise EnvError(f"{var} must be a TCP port number, got {raw!r}")
        if _port_open(int(raw)):
            raise EnvError(f"port {raw} ({var}) on {HOST} is in use; set {var} to a free port")
    env.setdefault("LOCAL_DATAPLANE_DIR", str(STATE / f"dataplane-{moto_port}"))
    from local import dataplane

    if subprocess.run(["docker", "image", "inspect", dataplane.IMAGE], capture_output=True).returncode != 0:
        build = subprocess.run(
            ["docker", "build", "-q", "-t", dataplane.IMAGE, "-"],
            input=dataplane.DOCKERFILE,
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            raise EnvError(f"building {dataplane.IMAGE} failed: {build.stderr.strip()[-300:]}")
    return env


def dataplane_urls(p: int | None = None) -> dict[str, object]:
    """Where the data plane answers (from the files it writes), for `status` and the summary."""
    work = STATE / f"dataplane-{p or port()}"
    out: dict[str, object] = {"edge_urls": [], "alb_urls": []}
    for name, key, label in (("edge.json", "distributions", "edge_urls"), ("alb.json", "listeners", "alb_urls")):
        try:
            entries = json.loads((work / name).read_text())[key]
        except (OSError, ValueError, KeyError):
            continue
        out[label] = [f"http://{HOST}:{e['local_port']}/" for e in entries]
    return out


def stop(name: str, module: str, p: int) -> bool:
    """Stop the process of pid file ``name`` if it is still this checkout's ``module`` on port p."""
    pid = owned_pid(name, module, p)
    _pidfile(name).unlink(missing_ok=True)
    if not pid:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it exited between the check and the signal: stopped all the same
    return True


def local_api_port() -> int:
    raw = os.environ.get("LOCAL_API_PORT", "3001")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise EnvError(f"LOCAL_API_PORT must be a TCP port number, got {raw!r}")
    return int(raw)


def local_api_identity(p: int, timeout: float = 2.0) -> dict | None:
    """The local API's /healthz answer (ok, pid, root), or None when something else or nothing answers."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{p}/healthz", timeout=timeout) as resp:
            data = json.load(resp)
            return data if resp.status == 200 and isinstance(data, dict) and data.get("ok") is True else None
    except (OSError, ValueError, urllib.error.URLError):
        return None


def is_local_api(p: int, timeout: float = 2.0) -> bool:
    return local_api_identity(p, timeout) is not None


def start_local_api(p: int | None = None) -> tuple[int, str]:
    """Start (or reuse) local.local_api, the offline stand-in for the backend's API Gateway."""
    p = p or local_api_port()
    pid = owned_pid(api_name(p), "local.local_api", p)
    if pid:
        started = time.monotonic()
        while not is_local_api(p, timeout=2.0):
            if not _alive(pid) or time.monotonic() - started > 20:
                raise EnvError(
                    f"the local API started here (pid {pid}) does not answer on port {p}; run 'make local-down'"
                )
            time.sleep(0.2)
        return pid, "reused"
    if _port_open(p):
        who = local_api_identity(p)
        if who and who.get("root") == str(ROOT) and _alive(int(who.get("pid", 0))):
            STATE.mkdir(parents=True, exist_ok=True)
            _pidfile(api_name(p)).write_text(str(who["pid"]))
            return int(who["pid"]), "reused"
        raise EnvError(
            f"port {p} on {HOST} is in use by something other than the local API; set LOCAL_API_PORT to a free port"
        )
    STATE.mkdir(parents=True, exist_ok=True)
    log = open(STATE / f"{api_name(p)}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.local_api", "--host", HOST, "--port", str(p), "--endpoint", endpoint()],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _pidfile(api_name(p)).write_text(str(proc.pid))
    started = time.monotonic()
    while not is_local_api(p, timeout=0.5):
        if proc.poll() is not None:
            raise EnvError(f"the local API exited during start-up; see {STATE / (api_name(p) + '.log')}")
        if time.monotonic() - started > 20:
            raise EnvError(f"the local API did not answer on port {p} within 20 s")
        time.sleep(0.1)
    return proc.pid, "started"


def reset(url: str | None = None) -> None:
    url = url or endpoint()
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except OSError as exc:
        raise EnvError(f"the emulator at {url} is not reachable ({exc}); run 'make local-up'") from exc


def remove_standins(url: str | None = None) -> list[str]:
    """Remove the stand-in containers and volumes made for this emulator (by label), nothing else."""
    removed: list[str] = []
    # One label filter: the endpoint label is unique to stand-ins of this emulator.
    label = ["--filter", f"label=cloudsite.endpoint={url or endpoint()}"]
    for kind, ls_cmd, rm_cmd in (
        ("container", ["docker", "ps", "-aq", *label], ["docker", "rm", "-f", "-v"]),
        ("volume", ["docker", "volume", "ls", "-q", *label], ["docker", "volume", "rm", "-f"]),
    ):
        try:
            ids = subprocess.run(ls_cmd, capture_output=True, text=True, check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            continue
        if ids:
            subprocess.run(rm_cmd + ids, capture_output=True, check=False)
            removed += [f"{kind}:{i}" for i in ids]
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local environment control")
    parser.add_argument("cmd", choices=("up", "status", "reset", "down", "endpoint", "urls"))
    args = parser.parse_args(argv)
    try:
        if args.cmd == "up":
            pid, how = start_moto()
            print(f"emulator {how}: {endpoint()} (pid {pid})")
            pid, how = start_local_api()
            print(f"local API {how}: http://{HOST}:{local_api_port()} (pid {pid})")
        elif args.cmd == "endpoint":
            print(endpoint())
        elif args.cmd == "urls":
            print(json.dumps(dataplane_urls()))
        elif args.cmd == "status":
            pid = _read_pid(moto_name())
            state = "answering" if is_moto(endpoint()) else "not answering"
            print(f"emulator: {endpoint()} {state}" + (f" (pid {pid})" if pid else " (not managed here)"))
            pid = _read_pid(api_name())
            state = "answering" if is_local_api(local_api_port()) else "not answering"
            print(f"local API: http://{HOST}:{local_api_port()} {state}" + (f" (pid {pid})" if pid else ""))
            urls = dataplane_urls()
            print(
                f"local edge: {' '.join(urls['edge_urls']) or 'none yet'}; local ALB: {' '.join(urls['alb_urls']) or 'none yet'}"
            )
        elif args.cmd == "reset":
            reset()
            print(f"emulator state cleared: {endpoint()}")
        elif args.cmd == "down":
            # "moto"/"local_api": the pid files of earlier versions, one per checkout.
            stopped = stop(moto_name(), "local.moto_server", port()) | stop("moto", "local.moto_server", port())
            stop(api_name(), "local.local_api", local_api_port())
            stop("local_api", "local.local_api", local_api_port())
            removed = remove_standins()
            for leftover in (moto_name(), api_name()):
                (STATE / f"{leftover}.log").unlink(missing_ok=True)
            print(f"emulator {'stopped' if stopped else 'was not running'}; removed {len(removed)} stand-in objects")
    except EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
