"""Gap 29 (local/moto_patches/servicequotas.py): the quotas doctor reads, and the prefix list's MaxEntries."""

from __future__ import annotations

import boto3
import pytest

from tests.conftest import REGION

pytestmark = pytest.mark.emulator


def _read(url: str) -> dict:
    kwargs = dict(endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    quotas = boto3.client("service-quotas", **kwargs)
    out = {}
    for service, code in (("ec2", "L-0263D0A3"), ("cloudfront", "L-24B04930"), ("vpc", "L-0EA8095F")):
        try:
            out[code] = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        except quotas.exceptions.NoSuchResourceException:
            out[code] = None
    (prefix_list,) = boto3.client("ec2", **kwargs).describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}]
    )["PrefixLists"]
    out["MaxEntries"] = prefix_list.get("MaxEntries")
    return out


def test_quotas_and_max_entries_are_answered(moto_url):
    assert _read(moto_url) == {"L-0263D0A3": 5.0, "L-24B04930": 200.0, "L-0EA8095F": 60.0, "MaxEntries": 55}


def test_quotas_gap_exists_unpatched(plain_moto_url):
    assert _read(plain_moto_url) == {"L-0263D0A3": None, "L-24B04930": None, "L-0EA8095F": 60.0, "MaxEntries": None}
