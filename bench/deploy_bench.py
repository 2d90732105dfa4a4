#!/usr/bin/env python3
"""Benchmark: what a deploy costs when nothing changed and when one file of the site changed.

    .venv/bin/python bench/deploy_bench.py [REF ...]        # default: HEAD

For each git ref, in a clone of that commit with its own emulator ports and state (the venv of this
checkout, linked): converge a whole local deploy (`site.yml`, not timed), then time
  - a no-op `site.yml` (must report changed=0 on every host), and
  - `site.yml` after a one-line change to the site's index.html, until it is live everywhere (the run
    ends after the roll, the sync and the invalidation).
Each ref deploys a copy of app/site marked with the ref's index (site_source_dir), so no ref reuses an
image another ref built (the image tag is the site's content hash).
Prints one table, refs side by side: seconds, tasks run (the recap's ok + changed) and changed.
Two refs in one run on one machine is the before/after comparison issue 14 asks for.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run(cmd: list[str], cwd: Path, env: dict, log: Path) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed in {cwd} (exit {proc.returncode}); see {log}")
    return elapsed, proc.stdout


def recap(stdout: str) -> tuple[int, int]:
    hosts = RECAP.findall(stdout)
    return sum(int(h[1]) for h in hosts), sum(int(h[2]) for h in hosts)


def bench_ref(ref: str, index: int, work: Path) -> dict:
    checkout = work / f"ref-{index}"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "checkout", "-q", ref], check=True)
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    base = 5600 + 10 * index
    env = dict(
        os.environ,
        LOCAL_AWS_PORT=str(base),
        LOCAL_API_PORT=str(base + 1),
        LOCAL_ALB_PORT=str(base + 2),
        LOCAL_EDGE_PORT=str(base + 3),
        LOCAL_STATE_DIR=str(checkout / ".local-bench"),
        ANSIBLE_CONFIG=str(checkout / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
    )
    playbook = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/local", "site.yml"]
    logs = work / f"logs-{index}"
    logs.mkdir()
    try:
        subprocess.run(
            ["bash", "local/bootstrap.sh", "emulator"], cwd=checkout, env=env, check=True, capture_output=True
        )
        # Each ref builds its own images: a site of its own (the image tag is the site's content hash).
        sites = []
        for label in ("deployed", "changed"):
            site = work / f"site-{index}-{label}"
            shutil.copytree(checkout / "app" / "site", site)
            page = site / "index.html"
            page.write_text(page.read_text().replace("</body>", f"<!-- bench {index} {label} -->\n</body>"))
            sites.append([*playbook, "-e", f"site_source_dir={site}"])
        run(sites[0], checkout, env, logs / "converge.log")
        noop_s, noop_out = run(sites[0], checkout, env, logs / "noop.log")
        change_s, change_out = run(sites[1], checkout, env, logs / "change.log")
    finally:
        subprocess.run(["make", "local-down"], cwd=checkout, env=env, capture_output=True)
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {"ref": f"{ref} ({commit})", "noop": (noop_s, *recap(noop_out)), "change": (change_s, *recap(change_out))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("refs", nargs="*", default=["HEAD"])
    parser.add_argument("--keep", action="store_true", help="keep the clones and logs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    results = []
    try:
        for i, ref in enumerate(args.refs):
            print(f"[bench] {ref}: converging, then timing a no-op and a one-file change", flush=True)
            results.append(bench_ref(ref, i, work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[bench] clones and logs kept in {work}")
    width = max(len(r["ref"]) for r in results)
    print(
        f"\n{'ref':<{width}}  {'no-op s':>8} {'tasks':>6} {'changed':>7}  {'one-file s':>10} {'tasks':>6} {'changed':>7}"
    )
    for r in results:
        (ns, nt, nc), (cs, ct, cc) = r["noop"], r["change"]
        print(f"{r['ref']:<{width}}  {ns:8.1f} {nt:6d} {nc:7d}  {cs:10.1f} {ct:6d} {cc:7d}")
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"\nlast/first: no-op {last['noop'][0] / first['noop'][0]:.2f}x, "
            f"one-file change {last['change'][0] / first['change'][0]:.2f}x"
        )
    if any(r["noop"][2] for r in results):
        sys.exit("error: a no-op run reported changes")


if __name__ == "__main__":
    main()
