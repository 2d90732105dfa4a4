"""Filter ``dns_foreign_records``: which existing Route 53 records the project does not own.

Ownership as external-dns marks it: a TXT record ``<prefix>.<name>`` whose one value is the project's
owner string (quoted, as Route 53 stores TXT values). A name's A/AAAA records are the project's when
that TXT says so, or when they already alias the project's own distribution (a deploy from before the
ownership records existed). Input: the ``results`` of ``amazon.aws.route53`` ``state: get`` looped over
``[name, type]`` pairs with ``loop_var: __dns_item`` (TXT entries asked at ``<prefix>.<name>``).
"""

from __future__ import annotations


def _records(result: dict) -> list[dict]:
    return result.get("resource_record_sets") or []


def dns_owned_names(results: list[dict], owner_value: str, item_key: str = "__dns_item") -> list[str]:
    """Names whose ownership TXT holds exactly the project's owner value."""
    quoted = f'"{owner_value}"'
    owned = []
    for r in results:
        name, kind = r[item_key][0], r[item_key][1]
        sets = _records(r)
        if kind == "TXT" and sets and [v.get("value") for v in sets[0].get("resource_records") or []] == [quoted]:
            owned.append(name)
    return owned


def dns_foreign_records(
    results: list[dict], owner_value: str, alias_target: str, prefix: str, item_key: str = "__dns_item"
) -> list[str]:
    """'TYPE name' of every existing record of another owner (empty: all records are ours or absent)."""
    quoted = f'"{owner_value}"'
    target = alias_target.rstrip(".").lower()
    owned, foreign = set(), []
    for r in results:
        name, kind = r[item_key][0], r[item_key][1]
        sets = _records(r)
        if kind == "TXT" and sets:
            values = [v.get("value") for v in sets[0].get("resource_records") or []]
            if values == [quoted]:
                owned.add(name)
            else:
                foreign.append(f"TXT {prefix}.{name} ({' '.join(str(v) for v in values)})")
    for r in results:
        name, kind = r[item_key][0], r[item_key][1]
        sets = _records(r)
        if kind == "TXT" or not sets or name in owned:
            continue
        alias = (sets[0].get("alias_target") or {}).get("dns_name", "")
        if not target or alias.rstrip(".").lower() != target:
            foreign.append(f"{kind} {name}")
    return foreign


class FilterModule:
    def filters(self):
        return {"dns_foreign_records": dns_foreign_records, "dns_owned_names": dns_owned_names}
