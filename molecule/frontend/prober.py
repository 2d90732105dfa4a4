"""Prober for the frontend roll: what a load balancer would see, every <=100 ms.

Each cycle asks the emulator which targets the target group holds (DescribeTargetHealth) and GETs
``/version.json`` from each registered target's port at the host's address. A request to a target that
was registered at the start of the cycle must answer 200: anything else is a failure. Counts, the
versions seen per port and how long each port was out of rotation are written as JSON on SIGTERM
(and every second while running).

    python prober.py --endpoint URL --target-group-arn ARN --host IP --out FILE [--interval 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import boto3


def registered_ports(client, arn: str) -> set[int]:
    """Ports of the targets a load balancer would route to (registered and not draining)."""
    health = client.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {int(t["Target"]["Port"]) for t in health if t["TargetHealth"]["State"] in ("healthy", "initial")}


def probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """GET /version.json; (ok, hash or error)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/version.json", timeout=timeout) as resp:
            body = json.loads(resp.read())
            return resp.status == 200, str(body.get("hash", ""))
    except Exception as exc:  # every error is a failed request, and the report says which
        return False, f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--target-group-arn", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args(argv)

    client = boto3.client(
        "elbv2",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's fixed test credentials
    )
    stats: dict = {
        "pid": os.getpid(),
        "started": time.time(),
        "cycles": 0,
        "requests": 0,
        "failures": 0,
        "failure_samples": [],
        "max_cycle_ms": 0.0,
        "versions_seen": {},
        "out_of_rotation_s": {},
    }
    left_at: dict[int, float] = {}
    known: set[int] = set()
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def write() -> None:
        stats["finished"] = time.time()
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats, indent=2, sort_keys=True))
        tmp.replace(args.out)

    last_write = 0.0
    while running:
        start = time.monotonic()
        now = time.time()
        try:
            ports = registered_ports(client, args.target_group_arn)
        except Exception as exc:  # an overloaded emulator must not end the watch silently: count, retry
            stats["emulator_errors"] = stats.get("emulator_errors", 0) + 1
            stats["last_emulator_error"] = repr(exc)[:200]
            time.sleep(args.interval)
            continue
        for port in known - ports:
            left_at.setdefault(port, now)
        for port in ports & set(left_at):
            stats["out_of_rotation_s"].setdefault(str(port), []).append(round(now - left_at.pop(port), 2))
        known |= ports
        for port in sorted(ports):
            ok, detail = probe(args.host, port, timeout=2)
            stats["requests"] += 1
            if ok:
                seen = stats["versions_seen"].setdefault(str(port), [])
                if not seen or seen[-1] != detail:
                    seen.append(detail)
            else:
                stats["failures"] += 1
                if len(stats["failure_samples"]) < 20:
                    stats["failure_samples"].append({"t": now, "port": port, "error": detail})
        stats["cycles"] += 1
        elapsed = time.monotonic() - start
        stats["max_cycle_ms"] = max(stats["max_cycle_ms"], round(elapsed * 1000, 1))
        if time.monotonic() - last_write > 1:
            write()
            last_write = time.monotonic()
        time.sleep(max(0.0, args.interval - elapsed))
    stats["still_out_of_rotation"] = sorted(left_at)
    write()


if __name__ == "__main__":
    main()
