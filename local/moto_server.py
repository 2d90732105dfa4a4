"""Serve moto on loopback with this project's fidelity patches applied (see ``local.moto_patches``).

    python -m local.moto_server [--host 127.0.0.1] [--port 5000]

Use ``local.envctl`` to run it as a managed background process.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="patched moto server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", "5000")))
    args = parser.parse_args(argv)
    # ACM certificates become ISSUED after this many seconds (DNS validation is simulated).
    os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "2")
    from local.moto_patches import apply_all

    applied = apply_all()
    print(f"moto patches applied: {', '.join(applied)}", file=sys.stderr, flush=True)
    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
