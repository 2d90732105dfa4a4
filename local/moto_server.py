"""Serve moto on loopback with this project's fidelity patches applied (see ``local.moto_patches``).

    python -m local.moto_server [--host 127.0.0.1] [--port 5000]

Use ``local.envctl`` to run it as a managed background process.

Besides moto's own routes it answers ``GET /moto-api/cloudsite/health`` with who it is (pid, the
checkout it runs from, its port) in constant time. moto's ``/moto-api/data.json`` serialises the whole
emulator state (about a second after one deploy, more with every object, and HTTP 500 once a bucket
that held objects was deleted), so it is never used as a liveness or ownership probe.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEALTH_PATH = "/moto-api/cloudsite/health"


def identity(port: int) -> dict[str, Any]:
    """What the health route answers: enough to tell this checkout's emulator from any other."""
    import moto

    return {"service": "cloudsite-moto", "pid": os.getpid(), "root": str(ROOT), "port": port, "moto": moto.__version__}


def with_health_route(app: Any, port: int) -> Any:
    """Wrap a WSGI app so the health route never reaches moto (its cost does not grow with the state)."""
    body = json.dumps(identity(port)).encode()

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


def start_dataplane(endpoint: str) -> None:
    """The local ALB (``local.dataplane``) when LOCAL_ALB_PORT is set; removed again when we stop."""
    from local import dataplane

    alb = dataplane.start_from_env(endpoint)
    if alb is None:
        return
    print(f"local ALB: listeners from 127.0.0.1:{alb.base_port}, work dir {alb.workdir}", file=sys.stderr, flush=True)

    # main() turns SIGTERM into sys.exit: stop the proxies at exit.
    atexit.register(alb.stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="patched moto server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", "5000")))
    args = parser.parse_args(argv)
    # ACM certificates become ISSUED after this many seconds (DNS validation is simulated).
    os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "2")
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from local.moto_patches import apply_all

    applied = apply_all()
    print(f"moto patches applied: {', '.join(applied)}", file=sys.stderr, flush=True)
    start_dataplane(f"http://{args.host}:{args.port}")
    # moto.server.main, with the health route in front of moto's dispatcher.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto.server.main sets it
    run_simple(
        args.host,
        args.port,
        with_health_route(app, args.port),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
