#!/usr/bin/env python3
"""Benchmark: s3_site_sync (in a one-task playbook) against aws s3 sync, s5cmd sync and community.aws.s3_sync.

    .venv/bin/python bench/s3_sync_bench.py [--files 2000] [--runs 3] [--peer-runs 1] [--quick]

Starts one private patched moto server on a free loopback port, generates a site (mixed sizes, a few files
above 8 MiB so multipart is used), and times four scenarios per tool: first upload (fresh bucket), no-change
re-sync, one-file change, one-file delete. The emulator is reset before each tool's run. Prints medians and
ratios to aws s3 sync and to s5cmd. s3_site_sync gets a ``hash_cache`` file, as the static stage gives it the
build's: the first upload hashes every file and records it, the runs after it read only changed files.
community.aws.s3_sync sends one HEAD per file and is slow: it runs --peer-runs times (default 1; 0 skips it).
Works in build/bench/ (the generated site and the emulator's log, removed at the end) and writes the medians
to build/bench/s3_sync_bench.json (--json: elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the repository first, for tools.paths

from tools.paths import OUTPUT_ROOT  # noqa: E402

OUT = OUTPUT_ROOT / "bench"
BIN = ROOT / ".venv" / "bin"
SCENARIOS = ("first upload", "no-change", "one-file change", "one-file delete")
CHANGED = "blog/post-0001/index.html"
DELETED = "docs/page-0002.txt"
BOOKKEEPING = (".site-sync-manifest.json", ".site-sync-pending-invalidation.json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int, log: Path) -> subprocess.Popen:
    code = f"from local.moto_server import main; main(['--port', '{port}'])"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    for _ in range(1200):  # up to 2 min: a loaded machine starts moto slowly
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/cloudsite/health", timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited with {proc.returncode}; see {log}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto did not start")


def generate_site(root: Path, files: int, big: int, seed: int = 6) -> tuple[int, int]:
    """A site of ``files`` files: mostly small pages and assets, some larger images, ``big`` files > 8 MiB."""
    rng = random.Random(seed)
    total = 0
    specs: list[tuple[str, int]] = [(CHANGED, 3000), (DELETED, 800), ("index.html", 4000)]
    for i in range(big):
        specs.append((f"media/video-{i}.{rng.getrandbits(32):08x}.mp4", (9 + 2 * i) * 1024 * 1024))
    kinds = [
        ("blog/post-{n:04d}/index.html", 2_000, 20_000, 30),
        ("assets/js/chunk-{n:04d}.{h}.js", 500, 60_000, 25),
        ("assets/css/style-{n:04d}.{h}.css", 300, 15_000, 10),
        ("img/photo-{n:04d}.{h}.jpg", 20_000, 400_000, 10),
        ("docs/page-{n:04d}.txt", 100, 5_000, 25),
    ]
    weights = [k[3] for k in kinds]
    n = 0
    while len(specs) < files:
        pattern, low, high, _ = rng.choices(kinds, weights)[0]
        n += 1
        name = pattern.format(n=n + 10, h=f"{rng.getrandbits(32):08x}")
        specs.append((name, rng.randint(low, high)))
    for rel, size in specs:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    return len(specs), total


class Runner:
    def __init__(self, url: str, work: Path) -> None:
        self.url = url
        self.work = work
        self.env = dict(os.environ)
        self.env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
            PATH=f"{BIN}:{self.env.get('PATH', '')}",
        )

    def boto(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=60).close()

    def playbook(self, name: str, task: dict) -> Path:
        path = self.work / f"{name}.yml"
        play = {"name": "Bench", "hosts": "localhost", "gather_facts": False, "tasks": [task]}
        path.write_text(json.dumps([play]))
        return path

    def run(self, argv: list[str]) -> tuple[float, str]:
        start = time.perf_counter()
        proc = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return elapsed, proc.stdout

    def ansible(self, playbook: Path) -> tuple[float, dict]:
        elapsed, out = self.run(
            [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
             f"ansible_python_interpreter={BIN / 'python'}", str(playbook)]
        )  # fmt: skip
        result = json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        return elapsed, result

    # One function per tool: sync ``src`` to ``bucket`` and return (seconds, uploaded count or None).
    def ours(self, src: Path, bucket: str) -> tuple[float, int | None]:
        conn = {"endpoint_url": self.url, "region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
        cache = str(self.work / f"{bucket}.hash-cache.json")
        task = {
            "name": "Sync",
            "cloudsite.aws.s3_site_sync": {
                "bucket": bucket,
                "src": str(src),
                "delete": True,
                "hash_cache": cache,
                **conn,
            },
        }
        elapsed, result = self.ansible(self.playbook("ours", task))
        return elapsed, result["uploaded_count"]

    def community(self, src: Path, bucket: str) -> tuple[float, int | None]:
        conn = {"endpoint_url": self.url, "region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
        task = {
            "name": "Sync",
            "community.aws.s3_sync": {
                "bucket": bucket,
                "file_root": str(src),
                "mode": "push",
                "delete": True,
                "file_change_strategy": "checksum",
                **conn,
            },
        }
        elapsed, result = self.ansible(self.playbook("community", task))
        return elapsed, len(result.get("uploads") or [])

    def aws(self, src: Path, bucket: str) -> tuple[float, int | None]:
        elapsed, _ = self.run(
            [str(BIN / "aws"), "--endpoint-url", self.url, "s3", "sync", str(src), f"s3://{bucket}", "--delete",
             "--no-progress", "--only-show-errors"]
        )  # fmt: skip
        return elapsed, None

    def s5cmd(self, src: Path, bucket: str) -> tuple[float, int | None]:
        elapsed, out = self.run(
            [str(BIN / "s5cmd"), "--endpoint-url", self.url, "sync", "--delete", f"{src}/", f"s3://{bucket}/"]
        )
        return elapsed, sum(1 for line in out.splitlines() if line.startswith("cp "))


def scenario_run(runner: Runner, tool: str, site: Path, run_no: int) -> dict[str, tuple[float, int | None]]:
    runner.reset()
    bucket = f"bench-{tool.replace('.', '-').replace('_', '-')}-{run_no}"
    runner.boto().create_bucket(Bucket=bucket)
    src = runner.work / f"src-{tool}"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(site, src)
    sync = getattr(runner, tool)
    times = {"first upload": sync(src, bucket), "no-change": sync(src, bucket)}
    page = src / CHANGED
    page.write_bytes(page.read_bytes()[:-7] + f"run{run_no:04d}".encode())  # same size, new content
    future = time.time() + 5  # mtime-based tools need a newer mtime; ours does not care
    os.utime(page, (future, future))
    times["one-file change"] = sync(src, bucket)
    (src / DELETED).unlink()
    times["one-file delete"] = sync(src, bucket)
    # Site objects only: s3_site_sync also keeps its manifest and the pending-invalidation record (which the
    # static stage deletes after invalidating; nothing invalidates here).
    remote = sum(
        1
        for p in runner.boto().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in p.get("Contents", [])
        if not o["Key"].startswith(BOOKKEEPING)
    )
    local = sum(1 for p in src.rglob("*") if p.is_file())
    assert remote == local, f"{tool}: {remote} objects stored, {local} local files"
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--big", type=int, default=3, help="files above 8 MiB (multipart)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-runs", type=int, default=1, help="runs of community.aws.s3_sync (slow)")
    parser.add_argument("--quick", action="store_true", help="200 files, 1 run, one big file: a CI smoke")
    parser.add_argument("--json", type=Path, default=OUT / "s3_sync_bench.json", help="write the medians here")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.big, args.runs, args.peer_runs = 200, 1, 1, min(args.peer_runs, 1)

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="s3bench-", dir=OUT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still stops its emulator
    port = free_port()
    moto = start_moto(port, work / "moto.log")
    try:
        site = work / "site"
        count, size = generate_site(site, args.files, args.big)
        print(f"site: {count} files, {size / 1024 / 1024:.1f} MiB; emulator http://127.0.0.1:{port}", flush=True)
        runner = Runner(f"http://127.0.0.1:{port}", work)
        tools = ["ours", "aws", "s5cmd"] + (["community"] if args.peer_runs > 0 else [])
        samples: dict[str, dict[str, list[float]]] = {t: {s: [] for s in SCENARIOS} for t in tools}
        uploads: dict[str, dict[str, int | None]] = {t: {} for t in tools}
        for run_no in range(args.runs):
            for tool in tools:
                if tool == "community" and run_no >= args.peer_runs:
                    continue
                result = scenario_run(runner, tool, site, run_no)
                for scenario, (seconds, uploaded) in result.items():
                    samples[tool][scenario].append(seconds)
                    uploads[tool][scenario] = uploaded
                print(
                    f"run {run_no + 1} {tool}: " + ", ".join(f"{s} {v[0]:.2f}s" for s, v in result.items()), flush=True
                )
        medians = {t: {s: statistics.median(v) for s, v in samples[t].items() if v} for t in tools}
        print_table(medians, samples, uploads)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"files": count, "bytes": size, "medians": medians}, indent=2))
        print(f"medians: {args.json}")
        ours = medians["ours"]
        print(
            f"\ntargets: first upload {ours['first upload'] / medians['aws']['first upload']:.2f}x aws (<= 1.0), "
            f"no-change {ours['no-change'] / medians['aws']['no-change']:.2f}x aws (<= 1.0); "
            f"one-file change uploaded {uploads['ours']['one-file change']} object(s) (== 1)"
        )
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(medians, samples, uploads) -> None:
    names = {
        "ours": "s3_site_sync (playbook)",
        "aws": "aws s3 sync",
        "s5cmd": "s5cmd sync",
        "community": "community.aws.s3_sync (playbook)",
    }
    print("\n| tool | runs | " + " | ".join(SCENARIOS) + " |")
    print("|---|---|" + "---|" * len(SCENARIOS))
    for tool, row in medians.items():
        cells = []
        for scenario in SCENARIOS:
            value = row[scenario]
            cells.append(
                f"{value:.2f} s ({value / medians['aws'][scenario]:.2f}x aws, {value / medians['s5cmd'][scenario]:.2f}x s5cmd)"
            )
        print(f"| {names[tool]} | {len(samples[tool]['no-change'])} | " + " | ".join(cells) + " |")
    print(
        "\nuploads reported for the one-file change: "
        + ", ".join(f"{names[t]}={uploads[t].get('one-file change')}" for t in medians)
    )


if __name__ == "__main__":
    sys.exit(main())
