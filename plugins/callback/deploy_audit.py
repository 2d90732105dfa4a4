"""Callback: release the deploy lock at the end of a run (on failure too) and append the run's audit record."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: deploy_audit
type: aggregate
short_description: Release the deploy lock and write the audit record when a run ends
description:
  - Watches the C(deploy_lock) task. When this run took the lock, at the end of the run (whether it
    succeeded or failed) it appends an audit record (who, when, git commit, inventory, playbook, tags,
    versions deployed, result, changed counts per host) and deletes the lock if this run still holds it.
  - When a run was refused because another run held the lock, it records the refusal.
  - A run killed outright (SIGKILL, lost machine) never reaches this point; its lock expires (deploy_lock_ttl)
    or C(make unlock) breaks it.
  - AWS connection settings are those of the play (C(aws_module_defaults) of localhost), else boto3's chain.
requirements: [boto3]
"""

import getpass
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.cloudsite.aws.plugins.module_utils import deploy_lock as lockdb

try:
    import boto3
except ImportError:  # reported when the callback needs it
    boto3 = None


# What the audit records as "versions deployed": facts the stages publish on localhost.
VERSION_FACTS = ("site_build_hash",)


def deploy_user() -> str:
    """The CI actor when there is one, else the local user."""
    for var in ("DEPLOY_USER", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"):
        if os.environ.get(var):
            return os.environ[var]
    return getpass.getuser()


def git_commit(directory: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = out.stdout.strip() if out.returncode == 0 else ""
    return f"{commit}+dirty" if commit and dirty.stdout.strip() else commit


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "deploy_audit"
    # Always on (loaded from callback_plugins whatever callbacks_enabled says): every changing playbook
    # takes the deploy lock, so a run that sets ANSIBLE_CALLBACKS_ENABLED itself (a JSON callback, Molecule's
    # profile_tasks) must still release it, or the next run is refused.
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._play = None
        self._playbook = ""
        self._lock: dict[str, Any] | None = None
        self._refused: dict[str, Any] | None = None
        self._start = time.time()

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook = playbook._file_name
        self._start = time.time()

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._play = play

    @staticmethod
    def _is_lock_task(result: Any) -> bool:
        action = str(getattr(result.task, "resolved_action", None) or result.task.action)
        return action.rsplit(".", 1)[-1] == "deploy_lock" and result.task.args.get("state", "acquired") == "acquired"

    def v2_runner_on_ok(self, result: Any) -> None:
        if self._is_lock_task(result) and result.result.get("deploy_lock", {}).get("acquired"):
            self._lock = result.result["deploy_lock"]

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if self._is_lock_task(result) and result.result.get("held_by"):
            self._refused = {"table": result.result["deploy_lock"]["table"], "held_by": result.result["held_by"]}

    def _client(self) -> Any:
        settings: dict[str, Any] = {}
        if self._play is not None:
            from ansible.template import Templar

            manager = self._play.get_variable_manager()
            host = manager._inventory.get_host("localhost")
            variables = manager.get_vars(play=self._play, host=host)
            settings = Templar(loader=self._play._loader, variables=variables).template(
                variables.get("aws_module_defaults", {})
            )
        kwargs = {
            "region_name": settings.get("region"),
            "endpoint_url": settings.get("endpoint_url"),
            "aws_access_key_id": settings.get("access_key"),
            "aws_secret_access_key": settings.get("secret_key"),
        }
        return boto3.client("dynamodb", **{k: v for k, v in kwargs.items() if v})

    def _versions(self) -> dict[str, Any]:
        if self._play is None:
            return {}
        manager = self._play.get_variable_manager()
        facts = manager.get_vars(play=self._play, host=manager._inventory.get_host("localhost"))
        return {name: str(facts[name]) for name in VERSION_FACTS if facts.get(name)}

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if self._lock is None and self._refused is None:
            return
        if boto3 is None:
            self._display.warning("deploy_audit: boto3 is missing; the lock is left to expire")
            return
        hosts = sorted(stats.processed.keys())
        summaries = {h: stats.summarize(h) for h in hosts}
        failed = any(s["failures"] or s["unreachable"] for s in summaries.values())
        args = context.CLIARGS
        record: dict[str, Any] = {
            "event": "run",
            "holder": deploy_user(),
            "host": socket.gethostname(),
            "started": lockdb.iso(self._start),
            "ended": lockdb.iso(time.time()),
            "commit": git_commit(Path(self._playbook).resolve().parent),
            "inventory": [str(i) for i in (args.get("inventory") or [])],
            "playbook": os.path.relpath(self._playbook) if self._playbook else "",
            "tags": sorted(t for t in (args.get("tags") or []) if t != "all"),
            "skip_tags": sorted(args.get("skip_tags") or []),
            "versions": self._versions(),
            "changed": sum(s["changed"] for s in summaries.values()),
            "changed_by_host": {h: s["changed"] for h, s in summaries.items()},
        }
        try:
            client = self._client()
            if self._lock is not None:
                record.update(
                    run_id=self._lock["run_id"],
                    message=self._lock.get("message", ""),
                    result="failed" if failed else "ok",
                )
                lockdb.append_audit(client, self._lock["table"], record)
                released = lockdb.release(client, self._lock["table"], self._lock["run_id"])
                self._display.display(
                    f"deploy lock {'released' if released else 'was no longer held by this run'};"
                    f" audit record written to {self._lock['table']}"
                )
            else:
                record.update(
                    event="refused",
                    run_id=f"refused-{int(self._start)}",
                    result="refused",
                    changed=0,
                    message=lockdb.describe(self._refused["held_by"]),
                )
                lockdb.append_audit(client, self._refused["table"], record)
        except Exception as e:  # the run is over: report, never mask its own result
            self._display.warning(f"deploy_audit: could not write the audit record or release the lock: {e}")
