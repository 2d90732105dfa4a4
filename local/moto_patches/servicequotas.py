"""Gap 29: Service Quotas and the CloudFront prefix list's weight, for doctor's quota headroom.

moto 5.2.5 answers GetServiceQuota only for ``vpc`` codes (NoSuchResource for the rest), and lists the
AWS-managed prefix list ``com.amazonaws.global.cloudfront.origin-facing`` without ``MaxEntries`` (AWS: 55
for IPv4; a prefix-list rule counts as its MaxEntries against "Inbound or outbound rules per security
group"). Patched: GetServiceQuota answers the documented defaults of the codes the deploy depends on, and
that prefix list carries MaxEntries 55.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import managed_prefixes
from moto.servicequotas import models

CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"
CLOUDFRONT_ORIGIN_FACING_MAX_ENTRIES = 55

# (service code, quota code) -> (name, documented default, global)
DEFAULTS = {
    ("ec2", "L-0263D0A3"): ("EC2-VPC Elastic IPs", 5.0, False),
    ("cloudfront", "L-24B04930"): ("Web distributions per AWS account", 200.0, True),
}

_get_service_quota = models.ServiceQuotasBackend.get_service_quota
_create_aws_managed_prefix_list = managed_prefixes.ManagedPrefixListBackend._create_aws_managed_prefix_list


def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
    if (service_code, quota_code) not in DEFAULTS:
        return _get_service_quota(self, service_code, quota_code)
    name, value, is_global = DEFAULTS[(service_code, quota_code)]
    return {
        "ServiceCode": service_code,
        "QuotaCode": quota_code,
        "QuotaName": name,
        "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": is_global,
    }


def _create_managed_list(self: Any, name: str, address_family: str, entries: list[dict[str, str]]) -> None:
    _create_aws_managed_prefix_list(self, name, address_family, entries)
    if name == CLOUDFRONT_ORIGIN_FACING:
        for prefix_list in self.managed_prefix_lists.values():
            if prefix_list.prefix_list_name == name:
                prefix_list.max_entries = CLOUDFRONT_ORIGIN_FACING_MAX_ENTRIES


def apply() -> None:
    models.ServiceQuotasBackend.get_service_quota = get_service_quota
    managed_prefixes.ManagedPrefixListBackend._create_aws_managed_prefix_list = _create_managed_list
