"""`make drift`: run the deploy in check mode with --diff and exit like `terraform plan -detailed-exitcode`.

    python drift/run.py [ansible-playbook arguments ...]     (default: site.yml)

Exit status: 0 in sync, 2 drift found, 1 error. The drift_report callback writes the JSON report to
$DRIFT_REPORT (default build/drift.json) and prints the table after the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repository first, for tools.paths

from tools.paths import OUTPUT_ROOT  # noqa: E402

EXIT = {"in_sync": 0, "drift": 2}


def main(argv: list[str]) -> int:
    report = Path(os.environ.get("DRIFT_REPORT") or OUTPUT_ROOT / "drift.json").resolve()
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    args = argv or ["site.yml"]
    if not any(a.endswith((".yml", ".yaml")) for a in args):
        args = [*args, "site.yml"]
    env = dict(os.environ, CLOUDSITE_DRIFT_REPORT=str(report))
    playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(playbook), *args, "--check", "--diff"], cwd=ROOT, env=env)
    if not report.exists():
        print(f"drift: error: the run wrote no report (ansible-playbook exited {proc.returncode})", file=sys.stderr)
        return 1
    status = json.loads(report.read_text())["status"]
    if proc.returncode != 0 and status != "error":
        print(f"drift: error: ansible-playbook exited {proc.returncode}", file=sys.stderr)
        return 1
    return EXIT.get(status, 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
