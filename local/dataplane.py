"""The rehearsal's data plane: a local ALB (HAProxy) built from the emulator's ELBv2 state.

moto stores load balancers, listeners, rules and target groups but routes nothing, and reports every
registered target ``healthy`` at once (gap 8 in ``local.moto_patches``). This module runs a real
load-balancing proxy next to the emulator and keeps it in step with what the emulator holds:

- every ALB listener becomes a HAProxy frontend on ``127.0.0.1:<LOCAL_ALB_PORT + n>`` (listeners in
  (load balancer name, port) order; the map is written to ``alb.json`` in the work directory);
- listener rules are applied in priority order, then the default action: ``forward`` (target group,
  or the first group of a ``ForwardConfig``), ``fixed-response`` and ``redirect``; conditions
  ``path-pattern``, ``host-header``, ``http-header``, ``http-request-method``, ``query-string`` and
  ``source-ip`` (AWS wildcards ``*``/``?``, case-insensitive where AWS is);
- every target group becomes a backend; a target (instance id, port) is the stand-in container named
  after the instance id, at its bridge address and the target's port; the group's health check (path,
  interval, timeout, healthy/unhealthy thresholds, matcher) is HAProxy's active check;
- a newly registered target starts DOWN and takes ``healthy threshold`` passing checks before it gets
  traffic (AWS: ``initial``); a deregistered target is put in maintenance (no new requests, in-flight
  ones finish) and reported ``draining`` until it has no sessions left or the group's deregistration
  delay has passed, then it leaves the configuration.

Configuration changes reload HAProxy in master-worker mode (``SIGUSR2``): the old worker finishes its
in-flight requests; server states survive the reload through HAProxy's server-state file.

Why a container from a locally built image (``cloudsite/dataplane16:bookworm``, Debian's haproxy 2.6)
and not a package on the controller: nothing is installed on the engineer's machine, the version is
the same for everyone, and ``docker rm`` removes it. It runs with ``--network host`` so that it binds
on loopback only (``127.0.0.1``), reaches the stand-ins' bridge addresses and the emulator alike.

The controller runs as a thread inside the emulator process (``local.moto_server`` starts it when
``LOCAL_ALB_PORT`` is set): it reads the ELBv2 models directly and ``DescribeTargetHealth`` answers
from what HAProxy measures (``local.moto_patches.elbv2``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.paths import LOCAL_STATE

IMAGE = os.environ.get("LOCAL_DATAPLANE_IMAGE", "cloudsite/dataplane16:bookworm")
DOCKERFILE = """\
FROM cloudsite/debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \\
 && apt-get install -y --no-install-recommends haproxy nginx-light ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
"""

# DescribeTargetHealth reason codes (ELBv2 API reference, TargetHealth).
REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "failed": ("Target.FailedHealthChecks", "Health checks failed"),
    "codes": ("Target.ResponseCodeMismatch", "Health checks failed with these codes: [{code}]"),
    "timeout": ("Target.Timeout", "Request timed out"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "address": ("Target.InvalidState", "Target has no stand-in container to send traffic to"),
}


class DataPlaneError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Pure part: from API-shaped ELBv2 state to a HAProxy configuration.


def server_name(target_id: str, port: int) -> str:
    return f"{target_id}_{int(port)}"


def backend_name(tg_name: str) -> str:
    return f"tg_{tg_name}"


def _wildcard(value: str) -> str:
    """An AWS condition value (``*`` any run, ``?`` one character) as an anchored regex."""
    out = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return f"^{out}$"


def _q(text: str) -> str:
    """A HAProxy argument in double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def matcher_regex(matcher: str) -> str:
    """An ELBv2 matcher (``200``, ``200,202``, ``200-299``) as a status regex for ``http-check``."""
    parts = []
    for item in str(matcher or "200").split(","):
        item = item.strip()
        if "-" in item:
            lo, hi = (int(x) for x in item.split("-", 1))
            parts += [str(c) for c in range(lo, hi + 1)]
        elif item:
            parts.append(str(int(item)))
    return "^(" + "|".join(parts) + ")$"


def _condition_acls(cond: dict[str, Any]) -> list[str]:
    """HAProxy ACL expressions (ANDed) for one rule condition; values of one condition are ORed."""
    field_ = cond.get("Field")
    if field_ == "path-pattern":
        values = (cond.get("PathPatternConfig") or {}).get("Values") or cond.get("Values") or []
        return ["{ path -m reg " + " ".join(_q(_wildcard(v)) for v in values) + " }"]
    if field_ == "host-header":
        values = (cond.get("HostHeaderConfig") or {}).get("Values") or cond.get("Values") or []
        return ["{ req.hdr(host),field(1,:) -m reg -i " + " ".join(_q(_wildcard(v)) for v in values) + " }"]
    if field_ == "http-header":
        cfg = cond.get("HttpHeaderConfig") or {}
        name = cfg.get("HttpHeaderName", "")
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}", name):
            raise DataPlaneError(f"http-header condition: invalid HttpHeaderName {name!r}")
        values = cfg.get("Values") or []
        return [f"{{ req.fhdr({name}) -m reg -i " + " ".join(_q(_wildcard(v)) for v in values) + " }"]
    if field_ == "http-request-method":
        values = (cond.get("HttpRequestMethodConfig") or {}).get("Values") or []
        return ["{ method " + " ".join(values) + " }"]
    if field_ == "source-ip":
        values = (cond.get("SourceIpConfig") or {}).get("Values") or []
        return ["{ src " + " ".join(values) + " }"]
    if field_ == "query-string":
        pairs = (cond.get("QueryStringConfig") or {}).get("Values") or []
        regs = []
        for pair in pairs:
            key, value = pair.get("Key"), pair.get("Value", "")
            key_re = _wildcard(key)[1:-1] if key else "[^&=]*"
            regs.append(_q(f"(^|&){key_re}={_wildcard(value)[1:-1]}(&|$)"))
        return ["{ query -m reg -i " + " ".join(regs) + " }"]
    raise DataPlaneError(f"listener rule condition {field_!r} is not supported by the local ALB")


def _action_lines(action: dict[str, Any], var: str, tg_names: dict[str, str]) -> list[str]:
    kind = action.get("Type")
    cond = f"if {{ var(txn.rule) -m str {var} }}"
    if kind == "forward":
        arn = action.get("TargetGroupArn")
        if not arn:
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            arn = groups[0]["TargetGroupArn"] if groups else ""
        if arn not in tg_names:
            return [f"http-request return status 503 content-type text/plain string {_q('no target group')} {cond}"]
        return [f"use_backend {backend_name(tg_names[arn])} {cond}"]
    if kind == "fixed-response":
        cfg = action.get("FixedResponseConfig") or {}
        status = int(cfg.get("StatusCode", 200))
        ctype = cfg.get("ContentType") or "text/plain"
        body = cfg.get("MessageBody") or ""
        return [f"http-request return status {status} content-type {_q(ctype)} string {_q(body)} {cond}"]
    if kind == "redirect":
        cfg = action.get("RedirectConfig") or {}
        code = 301 if cfg.get("StatusCode", "HTTP_301") == "HTTP_301" else 302
        proto = (cfg.get("Protocol") or "#{protocol}").replace("#{protocol}", "http").lower()
        host = (cfg.get("Host") or "#{host}").replace("#{host}", "%[req.hdr(host),field(1,:)]")
        port = (cfg.get("Port") or "#{port}").replace("#{port}", "%[dst_port]")
        path = (cfg.get("Path") or "/#{path}").replace("/#{path}", "%[path]")
        query = (cfg.get("Query") or "#{query}").replace("#{query}", "%[query]")
        loc = f"{proto}://{host}:{port}{path}?{query}"
        return [f"http-request redirect location {_q(loc)} code {code} {cond}"]
    raise DataPlaneError(f"listener action {kind!r} is not supported by the local ALB")


@dataclass
class Server:
    backend: str
    name: str
    address: str
    port: int
    disabled: bool = False


@dataclass
class Plan:
    config: str
    listeners: list[dict[str, Any]] = field(default_factory=list)
    servers: dict[str, Server] = field(default_factory=dict)  # "backend/name" -> Server


def render(
    state: dict[str, Any], address_of: dict[str, str], base_port: int, disabled: set[str], workdir: str = "/dp"
) -> Plan:
    """HAProxy configuration for ``state`` (``load_balancers``: [{name, listeners: [{port, rules,
    default_actions}]}], ``target_groups``: [{arn, name, health..., targets: [(id, port)]}]).

    ``address_of`` maps instance ids to stand-in addresses; ``disabled`` holds "backend/server" keys
    that must start in maintenance (new ones, and deregistered ones that are draining).
    """
    tg_names = {tg["arn"]: tg["name"] for tg in state["target_groups"]}
    lines = [
        "# generated by local/dataplane.py from the emulator's ELBv2 state; do not edit",
        "global",
        f"  stats socket {workdir}/haproxy.sock mode 666 level admin",
        f"  server-state-file {workdir}/haproxy.state",
        "  hard-stop-after 330s",
        "defaults",
        "  mode http",
        "  option httplog",
        "  load-server-state-from-file global",
        "  timeout connect 2s",
        "  timeout client 60s",
        "  timeout server 60s",
        "  retries 0",
    ]
    plan = Plan(config="")
    n = 0
    for lb in sorted(state["load_balancers"], key=lambda x: x["name"]):
        for listener in sorted(lb["listeners"], key=lambda x: int(x["port"])):
            local_port = base_port + n
            n += 1
            fe = f"lb_{lb['name']}_{listener['port']}"
            plan.listeners.append(
                {
                    "load_balancer": lb["name"],
                    "dns_name": lb.get("dns_name", ""),
                    "port": int(listener["port"]),
                    "local_port": local_port,
                    "frontend": fe,
                }
            )
            lines += ["", f"frontend {fe}", f"  bind 127.0.0.1:{local_port}"]
            actions: list[str] = []
            rules = sorted(listener.get("rules") or [], key=lambda r: int(r["priority"]))
            for rule in rules:
                var = f"r{int(rule['priority'])}"
                acls = [a for c in rule.get("conditions") or [] for a in _condition_acls(c)]
                lines.append(
                    f"  http-request set-var(txn.rule) str({var}) if !{{ var(txn.rule) -m found }} " + " ".join(acls)
                )
                for action in rule.get("actions") or []:
                    actions += _action_lines(action, var, tg_names)
            lines.append("  http-request set-var(txn.rule) str(default) if !{ var(txn.rule) -m found }")
            for action in listener.get("default_actions") or []:
                actions += _action_lines(action, "default", tg_names)
            # http-request rules run before use_backend: the rule variable makes the order irrelevant.
            lines += [f"  {a}" for a in sorted(actions, key=lambda a: a.startswith("use_backend"))]
    for tg in sorted(state["target_groups"], key=lambda x: x["name"]):
        be = backend_name(tg["name"])
        lines += [
            "",
            f"backend {be}",
            "  balance roundrobin",
            f"  option httpchk GET {tg.get('health_check_path') or '/'}",
            f"  http-check expect rstatus {matcher_regex(tg.get('matcher', '200'))}",
            f"  timeout check {int(tg.get('health_check_timeout') or 5)}s",
            f"  default-server inter {int(tg.get('health_check_interval') or 30)}s"
            f" rise {int(tg.get('healthy_threshold') or 5)} fall {int(tg.get('unhealthy_threshold') or 2)}",
            # AWS: when every target is unhealthy the ALB still routes to them (fail open); here the
            # backend answers 503 instead, which the edge's origin group treats like AWS's 502/503.
        ]
        for target_id, port in sorted(tg["targets"]):
            address = address_of.get(target_id)
            if not address:
                continue
            name = server_name(target_id, port)
            key = f"{be}/{name}"
            off = key in disabled
            plan.servers[key] = Server(be, name, address, int(port), off)
            lines.append(f"  server {name} {address}:{int(port)} check" + (" disabled" if off else ""))
    plan.config = "\n".join(lines) + "\n"
    return plan


def target_health(row: dict[str, str] | None, draining: bool, initial: bool) -> tuple[str, str, str]:
    """(State, Reason, Description) of a target from its HAProxy ``show stat`` row."""
    if draining:
        return ("draining", *REASONS["draining"])
    if row is None:
        return ("unhealthy", *REASONS["address"])
    status = row.get("status", "")
    if status.startswith("UP") or status == "DRAIN":
        return ("healthy", "", "")
    check = row.get("check_status", "")
    if status in ("MAINT", "") or check in ("INI", "") or (initial and check in ("L4OK", "L6OK", "L7OK")):
        return ("initial", *REASONS["initial"])
    if check == "L7STS":
        reason, desc = REASONS["codes"]
        return ("unhealthy", reason, desc.format(code=row.get("check_code", "")))
    if check in ("L4TOUT", "L7TOUT"):
        return ("unhealthy", *REASONS["timeout"])
    return ("unhealthy", *REASONS["failed"])


# ---------------------------------------------------------------------------------------------
# Runtime part: the HAProxy container, its admin socket, and the controller thread.


def read_elbv2() -> dict[str, Any]:
    """The emulator's ELBv2 state, API-shaped, from moto's in-process models (all accounts/regions)."""
    from moto.elbv2.models import elbv2_backends

    state: dict[str, Any] = {"load_balancers": [], "target_groups": []}
    for account in list(elbv2_backends.keys()):
        for region in list(elbv2_backends[account].keys()):
            backend = elbv2_backends[account][region]
            for lb in list(backend.load_balancers.values()):
                if lb.type != "application":
                    continue
                listeners = []
                for listener in list(lb.listeners.values()):
                    rules = [
                        {
                            "priority": r.priority,
                            "conditions": r.conditions,
                            "actions": [a.data if hasattr(a, "data") else a for a in r.actions],
                        }
                        for r in list(listener._non_default_rules.values())
                    ]
                    listeners.append(
                        {
                            "port": listener.port,
                            "rules": rules,
                            "default_actions": [a.data if hasattr(a, "data") else a for a in listener.default_actions],
                        }
                    )
                state["load_balancers"].append({"name": lb.name, "dns_name": lb.dns_name, "listeners": listeners})
            for tg in list(backend.target_groups.values()):
                matcher = (getattr(tg, "matcher", None) or {}).get("HttpCode", "200")
                state["target_groups"].append(
                    {
                        "arn": tg.arn,
                        "name": tg.name,
                        "health_check_path": tg.health_check_path or "/",
                        "health_check_interval": tg.health_check_interval_seconds,
                        "health_check_timeout": tg.health_check_timeout_seconds,
                        "healthy_threshold": tg.healthy_threshold_count,
                        "unhealthy_threshold": tg.unhealthy_threshold_count,
                        "matcher": matcher,
                        "deregistration_delay": int(tg.attributes.get("deregistration_delay.timeout_seconds", 300)),
                        "targets": [(t["Id"], int(t.get("Port") or tg.port)) for t in list(tg.targets.values())],
                    }
                )
    return state


def container_address(name: str, previous: str = "") -> str:
    """The bridge address of container ``name``; "" when there is no such container (or it has no address).
    A lookup that fails for another reason (a busy engine on a loaded machine) keeps ``previous``: a
    target must not look gone, and leave the proxy, because ``docker inspect`` failed once."""
    run = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
        text=True,
    )
    if run.returncode == 0:
        return run.stdout.split()[0] if run.stdout.split() else ""
    return "" if "no such" in run.stderr.lower() else previous


class Alb:
    """One HAProxy container for one emulator, and the loop that keeps it in step."""

    def __init__(self, workdir: Path, base_port: int, endpoint: str, interval: float = 0.5) -> None:
        self.workdir = Path(workdir)
        self.base_port = base_port
        self.endpoint = endpoint
        self.interval = interval
        self.container = f"cloudsite-alb-{endpoint.rsplit(':', 1)[1]}"
        self.plan: Plan | None = None
        self.known: set[str] = set()  # servers HAProxy has (enabled at least once)
        self.initial: set[str] = set()  # registered, not yet UP once
        self.draining: dict[str, float] = {}  # key -> deadline (monotonic)
        self.lock = threading.Lock()
        self._stat_cache: tuple[float, dict[str, dict[str, str]]] = (0.0, {})
        self._addresses: dict[str, str] = {}
        self._looked_up: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.edge: Any = None  # local.edge.Edge when LOCAL_EDGE_PORT is set
        self.error = ""

    # -- HAProxy admin socket
    def command(self, cmd: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.workdir / "haproxy.sock"))
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self, max_age: float = 0.2) -> dict[str, dict[str, str]]:
        at, rows = self._stat_cache
        if time.monotonic() - at < max_age:
            return rows
        try:
            text = self.command("show stat")
        except OSError:
            return {}
        lines = text.splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        head = lines[0][2:].split(",")
        rows = {}
        for line in lines[1:]:
            if line:
                row = dict(zip(head, line.split(","), strict=False))
                rows[f"{row['pxname']}/{row['svname']}"] = row
        self._stat_cache = (time.monotonic(), rows)
        return rows

    # -- what DescribeTargetHealth asks
    def health(self, tg_name: str, target_id: str, port: int, registered: bool) -> tuple[str, str, str] | None:
        """What the proxy measures for a target, or None when the proxy has no say (not registered,
        not draining: the caller answers ``unused``)."""
        key = f"{backend_name(tg_name)}/{server_name(target_id, port)}"
        with self.lock:
            if self.plan is None:
                return None
            draining = key in self.draining
            initial = key in self.initial or (registered and key not in self.known)
            planned = key in self.plan.servers
        if draining:
            return target_health(None, True, False)
        if not registered:
            return None
        if not planned:
            # Registered, not yet in the proxy (the next pass adds it), or no stand-in to send to.
            return (
                target_health(None, False, False)
                if target_id in self._addresses and not self._addresses[target_id]
                else ("initial", *REASONS["initial"])
            )
        return target_health(self.stats(max_age=0.0).get(key), False, initial)

    def deregistered(self, tg_name: str, target_id: str, port: int, delay: int) -> None:
        """Called by DeregisterTargets: no new requests from now on, in-flight ones finish."""
        key = f"{backend_name(tg_name)}/{server_name(target_id, port)}"
        with self.lock:
            if key not in self.known or key in self.draining:
                return
            self.draining[key] = time.monotonic() + delay
            self.initial.discard(key)
            try:
                self.command(f"set server {key} state maint")
            except OSError:
                pass

    def draining_targets(self, tg_name: str) -> list[tuple[str, int]]:
        prefix = backend_name(tg_name) + "/"
        with self.lock:
            keys = [k for k in self.draining if k.startswith(prefix)]
        out = []
        for key in keys:
            tid, port = key[len(prefix) :].rsplit("_", 1)
            out.append((tid, int(port)))
        return out

    # -- container
    def _running(self) -> bool:
        run = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", self.container], capture_output=True, text=True
        )
        return run.stdout.strip() == "true"

    def _start(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        run = subprocess.run(
            [
                "docker", "run", "-d", "--name", self.container, "--network", "host",
                "--label", f"cloudsite.endpoint={self.endpoint}", "--label", "cloudsite.dataplane=alb",
                "-v", f"{self.workdir}:/dp", IMAGE, "haproxy", "-W", "-db", "-f", "/dp/haproxy.cfg",
            ],
            capture_output=True, text=True,
        )  # fmt: skip
        if run.returncode != 0:
            raise DataPlaneError(f"the local ALB did not start: {run.stderr.strip()}")
        for _ in range(50):
            if (self.workdir / "haproxy.sock").exists():
                try:
                    self.command("show info")
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise DataPlaneError(f"the local ALB did not open its admin socket; see docker logs {self.container}")

    def _check(self, config: str) -> None:
        """Refuse a configuration HAProxy would refuse, before it replaces the running one."""
        if not self._running():
            return
        (self.workdir / "haproxy.cfg.new").write_text(config)
        run = subprocess.run(
            ["docker", "exec", self.container, "haproxy", "-c", "-q", "-f", "/dp/haproxy.cfg.new"],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            alerts = [x for x in (run.stdout + run.stderr).splitlines() if "ALERT" in x]
            raise DataPlaneError(f"generated configuration refused: {(alerts or ['?'])[0]}")

    def _reload(self) -> None:
        (self.workdir / "haproxy.state").write_text(self.command("show servers state"))
        subprocess.run(["docker", "kill", "-s", "USR2", self.container], capture_output=True, check=True)
        # The new worker answers on the socket once it has loaded the configuration.
        old = self.command("show info")
        pid = re.search(r"^Pid: (\d+)", old, re.M)
        for _ in range(100):
            time.sleep(0.05)
            try:
                now = self.command("show info")
            except OSError:
                continue
            if not pid or f"Pid: {pid.group(1)}\n" not in now:
                return
        raise DataPlaneError(f"the local ALB did not reload; see docker logs {self.container}")

    # -- one pass
    def sync(self) -> None:
        state = read_elbv2()
        for tg in state["target_groups"]:
            for target_id, _ in tg["targets"]:
                # Re-read every 10 s: a re-created stand-in may have a new bridge address.
                if not self._addresses.get(target_id) or time.monotonic() - self._looked_up.get(target_id, 0) > 10:
                    self._addresses[target_id] = container_address(target_id, self._addresses.get(target_id, ""))
                    self._looked_up[target_id] = time.monotonic()
        registered = {
            f"{backend_name(tg['name'])}/{server_name(t, p)}": tg
            for tg in state["target_groups"]
            for t, p in tg["targets"]
            if self._addresses.get(t)
        }
        delays = {backend_name(tg["name"]): tg["deregistration_delay"] for tg in state["target_groups"]}
        now = time.monotonic()
        rows = self.stats(max_age=0.0) if self.plan else {}
        with self.lock:
            # Deregistered since the last pass: maintenance at once (in-flight requests finish).
            for key in list(self.known):
                if key not in registered and key not in self.draining:
                    self.draining[key] = now + delays.get(key.split("/")[0], 300)
                    self.initial.discard(key)
                    try:
                        self.command(f"set server {key} state maint")
                    except OSError:
                        pass
            for key, deadline in list(self.draining.items()):
                if key in registered:  # registered again
                    del self.draining[key]
                    self.known.discard(key)
                elif now >= deadline or rows.get(key, {}).get("scur", "0") == "0":
                    del self.draining[key]
                    self.known.discard(key)
            for key in list(self.initial):
                if rows.get(key, {}).get("status", "").startswith("UP"):
                    self.initial.discard(key)
            # Draining servers stay in the configuration (disabled) until they are done.
            for key in self.draining:
                be, name = key.split("/")
                tgn = be[3:]
                tid, port = name.rsplit("_", 1)
                for tg in state["target_groups"]:
                    if tg["name"] == tgn and (tid, int(port)) not in tg["targets"]:
                        tg["targets"].append((tid, int(port)))
            new = set(registered) - self.known
            disabled = new | set(self.draining)
            plan = render(state, self._addresses, self.base_port, disabled)
            if not plan.listeners:
                self.plan = plan
                return
            changed = self.plan is None or plan.config != self.plan.config
            if changed:
                self._check(plan.config)
                (self.workdir / "haproxy.cfg").write_text(plan.config)
                (self.workdir / "alb.json").write_text(json.dumps({"listeners": plan.listeners}, indent=1))
                if not self._running():
                    self._start()
                else:
                    self._reload()
            self.plan = plan
            for key in sorted(new):
                # Start DOWN: `healthy threshold` passing checks before the first request (AWS: initial).
                # One session, this order: leaving maintenance resets the health to "UP, falls at
                # the first failure"; `health down` right after needs `rise` passing checks.
                self.command(f"set server {key} state ready; set server {key} health down")
                self.known.add(key)
                self.initial.add(key)
                plan.servers[key].disabled = False
            if new:
                # Render again so the file on disk says what runs (no `disabled` on enabled servers).
                final = render(state, self._addresses, self.base_port, set(self.draining))
                self.plan = final
                (self.workdir / "haproxy.cfg").write_text(final.config)

    def run(self) -> None:
        errors = {"alb": "", "edge": ""}
        while not self._stop.is_set():
            for part, step in (("alb", self.sync), ("edge", self._sync_edge)):
                try:
                    step()
                    errors[part] = ""
                except Exception as exc:  # keep serving; the error is in the log
                    if str(exc) != errors[part]:
                        print(f"local {part}: {exc}", flush=True)
                    errors[part] = str(exc)
            self.error = errors["alb"] or errors["edge"]
            self._stop.wait(self.interval)

    def _sync_edge(self) -> None:
        if self.edge is not None:
            self.edge.sync(self.plan.listeners if self.plan else [])

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        if self.edge is not None:
            self.edge.stop()


_ALB: Alb | None = None


def current() -> Alb | None:
    return _ALB


def current_edge() -> Any:
    return _ALB.edge if _ALB is not None else None


def start_from_env(endpoint: str) -> Alb | None:
    """Start the local ALB thread when ``LOCAL_ALB_PORT`` is set (called by ``local.moto_server``)."""
    global _ALB
    raw = os.environ.get("LOCAL_ALB_PORT", "")
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DataPlaneError(f"LOCAL_ALB_PORT must be a TCP port number, got {raw!r}")
    workdir = Path(os.environ.get("LOCAL_DATAPLANE_DIR") or LOCAL_STATE / f"dataplane-{endpoint.rsplit(':', 1)[1]}")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for leftover in ("haproxy.sock", "haproxy.state", "alb.json", "edge.json"):
        (workdir / leftover).unlink(missing_ok=True)
    _ALB = Alb(workdir, int(raw), endpoint)
    edge_raw = os.environ.get("LOCAL_EDGE_PORT", "")
    if edge_raw:
        if not edge_raw.isdigit() or not 0 < int(edge_raw) < 65536:
            raise DataPlaneError(f"LOCAL_EDGE_PORT must be a TCP port number, got {edge_raw!r}")
        from local.edge import Edge

        _ALB.edge = Edge(workdir, int(edge_raw), endpoint, IMAGE)
    _ALB._thread = threading.Thread(target=_ALB.run, name="local-alb", daemon=True)
    _ALB._thread.start()
    return _ALB
