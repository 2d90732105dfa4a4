"""DNS ownership: the dns role replaces only records its TXT marks as the project's; teardown deletes only those."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import RECAP, ROOT, run_playbook

pytestmark = [pytest.mark.emulator]

PLAYBOOK = ROOT / "tests" / "integration" / "dns" / "ownership.yml"
DOMAIN = "cloudsite.test"
TARGET = "d111111abcdef8.cloudfront.net"
OWNER = '"heritage=cloudsite,owner=cloudsite"'


def run(moto_url: str, zone: str, step: str, **extra) -> subprocess.CompletedProcess:
    variables = {"step": step, "domain_name": DOMAIN, "hosted_zone_id": zone, "dns_distribution_domain_name": TARGET}
    return run_playbook(moto_url, PLAYBOOK, "-e", json.dumps(variables | extra), timeout=300)


def records(route53, zone: str) -> dict[tuple[str, str], object]:
    out = {}
    for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
        if r["Type"] in ("NS", "SOA"):
            continue
        value = (
            r["AliasTarget"]["DNSName"].rstrip(".")
            if "AliasTarget" in r
            else [v["Value"] for v in r["ResourceRecords"]]
        )
        out[(r["Type"], r["Name"].rstrip("."))] = value
    return out


def upsert(route53, zone: str, kind: str, name: str, value: str) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": kind,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )


def test_records_of_another_owner_are_refused_adopted_on_request_and_kept_by_teardown(moto_reset, aws_client):
    route53 = aws_client("route53")
    zone = route53.create_hosted_zone(Name=DOMAIN, CallerReference="dns-ownership")["HostedZone"]["Id"].split("/")[-1]
    upsert(route53, zone, "A", f"www.{DOMAIN}", "192.0.2.10")  # the user's own www record
    before = records(route53, zone)

    refused = run(moto_reset, zone, "records")
    assert refused.returncode != 0
    failed = [line for line in refused.stdout.splitlines() if "already holds" in line]
    assert failed and f"A www.{DOMAIN}" in refused.stdout and "dns_adopt_records" in refused.stdout, refused.stdout[
        -3000:
    ]
    assert records(route53, zone) == before, "nothing may change before the ownership check passes"

    adopted = run(moto_reset, zone, "records", dns_adopt_records=True)
    assert adopted.returncode == 0, adopted.stdout[-4000:]
    now = records(route53, zone)
    for name in (DOMAIN, f"www.{DOMAIN}"):
        assert now[("A", name)] == TARGET and now[("AAAA", name)] == TARGET
        assert now[("TXT", f"_cloudsite-owner.{name}")] == [OWNER]

    again = run(moto_reset, zone, "records")
    assert again.returncode == 0 and RECAP.search(again.stdout).group(2) == "0", again.stdout[-3000:]

    # Someone else takes www over (their marker): teardown removes only the apex, which is still ours.
    upsert(route53, zone, "TXT", f"_cloudsite-owner.www.{DOMAIN}", '"heritage=cloudsite,owner=someone-else"')
    torn = run(moto_reset, zone, "teardown", confirm_teardown="cloudsite")
    assert torn.returncode == 0, torn.stdout[-4000:]
    left = records(route53, zone)
    assert not [k for k in left if k[1] in (DOMAIN, f"_cloudsite-owner.{DOMAIN}")], left
    assert left[("A", f"www.{DOMAIN}")] == TARGET and left[("AAAA", f"www.{DOMAIN}")] == TARGET
    assert left[("TXT", f"_cloudsite-owner.www.{DOMAIN}")] == ['"heritage=cloudsite,owner=someone-else"']
