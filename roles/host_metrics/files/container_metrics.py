#!/usr/bin/python3
"""Docker container metrics for node_exporter's textfile collector (installed by the host_metrics role).

    container_metrics.py OUTPUT.prom [--socket /var/run/docker.sock]

Asks the Docker Engine API (the local socket, standard library only: the host has python3 for Ansible)
for every container and the stats of each running one, and writes them in Prometheus' text format under
cAdvisor's metric names, so dashboards made for cAdvisor read them. Debian packages no cAdvisor; this
is the small part of it the site needs. The file is written next to OUTPUT and renamed over it, as the
textfile collector requires (it must never read a half-written file).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone

API = "/v1.41"  # Docker 20.10 (Debian 12) and newer; one-shot stats need 1.41


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def get(socket_path: str, path: str):
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request("GET", API + path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels(**pairs: str) -> str:
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in pairs.items()) + "}"


HELP = {
    "container_info": ("gauge", "Every container on the host (1), with its image and state."),
    "container_cpu_usage_seconds_total": ("counter", "CPU time the running container has used."),
    "container_memory_usage_bytes": ("gauge", "Memory the running container uses, page cache included."),
    "container_memory_working_set_bytes": ("gauge", "Memory the running container uses, inactive file cache excluded."),
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit of the running container (0: none)."),
    "container_network_receive_bytes_total": ("counter", "Bytes the running container has received."),
    "container_network_transmit_bytes_total": ("counter", "Bytes the running container has sent."),
    "container_start_time_seconds": ("gauge", "Start time of the running container (Unix time)."),
}


def container_samples(
    container: dict, stats: dict | None, started: str | None, host_memory: int
) -> list[tuple[str, str, float]]:
    """(metric, labels, value) for one container from /containers/json, its one-shot stats and its start
    time (/containers/{id}/json State.StartedAt); a stopped container has neither."""
    name = (container.get("Names") or ["/" + container["Id"][:12]])[0].lstrip("/")
    samples = [
        ("container_info", labels(name=name, image=container.get("Image", ""), state=container.get("State", "")), 1)
    ]
    who = labels(name=name)
    if started:
        samples.append(("container_start_time_seconds", who, parse_time(started)))
    if not stats:
        return samples
    cpu = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
    if cpu is not None:
        samples.append(("container_cpu_usage_seconds_total", who, cpu / 1e9))
    memory = stats.get("memory_stats", {})
    if "usage" in memory:
        usage = memory["usage"]
        details = memory.get("stats", {})
        # cgroup v2 reports inactive_file, v1 total_inactive_file (docker stats subtracts the same).
        inactive = details.get("inactive_file", details.get("total_inactive_file", 0))
        samples.append(("container_memory_usage_bytes", who, usage))
        samples.append(("container_memory_working_set_bytes", who, max(usage - inactive, 0)))
        limit = memory.get("limit", 0)
        # Without a limit the engine reports the host's memory (or a huge number): cAdvisor says 0.
        samples.append(("container_spec_memory_limit_bytes", who, 0 if limit >= host_memory else limit))
    networks = stats.get("networks") or {}
    for interface, counters in sorted(networks.items()):
        where = labels(name=name, interface=interface)
        samples.append(("container_network_receive_bytes_total", where, counters.get("rx_bytes", 0)))
        samples.append(("container_network_transmit_bytes_total", where, counters.get("tx_bytes", 0)))
    return samples


def render(samples: list[tuple[str, str, float]], success: bool, now: float) -> str:
    lines = []
    for metric, (kind, text) in HELP.items():
        rows = [(lbl, value) for m, lbl, value in samples if m == metric]
        if not rows:
            continue
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
        lines += [f"{metric}{lbl} {value}" for lbl, value in rows]
    lines += [
        "# HELP container_metrics_collector_success Whether the last collection read the Docker engine (1) or not (0).",
        "# TYPE container_metrics_collector_success gauge",
        f"container_metrics_collector_success {int(success)}",
        "# HELP container_metrics_collector_timestamp_seconds When the last collection ran (Unix time).",
        "# TYPE container_metrics_collector_timestamp_seconds gauge",
        f"container_metrics_collector_timestamp_seconds {now:.0f}",
    ]
    return "\n".join(lines) + "\n"


def host_memory_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def collect(socket_path: str) -> list[tuple[str, str, float]]:
    host_memory = host_memory_bytes()
    samples = []
    for container in get(socket_path, "/containers/json?all=1"):
        stats = started = None
        if container.get("State") == "running":
            stats = get(socket_path, f"/containers/{container['Id']}/stats?stream=false&one-shot=true")
            started = get(socket_path, f"/containers/{container['Id']}/json").get("State", {}).get("StartedAt")
        samples += container_samples(container, stats, started, host_memory)
    return samples


def parse_time(value: str) -> float:
    """Docker's RFC 3339 time with nanoseconds (2026-12-01T23:55:00.123456789Z) as Unix time."""
    seconds, _, fraction = value.rstrip("Z").partition(".")
    moment = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)  # noqa: UP017 (datetime.UTC: 3.11+, Ubuntu 22.04 has 3.10)
    return moment.timestamp() + (float("0." + fraction[:9]) if fraction else 0.0)


def write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".containers.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--socket", default="/var/run/docker.sock")
    args = parser.parse_args(argv)
    try:
        samples, success = collect(args.socket), True
    except (OSError, RuntimeError, ValueError) as error:
        print(f"container metrics: {error}", file=sys.stderr)
        samples, success = [], False
    write_atomically(args.output, render(samples, success, time.time()))
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
