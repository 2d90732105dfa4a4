"""What an EC2 instance finds around it, served inside a stand-in (``local.ec2_boot`` copies this file in).

A stand-in is a container, not an instance: nothing answers on 169.254.169.254 and the AWS endpoints are
on the internet, not in the emulator. User data written for EC2 (roles/ec2_host/templates/user-data.sh.j2)
reads its instance id and the instance profile's credentials from the metadata service (IMDSv2 only,
as the launch template requires) and calls S3 and ELBv2 with boto3 at their default https endpoints. So,
inside the stand-in (stdlib only: the stand-in image has python3 and nothing else):

    python3 instance_env.py imds <metadata.json>        # 169.254.169.254:80, IMDSv2 token rule
    python3 instance_env.py tls <cert> <key> <host:port> # 127.0.0.1:443 -> the emulator's relay

The metadata answers are pure functions (``answer``) so that unit tests check the token rule.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"


def answer(
    method: str, path: str, headers: dict[str, str], meta: dict[str, Any], tokens: dict[str, float], now: float
) -> tuple[int, str]:
    """(status, body) of the metadata service for one request, as EC2 answers with HttpTokens=required.

    ``tokens`` maps issued tokens to their expiry (``now`` based); a PUT to /latest/api/token adds one.
    """
    headers = {k.lower(): v for k, v in headers.items()}
    path = path.split("?", 1)[0]
    if path == "/latest/api/token":
        if method != "PUT":
            return 405, ""
        try:
            ttl = int(headers.get(TOKEN_TTL_HEADER.lower(), ""))
        except ValueError:
            return 400, ""
        if not 1 <= ttl <= 21600:
            return 400, ""
        token = secrets.token_urlsafe(32)
        tokens[token] = now + ttl
        return 200, token
    if method not in ("GET", "HEAD"):
        return 405, ""
    token = headers.get(TOKEN_HEADER.lower())
    if not token or tokens.get(token, 0) <= now:
        return 401, ""
    role = meta.get("role", "")
    documents = {
        "/latest/meta-data/instance-id": meta["instance_id"],
        "/latest/meta-data/placement/region": meta["region"],
        "/latest/meta-data/placement/availability-zone": meta.get("availability_zone", ""),
        "/latest/meta-data/local-ipv4": meta.get("private_ip", ""),
        "/latest/dynamic/instance-identity/document": json.dumps(
            {
                "accountId": meta.get("account_id", ""),
                "architecture": meta.get("architecture", "x86_64"),
                "availabilityZone": meta.get("availability_zone", ""),
                "imageId": meta.get("image_id", ""),
                "instanceId": meta["instance_id"],
                "instanceType": meta.get("instance_type", ""),
                "privateIp": meta.get("private_ip", ""),
                "region": meta["region"],
                "version": "2017-09-30",
            },
            indent=2,
        ),
    }
    if role:
        documents["/latest/meta-data/iam/security-credentials/"] = role
        documents[f"/latest/meta-data/iam/security-credentials/{role}"] = json.dumps(
            credentials(meta.get("credentials", {}), now), indent=2
        )
    body = documents.get(path.rstrip("/") if path.rstrip("/") in documents else path)
    return (200, body) if body is not None else (404, "")


def credentials(given: dict[str, str], now: float) -> dict[str, str]:
    """The role's credentials as EC2 returns them; Expiration six hours ahead (SDKs refresh before it)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "Code": "Success",
        "LastUpdated": stamp,
        "Type": "AWS-HMAC",
        "AccessKeyId": given.get("AccessKeyId", "testing"),
        "SecretAccessKey": given.get("SecretAccessKey", "testing"),
        "Token": given.get("Token", "testing"),
        "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 6 * 3600)),
    }


def serve_imds(meta_path: str, host: str = "169.254.169.254", port: int = 80) -> None:
    with open(meta_path, encoding="utf-8") as handle:
        meta = json.load(handle)
    tokens: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "EC2ws"

        def _respond(self) -> None:
            with lock:
                status, body = answer(self.command, self.path, dict(self.headers), meta, tokens, time.time())
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_HEAD = do_POST = _respond

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def splice(client: socket.socket, address: tuple[str, int]) -> None:
    """Connect to ``address`` and copy bytes both ways until either side closes (``client`` is closed when
    the connection fails). The TLS terminator here and the host-side relay (local.ec2_boot) share it."""
    try:
        remote = socket.create_connection(address, timeout=10)
        remote.settimeout(None)
    except OSError:
        client.close()
        return
    threading.Thread(target=_pump, args=(remote, client), daemon=True).start()
    _pump(client, remote)


def serve_tls(cert: str, key: str, upstream: str, host: str = "127.0.0.1", port: int = 443) -> None:
    """Terminate TLS for the AWS endpoint names (/etc/hosts sends them here) and relay the plain HTTP."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    up_host, up_port = upstream.rsplit(":", 1)
    listener = socket.create_server((host, port), reuse_port=False)

    def handle(raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        splice(client, (up_host, int(up_port)))

    while True:
        raw, _ = listener.accept()
        threading.Thread(target=handle, args=(raw,), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1:2] == ["imds"]:
        serve_imds(sys.argv[2])
    elif sys.argv[1:2] == ["tls"]:
        serve_tls(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit("usage: instance_env.py imds <metadata.json> | tls <cert> <key> <host:port>")
