"""Filters for the cost estimate: ``sheet | cost_estimate(deployment)`` and ``estimate | cost_table``."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.cloudsite.aws.plugins.module_utils import cost_estimate as _cost


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
