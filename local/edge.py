"""The rehearsal's CloudFront edge: nginx generated from the emulator's distributions.

One nginx ``server`` per enabled distribution on ``127.0.0.1:<LOCAL_EDGE_PORT + n>`` (distributions
in id order; the map is ``edge.json`` in the data plane's work directory), in its own container from
the data plane image (``--network host``, loopback only). From the distribution's config:

- the default behaviour's origin group: the ALB origin first (its DNS name is mapped to the local ALB
  listener for the origin's HTTP port, the origin's ``CustomHeaders`` are sent, as CloudFront does);
  on the group's failover status codes, and on a connection failure (nginx's 502/504), the request is
  retried on the S3 member. GET/HEAD only: the behaviour allows nothing else (other methods: 403);
- S3 through Origin Access Control: nginx cannot sign, so the S3 origin is a signing hop in the
  emulator process (:class:`S3Signer`) that reads the object with a SigV4-signed GetObject/HeadObject,
  as OAC does; nothing reads the bucket anonymously;
- ``DefaultRootObject`` for ``/``; caching by path (the managed CachingOptimized policy keys on the
  path only), the cache policy's DefaultTTL when the object has no ``Cache-Control``, the object's
  ``Cache-Control`` otherwise (nginx honours ``max-age``/``no-store``/``private``). MinTTL/MaxTTL
  clamps are not enforced;
- ``CreateInvalidation`` deletes the cached files whose key matches a path (``*`` at the end: prefix)
  before the emulator answers, so ``Completed`` is only said after the purge (``local.moto_patches``);
- the web ACL's rate-based rule (``Limit`` per 5 minutes per IP) as nginx ``limit_req`` answering 403;
  managed rule groups (AWSManagedRulesCommonRuleSet …) are not enforced.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

# Managed cache policies (CloudFront developer guide, "Using the managed cache policies").
MANAGED_TTLS = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": (1, 86400, 31536000),  # CachingOptimized
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": (0, 0, 0),  # CachingDisabled
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": (1, 86400, 31536000),  # CachingOptimizedForUncompressedObjects
}


class EdgeError(RuntimeError):
    pass


def _items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return value.get("Items") or []
    return list(value or [])


def read_cloudfront() -> list[dict[str, Any]]:
    """Enabled distributions, API-shaped enough for :func:`render`, from moto's in-process models."""
    from moto.cloudfront.models import cloudfront_backends

    out = []
    for account in list(cloudfront_backends.keys()):
        backend = cloudfront_backends[account]["global"]
        for dist in list(backend.distributions.values()):
            cfg = dist.distribution_config
            if str(getattr(cfg, "Enabled", True)).lower() == "false":
                continue
            origins = []
            for o in _items(cfg.Origins):
                custom = getattr(o, "custom_origin", None) or getattr(o, "custom_origin_config", None)
                headers = _items(getattr(o, "custom_headers", None) or {})
                origins.append(
                    {
                        "id": o.id,
                        "domain": o.domain_name,
                        "custom": custom is not None and not o.domain_name.split(".")[-3:-2] == ["s3"],
                        "http_port": int(getattr(custom, "http_port", None) or 80) if custom else 80,
                        "headers": [(h["HeaderName"], h["HeaderValue"]) for h in headers],
                        "oac": getattr(o, "origin_access_control_id", ""),
                    }
                )
            groups = []
            for g in _items(cfg.OriginGroups):
                groups.append(
                    {
                        "id": g["Id"],
                        "codes": [int(c) for c in _items(g["FailoverCriteria"]["StatusCodes"])],
                        "members": [m["OriginId"] for m in _items(g["Members"])],
                    }
                )
            beh = cfg.DefaultCacheBehavior
            ttls = MANAGED_TTLS.get(beh.cache_policy_id) or (
                int(beh.min_ttl or 0),
                int(beh.default_ttl or 0),
                int(beh.max_ttl or 0),
            )
            out.append(
                {
                    "id": dist.id,
                    "domain": dist.domain_name,
                    "default_root_object": cfg.DefaultRootObject or "",
                    "origins": origins,
                    "groups": groups,
                    "target": beh.target_origin_id,
                    "ttls": ttls,
                    "rate_limit": _rate_limit(cfg.WebACLId or ""),
                }
            )
    return sorted(out, key=lambda d: d["id"])


def _rate_limit(web_acl_arn: str) -> int:
    """The rate-based rule's Limit of the distribution's web ACL (0: none)."""
    if not web_acl_arn:
        return 0
    try:
        from moto.wafv2.models import wafv2_backends

        for account in list(wafv2_backends.keys()):
            for region in list(wafv2_backends[account].keys()):
                acl = wafv2_backends[account][region].wacls.get(web_acl_arn)
                if acl is None:
                    continue
                for rule in acl.rules or []:
                    stmt = (rule.get("Statement") or {}).get("RateBasedStatement") if isinstance(rule, dict) else None
                    if stmt and "Block" in (rule.get("Action") or {}):
                        return int(stmt["Limit"])
    except (ImportError, AttributeError, KeyError, ValueError):
        return 0
    return 0


def bucket_of(domain: str) -> str:
    """``bucket.s3.region.amazonaws.com`` (or ``bucket.s3.amazonaws.com``) to ``bucket``."""
    match = re.fullmatch(r"(.+?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com", domain)
    if not match:
        raise EdgeError(f"S3 origin domain {domain!r} is not a bucket endpoint")
    return match.group(1)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}") + '"'


def render(
    dists: list[dict[str, Any]], alb_ports: dict[tuple[str, int], int], s3_port: int, base_port: int
) -> tuple[str, list[dict[str, Any]]]:
    """nginx.conf for ``dists``; ``alb_ports`` maps (ALB DNS name, port) to the local ALB listener."""
    lines = [
        "# generated by local/edge.py from the emulator's CloudFront state; do not edit",
        "worker_processes 1;",
        "pid /tmp/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 512; }",
        "http {",
        "  access_log off;",
        "  server_tokens off;",
        '  geo $dollar { default "$"; }',
        "  proxy_http_version 1.1;",
        "  proxy_connect_timeout 2s;",
        "  proxy_read_timeout 30s;",
        "  proxy_intercept_errors on;",
        "  proxy_cache_lock on;",
    ]
    served = []
    for n, d in enumerate(dists):
        port = base_port + n
        origins = {o["id"]: o for o in d["origins"]}
        group = next((g for g in d["groups"] if g["id"] == d["target"]), None)
        members = group["members"] if group else [d["target"]]
        codes = sorted(set(group["codes"]) | {502, 504}) if group else []
        zone = f"d_{d['id']}"
        min_ttl, default_ttl, _max_ttl = d["ttls"]
        lines += [
            f"  proxy_cache_path /dp/edge-cache/{d['id']} levels=1:2 keys_zone={zone}:4m max_size=256m"
            " inactive=1d use_temp_path=off;",
        ]
        if d["rate_limit"]:
            # WAF: Limit requests per 5 minutes per IP; nginx counts per minute (Limit/5) with a burst of Limit.
            lines.append(
                f"  limit_req_zone $binary_remote_addr zone=w_{d['id']}:1m rate={max(1, d['rate_limit'] // 5)}r/m;"
            )
        lines += [
            "  server {",
            f"    listen 127.0.0.1:{port};",
            f"    server_name {d['domain']};",
            f"    proxy_cache {zone};",
            "    proxy_cache_key $uri;",
            "    proxy_cache_methods GET HEAD;",
            f"    proxy_cache_valid 200 206 301 302 {default_ttl}s;",
            "    proxy_cache_valid 404 10s;",  # CloudFront's default error caching minimum TTL
            "    add_header X-Cache $upstream_cache_status always;",
            f"    add_header X-Amz-Cf-Id {d['id']} always;",
        ]
        if default_ttl == 0 and min_ttl == 0:
            lines.append("    proxy_no_cache 1;")
        if d["rate_limit"]:
            lines += [f"    limit_req zone=w_{d['id']} burst={d['rate_limit']} nodelay;", "    limit_req_status 403;"]
        lines.append("    if ($request_method !~ ^(GET|HEAD)$) { return 403; }")
        if d["default_root_object"]:
            lines.append(f"    location = / {{ rewrite ^ /{d['default_root_object']} last; }}")
        first = True
        for i, member in enumerate(members):
            origin = origins.get(member)
            if origin is None:
                continue
            name = "/" if first else f"@o{i}"
            lines.append(f"    location {name} {{")
            if origin["custom"]:
                alb = alb_ports.get((origin["domain"], origin["http_port"]))
                if alb is None:
                    lines.append("      return 502;")
                else:
                    lines.append(f"      proxy_pass http://127.0.0.1:{alb};")
                    lines.append(f"      proxy_set_header Host {origin['domain']};")
                    for hname, hvalue in origin["headers"]:
                        lines.append(f"      proxy_set_header {hname} {_q(hvalue)};")
            else:
                lines.append(f"      proxy_pass http://127.0.0.1:{s3_port}/{bucket_of(origin['domain'])}$uri;")
                lines.append("      proxy_set_header Host 127.0.0.1;")
            if first and len(members) > 1 and codes:
                lines.append(f"      error_page {' '.join(str(c) for c in codes)} = @o{i + 1};")
            lines.append("    }")
            first = False
        lines.append("  }")
        served.append({"distribution": d["id"], "domain": d["domain"], "local_port": port})
    lines.append("}")
    return "\n".join(lines) + "\n", served


def cache_key(path: Path) -> str:
    """The key nginx stored in a cache file's header (``\\nKEY: ...\\n``)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    match = re.search(rb"\nKEY: ([^\n]*)\n", head)
    return match.group(1).decode("utf-8", "replace") if match else ""


def matches(key: str, paths: list[str]) -> bool:
    for p in paths:
        if p.endswith("*"):
            if key.startswith(p[:-1]):
                return True
        elif key == p:
            return True
    return False


def purge(cache_dir: Path, paths: list[str]) -> int:
    """Delete the cached objects whose key matches an invalidation path; return how many."""
    removed = 0
    if not cache_dir.is_dir():
        return 0
    for f in cache_dir.rglob("*"):
        if f.is_file() and not f.name.startswith("."):
            try:
                if matches(cache_key(f), paths):
                    f.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


class S3Signer:
    """The S3 member of the origin group, as OAC reaches it: GetObject/HeadObject signed with SigV4."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        signer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self, head: bool) -> None:
                code, headers, body = signer.fetch(self.path, head)
                length = headers.pop("X-Length", str(len(body)))
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", length)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve(False)

            def do_HEAD(self) -> None:
                self._serve(True)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="edge-s3-signer", daemon=True).start()

    def fetch(self, path: str, head: bool) -> tuple[int, dict[str, str], bytes]:
        import urllib.parse

        from botocore.exceptions import ClientError

        bucket, _, key = urllib.parse.unquote(path.split("?", 1)[0]).lstrip("/").partition("/")
        try:
            resp = (self.s3.head_object if head else self.s3.get_object)(Bucket=bucket, Key=key)
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            return (
                (403 if status == 404 else status),
                {"Content-Type": "text/plain"},
                b"",
            )  # OAC without ListBucket: 403
        headers = {"Content-Type": resp.get("ContentType", "binary/octet-stream"), "ETag": resp.get("ETag", "")}
        if resp.get("CacheControl"):
            headers["Cache-Control"] = resp["CacheControl"]
        body = b"" if head else resp["Body"].read()
        if head:
            headers["X-Length"] = str(resp.get("ContentLength", 0))
        return 200, headers, body


class Edge:
    """One nginx container serving every enabled distribution of one emulator."""

    def __init__(self, workdir: Path, base_port: int, endpoint: str, image: str) -> None:
        self.workdir = workdir
        self.base_port = base_port
        self.endpoint = endpoint
        self.image = image
        self.container = f"cloudsite-edge-{endpoint.rsplit(':', 1)[1]}"
        self.signer = S3Signer(endpoint)
        self.config = ""
        self.served: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def _running(self) -> bool:
        run = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", self.container], capture_output=True, text=True
        )
        return run.stdout.strip() == "true"

    def sync(self, alb_listeners: list[dict[str, Any]]) -> None:
        dists = read_cloudfront()
        alb_ports = {(x["dns_name"], x["port"]): x["local_port"] for x in alb_listeners}
        config, served = render(dists, alb_ports, self.signer.port, self.base_port)
        with self.lock:
            if not served or config == self.config:
                self.served = served
                return
            for d in dists:
                cache = self.workdir / "edge-cache" / d["id"]
                cache.mkdir(parents=True, exist_ok=True)
                cache.chmod(0o777)
            (self.workdir / "nginx.conf.new").write_text(config)
            if self._running():
                run = subprocess.run(
                    ["docker", "exec", self.container, "nginx", "-t", "-q", "-c", "/dp/nginx.conf.new"],
                    capture_output=True,
                    text=True,
                )
                if run.returncode != 0:
                    raise EdgeError(f"generated edge configuration refused: {run.stderr.strip().splitlines()[-1:]}")
                (self.workdir / "nginx.conf.new").replace(self.workdir / "nginx.conf")
                subprocess.run(["docker", "kill", "-s", "HUP", self.container], capture_output=True, check=True)
            else:
                (self.workdir / "nginx.conf.new").replace(self.workdir / "nginx.conf")
                subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
                run = subprocess.run(
                    [
                        "docker", "run", "-d", "--name", self.container, "--network", "host",
                        "--label", f"cloudsite.endpoint={self.endpoint}", "--label", "cloudsite.dataplane=edge",
                        "-v", f"{self.workdir}:/dp", self.image, "nginx", "-g", "daemon off;", "-c", "/dp/nginx.conf",
                    ],
                    capture_output=True, text=True,
                )  # fmt: skip
                if run.returncode != 0:
                    raise EdgeError(f"the local edge did not start: {run.stderr.strip()}")
                time.sleep(0.3)
            self.config = config
            self.served = served
            (self.workdir / "edge.json").write_text(json.dumps({"distributions": served}, indent=1))

    def invalidate(self, dist_id: str, paths: list[str]) -> int:
        with self.lock:
            return purge(self.workdir / "edge-cache" / dist_id, paths)

    def stop(self) -> None:
        self.signer.server.shutdown()
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
