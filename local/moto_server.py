"""Serve moto on loopback with this project's fidelity patches applied (see ``local.moto_patches``).

    python -m local.moto_server [--host 127.0.0.1] [--port 5000]

Use ``local.envctl`` to run it as a managed background process.

Besides moto's own routes it answers ``GET /moto-api/cloudsite/health`` with who it is (pid, the
checkout it runs from, its port) in constant time, and ``GET /moto-api/cloudsite/ses/sent`` with the mail SES "sent" (every account and
region: id, region, source, to, subject, body), where the smoke test finds its contact message
(``smoke_sent_mail_url`` in the local inventory; AWS has no API to read sent mail). moto's ``/moto-api/data.json`` serialises the whole
emulator state (about a second after one deploy, more with every object, and HTTP 500 once a bucket
that held objects was deleted), so it is never used as a liveness or ownership probe.

With ``CLOUDSITE_RECORD_ACTIONS=<file>`` every signed AWS API request the server answers is appended
to that file as one JSON line ``{"service": <signing name>, "operation": <API operation>, "method":
<HTTP method>}``: what the deploying principal calls, for the policy coverage test
(``tests/integration/test_real_env.py``, ``iam/``).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import io
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
HEALTH_PATH = "/moto-api/cloudsite/health"
SENT_MAIL_PATH = "/moto-api/cloudsite/ses/sent"


def identity(port: int) -> dict[str, Any]:
    """What the health route answers: enough to tell this checkout's emulator from any other."""
    import moto

    from local import ec2_boot

    return {
        "service": "cloudsite-moto",
        "pid": os.getpid(),
        "root": str(ROOT),
        "port": port,
        "moto": moto.__version__,
        # Whether this emulator boots instances (runs their user data, local.ec2_boot): the stand-in
        # inventory then leaves boot-finished to the boot.
        "ec2_boot": ec2_boot.current() is not None,
    }


def _addresses(destinations: Any) -> list[str]:
    """Every recipient address (SendEmail keeps To/Cc/Bcc lists in a dict, raw mail a list)."""
    if isinstance(destinations, dict):
        return [address for addresses in destinations.values() for address in addresses or []]
    return list(destinations or [])


def sent_mail() -> list[dict[str, Any]]:
    """The messages moto's SES backends hold (SendEmail ones; raw ones with their raw data as body)."""
    from moto.ses.models import ses_backends

    mails = []
    for account in list(ses_backends):
        for region, backend in list(ses_backends[account].items()):
            for message in list(backend.sent_messages):
                mails.append(
                    {
                        "id": message.id,
                        "region": region,
                        "source": message.source,
                        "to": _addresses(message.destinations),
                        "subject": getattr(message, "subject", ""),
                        "body": getattr(message, "body", getattr(message, "raw_data", "")),
                    }
                )
    return mails


def with_health_route(app: Any, port: int) -> Any:
    """Wrap a WSGI app so the health route never reaches moto (its cost does not grow with the state)."""
    body = json.dumps(identity(port)).encode()

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") == SENT_MAIL_PATH and environ.get("REQUEST_METHOD") == "GET":
            mails = json.dumps(sent_mail()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(mails)))])
            return [mails]
        return app(environ, start_response)

    return wrapped


# What a SIGTERM stops before the process ends (the data plane's proxies and the instance boot).
STOP_AT_EXIT: list[Any] = []


def _terminate(*_: Any) -> None:
    """SIGTERM: stop the proxies, then end at once. A plain exit waits for moto's and werkzeug's busy threads,
    which took more than 60 s on a loaded 2-core machine (CI's test-session emulator); nothing of an
    emulator's in-memory state outlives it anyway."""
    for stop in STOP_AT_EXIT:
        try:
            stop()
        except Exception as error:  # the next one must still run
            print(f"stopping at exit: {error}", file=sys.stderr, flush=True)
    sys.stderr.flush()
    os._exit(0)


def start_dataplane(endpoint: str) -> None:
    """The local ALB (``local.dataplane``) when LOCAL_ALB_PORT is set; removed again when we stop."""
    from local import dataplane

    alb = dataplane.start_from_env(endpoint)
    if alb is None:
        return
    print(f"local ALB: listeners from 127.0.0.1:{alb.base_port}, work dir {alb.workdir}", file=sys.stderr, flush=True)

    # Stopped at exit, and by main()'s SIGTERM handler.
    atexit.register(alb.stop)
    STOP_AT_EXIT.append(alb.stop)
    # The instance boot (user data, instance metadata, AWS endpoints from inside a stand-in): with the data
    # plane only, as a rehearsal that serves traffic is the one that needs instances to heal.
    from local import ec2_boot

    try:
        boot = ec2_boot.start(endpoint, alb.workdir)
    except Exception as error:  # the ALB still serves; instances just do not boot (as without the data plane)
        print(f"local EC2 boot off: {error}", file=sys.stderr, flush=True)
        return
    print(f"local EC2 boot: relay on {boot.relay_address}", file=sys.stderr, flush=True)
    atexit.register(boot.stop)
    STOP_AT_EXIT.insert(0, boot.stop)


_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Signing name -> botocore service name, where they differ (for the REST operation router).
_BOTOCORE_NAME = {"elasticloadbalancing": "elbv2", "email": "ses", "tagging": "resourcegroupstaggingapi"}


def request_operation(environ: dict) -> dict[str, str] | None:
    """(signing name, API operation, HTTP method) of a signed AWS request; None for unsigned ones (moto-api)."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    service, method = match.group(1), environ.get("REQUEST_METHOD", "GET")
    operation = None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.split(".")[-1]
    if not operation:
        operation = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [None])[0]
    if not operation and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        operation = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
    if not operation:
        from moto.core.routing import get_service_router
        from werkzeug.wrappers import Request

        name = _BOTOCORE_NAME.get(service, service)
        try:
            operation = get_service_router(name).match(Request(environ))[0].name
        except Exception:  # moto's router does not know it: match botocore's request URIs ourselves
            operation = rest_operation(name, method, environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
    return {"service": service, "operation": operation, "method": method}


@functools.cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern, set[str], int, str]]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        http = op.http
        path, _, query = http["requestUri"].partition("?")
        shape = op.input_shape
        required = set(shape.required_members) if shape else set()
        keys_required = {
            m.serialization.get("name", n)
            for n, m in (shape.members.items() if shape else [])
            if n in required and m.serialization.get("location") == "querystring"
        }
        parts = re.split(r"(\{[^}]+\})", path)
        regex = "".join(
            (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part) for part in parts
        )
        keys = {q.split("=")[0] for q in query.split("&") if q} | keys_required
        literal = sum(len(part) for part in parts if not part.startswith("{"))
        routes.append((http["method"], re.compile(regex.rstrip("/") + "/?$"), keys, literal, name))
    return routes


def rest_operation(service: str, method: str, path: str, query: str) -> str:
    """The operation of a REST request by botocore's model: method, URI template and required query keys."""
    given = parse_qs(query, keep_blank_values=True)
    if given.get("x-id"):  # newer SDKs name the operation themselves (S3)
        return given["x-id"][0]
    present = set(given) | {"x-id"}
    candidates = [
        (len(keys), literal, -len(name), name)
        for verb, regex, keys, literal, name in _rest_routes(service)
        if verb == method and regex.match(path) and keys <= present
    ]
    return max(candidates)[3] if candidates else f"{method} {path}"


def record_actions(path: str) -> None:
    """Append every signed request's operation to ``path`` (JSON lines) before moto serves it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lock, serve = threading.Lock(), DomainDispatcherApplication.__call__

    def recording_call(self, environ, start_response):
        entry = request_operation(environ)
        if entry:
            with lock, open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        return serve(self, environ, start_response)

    DomainDispatcherApplication.__call__ = recording_call


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
    if os.environ.get("CLOUDSITE_RECORD_ACTIONS"):
        record_actions(os.environ["CLOUDSITE_RECORD_ACTIONS"])
    # moto.server.main, with the health route in front of moto's dispatcher.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, _terminate)
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
