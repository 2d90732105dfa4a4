"""Local stand-in for the backend's API Gateway: serves the SAM template's routes offline.

    python -m local.local_api [--host 127.0.0.1] [--port 3001] [--endpoint http://127.0.0.1:5000]
                              [--project cloudsite] [--table T] [--sender S] [--recipient R]
                              [--allowed-origin O]

moto's server mode can neither run Lambda nor serve API Gateway stage URLs here, so this small
ThreadingHTTPServer does what API Gateway + Lambda would do for the routes of
``app/backend/template.yaml``:

* ``GET|POST /{stage}/count``, ``POST /{stage}/contact``: builds an API Gateway proxy event and calls
  the handler modules (``app/backend/src/*/app.py``) in-process, with boto3 pointed at the emulator
  (DynamoDB, SES);
* ``OPTIONS /{stage}/...``: the CORS preflight answer the template's ``Cors`` setting produces;
* ``GET /healthz``: readiness (``envctl`` polls it).

The handler configuration of stage X is read, at request time, from the deployed CloudFormation stack
``<project>-backend-X`` in the emulator (output ``TableName``; parameters ``AllowedOrigin``,
``SenderEmail``, ``RecipientEmail``), so the API works as soon as the backend stage has deployed.
``--table`` / ``--sender`` / ``--recipient`` / ``--allowed-origin`` override those values (and make a
stack unnecessary). The handlers are called through their ``handle(event, config, client)`` functions,
with the config built by their own ``config_from_env`` from the stack's values: the process-wide
environment is not touched, so concurrent requests for different stages cannot mix settings.

Ports: ``LOCAL_API_PORT`` (default 3001); emulator ``AWS_ENDPOINT_URL`` or ``LOCAL_AWS_PORT``.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "app" / "backend" / "src"
HOST = "127.0.0.1"
BODY_MAX = 64 * 1024
ROUTES = {"count": ("counter", ("GET", "POST")), "contact": ("contact", ("POST",))}
_PATH = re.compile(r"^/(?P<stage>[a-z0-9][a-z0-9-]{0,31})/(?P<route>[a-z]+)/?$")


class StageNotDeployed(LookupError):
    """The stage's stack is missing (or incomplete) and no override supplies the value."""


def load_handler(name: str) -> ModuleType:
    """Import ``app/backend/src/<name>/app.py`` as ``cloudsite_<name>_app`` (both handlers are 'app')."""
    module_name = f"cloudsite_{name}_app"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, HANDLERS / name / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the {name} handler from {HANDLERS / name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Overrides:
    table: str | None = None
    sender: str | None = None
    recipient: str | None = None
    allowed_origin: str | None = None


class StackSettings:
    """Handler environment per stage, from the stack ``<project>-backend-<stage>`` plus overrides."""

    def __init__(self, cloudformation: Any, project: str, overrides: Overrides) -> None:
        self._cfn = cloudformation
        self.project = project
        self.overrides = overrides

    def stack_name(self, stage: str) -> str:
        return f"{self.project}-backend-{stage}"

    def _stack(self, stage: str) -> dict[str, str]:
        try:
            stacks = self._cfn.describe_stacks(StackName=self.stack_name(stage))["Stacks"]
        except ClientError:
            return {}
        live = [s for s in stacks if not s.get("StackStatus", "").startswith("DELETE")]
        if not live:
            return {}
        values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in live[0].get("Parameters", [])}
        values.update({o["OutputKey"]: o.get("OutputValue", "") for o in live[0].get("Outputs", [])})
        return values

    def env(self, stage: str) -> dict[str, str]:
        """The handlers' environment variables for ``stage`` (raises StageNotDeployed when incomplete)."""
        o = self.overrides
        stack = {} if all((o.table, o.sender, o.recipient, o.allowed_origin)) else self._stack(stage)
        env = {
            "TABLE_NAME": o.table or stack.get("TableName", ""),
            "SENDER": o.sender or stack.get("SenderEmail", ""),
            "RECIPIENT": o.recipient or stack.get("RecipientEmail", ""),
            "ALLOWED_ORIGIN": o.allowed_origin or stack.get("AllowedOrigin", ""),
            "STAGE": stage,
        }
        missing = [k for k, v in env.items() if not v]
        if missing:
            raise StageNotDeployed(
                f"stage {stage!r} is not deployed: stack {self.stack_name(stage)} not found in the emulator "
                f"or lacks {', '.join(missing)} (deploy the backend, or pass --table/--sender/--recipient/--allowed-origin)"
            )
        return env


def proxy_event(
    method: str, stage: str, route: str, raw_path: str, headers: Mapping[str, str], body: str, source_ip: str
) -> dict:
    """An API Gateway REST (v1) proxy integration event for one request."""
    query = parse_qs(urlsplit(raw_path).query, keep_blank_values=True)
    return {
        "resource": f"/{route}",
        "path": f"/{route}",
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "stage": stage,
            "httpMethod": method,
            "path": f"/{stage}/{route}",
            "resourcePath": f"/{route}",
            "identity": {"sourceIp": source_ip},
        },
        "body": body or None,
        "isBase64Encoded": False,
    }


class LocalApi:
    """Routing and invocation, independent of the HTTP server (tests may call ``dispatch``)."""

    def __init__(self, settings: StackSettings, clients: Mapping[str, Any]) -> None:
        self.settings = settings
        self.clients = clients
        self.handlers = {name: load_handler(name) for name, _ in ROUTES.values()}

    def dispatch(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: str, source_ip: str = HOST
    ) -> tuple[int, dict[str, str], str]:
        path = urlsplit(raw_path).path
        if path == "/healthz":
            # pid and checkout: envctl adopts its own local API when its pid file is lost.
            return _json(200, {"ok": True, "pid": os.getpid(), "root": str(ROOT)})
        m = _PATH.match(path)
        if not m or m["route"] not in ROUTES:
            return _json(404, {"error": f"no route for {path}"})
        stage, route = m["stage"], m["route"]
        module_name, methods = ROUTES[route]
        try:
            env = self.settings.env(stage)
        except StageNotDeployed as exc:
            return _json(503, {"error": str(exc)})
        except (BotoCoreError, ClientError) as exc:
            return _json(502, {"error": f"the emulator did not answer: {exc}"})
        origin = next((v for k, v in headers.items() if k.lower() == "origin"), "")
        if is_local_frontend(origin):
            env = {**env, "ALLOWED_ORIGIN": origin}
        if method not in (*methods, "OPTIONS"):
            allowed = origin if origin in env["ALLOWED_ORIGIN"].split(",") else ""
            return _json(405, {"error": f"{method} is not allowed on /{route}"}, allowed)
        module = self.handlers[module_name]
        event = proxy_event(method, stage, route, raw_path, headers, body, source_ip)
        if module_name == "counter":
            result = module.handle(event, module.config_from_env(env), self.clients["dynamodb"])
        else:
            result = module.handle(event, module.config_from_env(env), self.clients["ses"], self.clients["dynamodb"])
        return int(result["statusCode"]), dict(result.get("headers") or {}), result.get("body") or ""


def is_local_frontend(origin: str) -> bool:
    """True for an ``http://`` origin on loopback or on a private address (a stand-in's frontend).

    Offline there is no CloudFront in front of the site: the demo page is opened at a stand-in
    container's address (or loopback), not at the distribution domain that the stack's
    AllowedOrigin names. The local API admits those origins as well; the deployed API never does.
    """
    parts = urlsplit(origin)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def _json(status: int, body: Mapping[str, Any], origin: str | None = None) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return status, headers, json.dumps(body)


def make_handler(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cloudsite-local-api"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > BODY_MAX:
                status, headers, body = _json(413, {"error": "request body too large"})
                self.close_connection = True
            else:
                raw = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
                try:
                    status, headers, body = api.dispatch(
                        self.command, self.path, dict(self.headers.items()), raw, self.client_address[0]
                    )
                except Exception as exc:  # a crash in a handler is a 502 from API Gateway too
                    self.log_error("handler failed: %r", exc)
                    status, headers, body = _json(502, {"error": "Internal server error"})
            data = body.encode("utf-8")
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    return Handler


def make_server(
    port: int,
    endpoint: str,
    project: str = "cloudsite",
    overrides: Overrides | None = None,
    host: str = HOST,
    region: str | None = None,
) -> ThreadingHTTPServer:
    """A ready-to-serve local API bound to ``host:port`` (0 picks a free port)."""
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    clients = {name: session.client(name, endpoint_url=endpoint) for name in ("dynamodb", "ses", "cloudformation")}
    settings = StackSettings(clients["cloudformation"], project, overrides or Overrides())
    server = ThreadingHTTPServer((host, port), make_handler(LocalApi(settings, clients)))
    server.daemon_threads = True
    return server


def default_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or f"http://{HOST}:{os.environ.get('LOCAL_AWS_PORT', '5000')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local API Gateway stand-in for the backend routes")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_API_PORT", "3001")))
    parser.add_argument("--endpoint", default=default_endpoint(), help="emulator URL (default from env)")
    parser.add_argument("--project", default=os.environ.get("PROJECT_NAME", "cloudsite"))
    parser.add_argument("--table", help="TABLE_NAME for every stage (instead of the stack output)")
    parser.add_argument("--sender", help="SENDER for every stage (instead of the stack parameter)")
    parser.add_argument("--recipient", help="RECIPIENT for every stage (instead of the stack parameter)")
    parser.add_argument("--allowed-origin", help="ALLOWED_ORIGIN for every stage (instead of the stack parameter)")
    args = parser.parse_args(argv)
    overrides = Overrides(args.table, args.sender, args.recipient, args.allowed_origin)
    try:
        server = make_server(args.port, args.endpoint, args.project, overrides, host=args.host)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"local API on http://{args.host}:{server.server_address[1]} -> emulator {args.endpoint}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
