"""Filters for the cost estimate: ``sheet | cost_estimate(deployment)`` and ``estimate | cost_table``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

_spec = importlib.util.spec_from_file_location(
    "cloudsite_cost_estimate", Path(__file__).resolve().parents[1] / "module_utils" / "cost_estimate.py"
)
_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cost)


def cost_estimate(sheet: dict[str, Any], deployment: dict[str, Any]) -> dict[str, Any]:
    try:
        return _cost.estimate(sheet, deployment)
    except (_cost.PriceSheetError, KeyError, TypeError, ValueError) as e:
        raise AnsibleFilterError(f"cost estimate: {e}") from e


def cost_table(result: dict[str, Any]) -> list[str]:
    return _cost.table(result)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cost_estimate": cost_estimate, "cost_table": cost_table}
