"""collections/ansible_collections/cloudsite/aws/plugins/filter/dns_ownership.py: which existing records belong to another owner."""

from __future__ import annotations

from ansible_collections.cloudsite.aws.plugins.filter.dns_ownership import dns_foreign_records, dns_owned_names

OWNER = "heritage=cloudsite,owner=cloudsite"
TARGET = "d1.cloudfront.net"


def got(name: str, kind: str, *, values=None, alias=None) -> dict:
    rrset = {}
    if values is not None:
        rrset["resource_records"] = [{"value": v} for v in values]
    if alias is not None:
        rrset["alias_target"] = {"dns_name": alias}
    return {"__dns_item": [name, kind], "resource_record_sets": [rrset] if rrset else []}


def test_absent_records_and_owned_names_are_not_foreign():
    results = [
        got("a.test", "A"),
        got("a.test", "TXT"),
        got("b.test", "A", values=["192.0.2.1"]),
        got("b.test", "TXT", values=[f'"{OWNER}"']),
    ]
    assert dns_foreign_records(results, OWNER, TARGET, "_o") == []
    assert dns_owned_names(results, OWNER) == ["b.test"]


def test_unmarked_records_and_other_owners_markers_are_foreign():
    results = [
        got("a.test", "A", values=["192.0.2.1"]),
        got("a.test", "TXT"),
        got("b.test", "AAAA", alias="other.example.net."),
        got("b.test", "TXT", values=['"heritage=cloudsite,owner=someone"']),
    ]
    assert dns_foreign_records(results, OWNER, TARGET, "_o") == [
        'TXT _o.b.test ("heritage=cloudsite,owner=someone")',
        "A a.test",
        "AAAA b.test",
    ]


def test_an_unmarked_alias_of_our_own_distribution_is_ours():
    """A deploy from before the ownership records: its aliases already point at the distribution."""
    results = [got("a.test", "A", alias=f"{TARGET}."), got("a.test", "TXT")]
    assert dns_foreign_records(results, OWNER, TARGET, "_o") == []
    assert dns_foreign_records(results, OWNER, "", "_o") == ["A a.test"]


def test_teardown_loop_variable():
    results = [
        {
            "__teardown_item": ["a.test", "TXT"],
            "resource_record_sets": [{"resource_records": [{"value": f'"{OWNER}"'}]}],
        }
    ]
    assert dns_owned_names(results, OWNER, "__teardown_item") == ["a.test"]
