"""Gap 22 (local/moto_patches/cloudfront_waf.py): an update redeploys the distribution, and a web ACL it
used cannot be deleted until that deploy ends (WAFAssociatedItemException), as on AWS."""

from __future__ import annotations

import uuid

import boto3
import botocore.exceptions
import pytest

from tests.conftest import REGION

pytestmark = pytest.mark.emulator


def _clients(url: str):
    kwargs = {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return boto3.client("cloudfront", **kwargs), boto3.client("wafv2", **kwargs)


def _detach_then_delete(url: str) -> tuple[object, object, str, dict]:
    """A distribution using a web ACL; detach it; try to delete the ACL at once."""
    cloudfront, wafv2 = _clients(url)
    name = f"acl-{uuid.uuid4().hex[:8]}"
    acl = wafv2.create_web_acl(
        Name=name,
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name},
    )["Summary"]
    config = {
        "CallerReference": name,
        "Comment": "waf patch test",
        "Enabled": True,
        "WebACLId": acl["ARN"],
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "o",
                    "DomainName": "example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "o",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    dist = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    current = cloudfront.get_distribution_config(Id=dist["Id"])
    current["DistributionConfig"]["WebACLId"] = ""
    cloudfront.update_distribution(
        Id=dist["Id"], IfMatch=current["ETag"], DistributionConfig=current["DistributionConfig"]
    )
    lock = wafv2.get_web_acl(Name=name, Scope="CLOUDFRONT", Id=acl["Id"])["LockToken"]
    return cloudfront, wafv2, dist["Id"], {"Name": name, "Scope": "CLOUDFRONT", "Id": acl["Id"], "LockToken": lock}


def test_acl_is_refused_until_the_detaching_update_is_deployed(moto_url, slow_distribution_deploys):
    slow_distribution_deploys(moto_url)
    cloudfront, wafv2, dist_id, acl = _detach_then_delete(moto_url)
    with pytest.raises(botocore.exceptions.ClientError, match="WAFAssociatedItemException"):
        wafv2.delete_web_acl(**acl)
    statuses = [cloudfront.get_distribution(Id=dist_id)["Distribution"]["Status"] for _ in range(2)]
    assert statuses == ["InProgress", "Deployed"]
    wafv2.delete_web_acl(**acl)
    assert acl["Name"] not in [a["Name"] for a in wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]]


def test_acl_named_by_a_distribution_is_refused(moto_url):
    cloudfront, wafv2 = _clients(moto_url)
    _, _, dist_id, acl = _detach_then_delete(moto_url)
    # Attach it again: deployed or not, a distribution that names the ACL holds it.
    current = cloudfront.get_distribution_config(Id=dist_id)
    arn = wafv2.get_web_acl(Name=acl["Name"], Scope="CLOUDFRONT", Id=acl["Id"])["WebACL"]["ARN"]
    current["DistributionConfig"]["WebACLId"] = arn
    cloudfront.update_distribution(
        Id=dist_id, IfMatch=current["ETag"], DistributionConfig=current["DistributionConfig"]
    )
    with pytest.raises(botocore.exceptions.ClientError, match="WAFAssociatedItemException"):
        wafv2.delete_web_acl(**acl)


def test_waf_gap_exists_unpatched(plain_moto_url, slow_distribution_deploys):
    slow_distribution_deploys(plain_moto_url)
    _, wafv2, _, acl = _detach_then_delete(plain_moto_url)
    wafv2.delete_web_acl(**acl)  # AWS would refuse: the detaching update is not deployed
