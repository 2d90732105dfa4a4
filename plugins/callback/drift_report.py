"""Callback: turn a `--check --diff` run of the deploy into a drift report (table + JSON)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: drift_report
type: aggregate
short_description: Drift report of a check-mode run (IN_SYNC / MODIFIED / MISSING / UNMANAGED-EXTRA)
description:
  - Active only in check mode and only when C(CLOUDSITE_DRIFT_REPORT) names the JSON file to write
    (C(make drift) sets it through C(drift/run.py)).
  - Every task of a resource module (amazon.aws, community.aws, community.docker, the project's modules,
    files and services on the hosts) is one resource; its check-mode answer says whether what is deployed
    matches what is declared. A change with a diff lists each attribute with the deployed (before) and
    declared (after) value; nothing deployed is MISSING; something deployed that the declaration removes
    is UNMANAGED-EXTRA.
  - A resource whose only differences are deployed items or values nothing declares (an extra security
    group rule, listener rule, environment variable) is UNMANAGED-EXTRA, with those items.
  - A failed or unreachable task makes the report's status C(error).
"""

import json
import os
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase

RESOURCE_NAMESPACES = ("amazon.aws.", "community.aws.", "community.docker.", "cloudsite.aws.")
HOST_MODULES = {
    "ansible.builtin.copy",
    "ansible.builtin.template",
    "ansible.builtin.file",
    "ansible.builtin.lineinfile",
    "ansible.builtin.systemd_service",
    "ansible.builtin.service",
    "ansible.builtin.apt",
}
# Project modules that read, or keep bookkeeping, not deployed resources.
NOT_RESOURCES = {
    f"cloudsite.aws.{name}" for name in ("deploy_lock", "deploy_audit_info", "sam_transform", "sam_package")
}
MAX_VALUE = 300
# Modules whose check mode says "changed" without a diff but returns the deployed resource: the attributes
# to compare, deployed (the result) against declared (the module's arguments), so the report still names
# what differs. Their results are snake_case like their arguments.
NO_DIFF_ATTRIBUTES = {
    "community.aws.wafv2_web_acl": ("rules", "description"),
}


def is_resource_module(action: str) -> bool:
    if action.endswith("_info") or action in NOT_RESOURCES:
        return False
    return action.startswith(RESOURCE_NAMESPACES) or action in HOST_MODULES


def _short(value: Any) -> Any:
    text = json.dumps(value, sort_keys=True, default=str)
    return value if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _canon(value: Any) -> str:
    """Comparable form: numbers and strings alike ('8081' == 8081), dict keys sorted."""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return sorted((norm(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
        if isinstance(v, bool) or v is None:
            return v
        return str(v)

    return json.dumps(norm(value), sort_keys=True)


def same(deployed: Any, declared: Any) -> bool:
    """Whether two values agree on every field both state (modules enrich one side or the other with
    read-only fields: descriptions, names, ARNs); lists agree item by item, in any order."""
    if isinstance(deployed, dict) and isinstance(declared, dict):
        return all(same(deployed[k], declared[k]) for k in deployed.keys() & declared.keys())
    if isinstance(deployed, list) and isinstance(declared, list):
        return len(deployed) == len(declared) and all(any(same(d, v) for d in deployed) for v in declared)
    return _canon(deployed) == _canon(declared)


def attribute_changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Differences between the deployed (before) and declared (after) values, as dotted paths.

    A key the declaration does not state (read-only fields such as ARNs) is not a difference. For lists,
    order does not count: ``deployed`` lists the items only deployed (extra), ``declared`` the items only
    declared (missing).
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(after, key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append({"attribute": sub, "deployed": None, "declared": _short(after[key])})
            else:
                out += attribute_changes(before[key], after[key], sub)
        return out
    if isinstance(before, list) and isinstance(after, list):
        extra = [x for x in before if not any(same(x, y) for y in after)]
        missing = [y for y in after if not any(same(x, y) for x in before)]
        if not extra and not missing:
            return []
        return [{"attribute": path or "(value)", "deployed": _short(extra), "declared": _short(missing)}]
    if _canon(before) == _canon(after):
        return []
    return [{"attribute": path or "(value)", "deployed": _short(before), "declared": _short(after)}]


def returned_diff(action: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """For a module of NO_DIFF_ATTRIBUTES: its attributes as deployed (returned) and declared (arguments)."""
    args = (result.get("invocation") or {}).get("module_args") or {}
    names = [n for n in NO_DIFF_ATTRIBUTES.get(action, ()) if args.get(n) is not None and n in result]
    if not names:
        return None
    return {"before": {n: result[n] for n in names}, "after": {n: args[n] for n in names}}


def classify(result: dict[str, Any], action: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Status and attribute changes of one check-mode result."""
    if not result.get("changed"):
        return "IN_SYNC", []
    diffs = result.get("diff") or returned_diff(action, result)
    if isinstance(diffs, dict):
        diffs = [diffs]
    changes: list[dict[str, Any]] = []
    empty_before = empty_after = bool(diffs)
    for diff in diffs or []:
        before, after = diff.get("before"), diff.get("after")
        empty_before &= before in (None, {}, "", [])
        empty_after &= after in (None, {}, "", [])
        changes += attribute_changes(before, after)
    if diffs and empty_before and not empty_after:
        return "MISSING", changes
    if diffs and empty_after and not empty_before:
        return "UNMANAGED-EXTRA", changes
    if not changes:
        changes = [{"attribute": "(not reported by the module)", "deployed": None, "declared": None}]
    if all(only_extra(change) for change in changes):
        return "UNMANAGED-EXTRA", changes
    return "MODIFIED", changes


def only_extra(change: dict[str, Any]) -> bool:
    """Whether a change is only something deployed that nothing declares (an extra rule, an extra
    environment variable): nothing declared is missing or different."""
    return change["declared"] in (None, []) and change["deployed"] not in (None, [], "")


def report_status(entries: list[dict[str, Any]], errors: list[dict[str, Any]]) -> str:
    if errors:
        return "error"
    return "drift" if any(e["status"] != "IN_SYNC" for e in entries) else "in_sync"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "drift_report"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("CLOUDSITE_DRIFT_REPORT", "")
        self._entries: list[dict[str, Any]] = []
        self._errors: list[dict[str, Any]] = []

    def _active(self) -> bool:
        return bool(self._path) and bool(context.CLIARGS.get("check"))

    def _add(self, host: str, task: Any, action: str, result: dict[str, Any], label: str = "") -> None:
        status, changes = classify(result, action)
        name = task.get_name()
        self._entries.append(
            {
                "resource": f"{name} [{label}]" if label else name,
                "host": host,
                "module": action,
                "status": status,
                "attributes": changes,
            }
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        if not self._active():
            return
        action = str(getattr(result.task, "resolved_action", None) or result.task.action)
        if not is_resource_module(action):
            return
        host = result.host.get_name()
        items = result.result.get("results")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and not item.get("skipped"):
                    label = item.get("_ansible_item_label", item.get("item", ""))
                    self._add(host, result.task, action, item, json.dumps(label, default=str)[:80])
        else:
            self._add(host, result.task, action, result.result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if self._active() and not ignore_errors:
            self._errors.append(
                {"task": result.task.get_name(), "host": result.host.get_name(), "msg": str(result.result.get("msg"))}
            )

    def v2_runner_on_unreachable(self, result: Any) -> None:
        if self._active():
            self._errors.append({"task": result.task.get_name(), "host": result.host.get_name(), "msg": "unreachable"})

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if not self._active():
            return
        counts: dict[str, int] = {}
        for entry in self._entries:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        report = {
            "status": report_status(self._entries, self._errors),
            "counts": counts,
            "resources": self._entries,
            "errors": self._errors,
        }
        with open(self._path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        self._display.display("DRIFT REPORT " + "*" * 60)
        for entry in self._entries:
            if entry["status"] == "IN_SYNC":
                continue
            self._display.display(f"{entry['status']:16} {entry['host']:12} {entry['resource']}")
            for change in entry["attributes"]:
                self._display.display(
                    f"{'':16}   {change['attribute']}: deployed={json.dumps(change['deployed'], default=str)}"
                    f" declared={json.dumps(change['declared'], default=str)}"
                )
        for error in self._errors:
            self._display.display(f"{'ERROR':16} {error['host']:12} {error['task']}: {error['msg']}")
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no resources checked"
        self._display.display(f"drift: {report['status']} ({summary}); report: {self._path}")
