"""The dns, cloudfront and s3_site roles against the private patched emulator.

amazon.aws' integration pattern: check mode on an empty account (changed, nothing created) → apply →
apply again (changed=0) → check mode on the converged deploy (changed=0) → read back with boto3.
The ALB and the hosted zone come from boto3 (other roles own them); the cloudfront role finds the ALB
by its name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RECAP, ROOT, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PLAYBOOK = Path(__file__).parent / "cdn" / "cdn.yml"
INVENTORY = ROOT / "inventories" / "local" / "hosts.yml"
DOMAIN = "cloudsite.test"
BUCKET = "cloudsite-local-site"  # inventories/local/group_vars/local.yml
COMMENT = "cloudsite site"
ALB_NAME = "cloudsite-alb"


def converge(moto_url: str, *args: str, playbook: Path = PLAYBOOK) -> tuple[int, str]:
    proc = run_playbook(moto_url, playbook, *args, inventory=INVENTORY, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    match = RECAP.search(proc.stdout)
    assert match, proc.stdout[-3000:]
    assert match.group(4) == "0"
    return int(match.group(2)), proc.stdout


@pytest.fixture
def account(moto_reset, aws_client):
    """An ALB named like the alb role names it and a hosted zone for the domain."""
    ec2, elbv2 = aws_client("ec2"), aws_client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    alb = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=subnets)["LoadBalancers"][0]
    zone = aws_client("route53").create_hosted_zone(Name=DOMAIN, CallerReference="cdn-test")["HostedZone"]
    return {"alb_dns_name": alb["DNSName"], "zone_id": zone["Id"].rsplit("/", 1)[-1]}


def domain_args(account: dict[str, str]) -> list[str]:
    return ["-e", f"domain_name={DOMAIN}", "-e", f"hosted_zone_id={account['zone_id']}"]


def the_distribution(cloudfront) -> dict:
    items = cloudfront.list_distributions()["DistributionList"].get("Items") or []
    mine = [d for d in items if d["Comment"] == COMMENT]
    assert len(mine) == 1, items
    return mine[0]


def test_cdn_roles_converge_and_hold_the_wiring(account, aws_client, moto_url):
    cloudfront, s3, acm = aws_client("cloudfront"), aws_client("s3"), aws_client("acm")
    wafv2, route53 = aws_client("wafv2"), aws_client("route53")
    args = domain_args(account)

    changed, _ = converge(moto_url, "--check", *args)
    assert changed > 0
    assert not cloudfront.list_distributions()["DistributionList"].get("Items")
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not acm.list_certificates()["CertificateSummaryList"]
    assert not wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert not cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items")

    changed, first = converge(moto_url, "--diff", *args)
    assert changed > 0
    changed, out = converge(moto_url, *args)
    assert changed == 0, out
    changed, out = converge(moto_url, "--check", *args)
    assert changed == 0, out

    summary = the_distribution(cloudfront)
    config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    assert len(origins) == 2
    assert origins["alb"]["DomainName"] == account["alb_dns_name"]
    assert origins["alb"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    # The secret the ALB's listener rule requires (inventories/local), never printed by the run.
    assert origins["alb"]["CustomHeaders"]["Items"] == [
        {"HeaderName": "X-Origin-Verify", "HeaderValue": "local-origin-verify-0123456789abcdef"}
    ]
    assert "local-origin-verify-0123456789abcdef" not in first + out
    assert origins["s3"]["DomainName"] == f"{BUCKET}.s3.us-east-1.amazonaws.com"
    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [o["Name"] for o in oacs] == ["cloudsite-site-oac"]
    assert origins["s3"]["OriginAccessControlId"] == oacs[0]["Id"]
    assert origins["s3"]["S3OriginConfig"] == {"OriginAccessIdentity": ""}

    # Issue 13 point 4: security headers on every origin's responses, by a response headers policy.
    policy_id = config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    policy = cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"]
    headers = policy["ResponseHeadersPolicyConfig"]
    assert headers["Name"] == "cloudsite-security-headers"
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert "frame-ancestors 'none'" in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert all(v["Override"] for v in security.values())

    assert config["OriginGroups"]["Quantity"] == 1
    group = config["OriginGroups"]["Items"][0]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["alb", "s3"]
    assert sorted(group["FailoverCriteria"]["StatusCodes"]["Items"]) == [500, 502, 503, 504]
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == group["Id"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    assert config["DefaultRootObject"] == "index.html"
    assert config["HttpVersion"] == "http2and3"

    acls = wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert [a["Name"] for a in acls] == ["cloudsite-cloudfront"]
    assert config["WebACLId"] == acls[0]["ARN"]
    acl = wafv2.get_web_acl(Name=acls[0]["Name"], Scope="CLOUDFRONT", Id=acls[0]["Id"])["WebACL"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]["Limit"] == 2000

    certs = acm.list_certificates()["CertificateSummaryList"]
    assert len(certs) == 1
    cert = acm.describe_certificate(CertificateArn=certs[0]["CertificateArn"])["Certificate"]
    assert cert["Status"] == "ISSUED"
    assert set(cert["SubjectAlternativeNames"]) == {DOMAIN, f"www.{DOMAIN}"}
    assert config["ViewerCertificate"]["ACMCertificateArn"] == cert["CertificateArn"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    assert sorted(config["Aliases"]["Items"]) == [DOMAIN, f"www.{DOMAIN}"]

    bpa = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert bpa == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert len(policy["Statement"]) == 1
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": summary["ARN"]}}
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    # Old versions expire, but each object keeps its last 3 noncurrent versions (the static rollback needs 1).
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}
    assert rule["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    sse = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ownership = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    records = route53.list_resource_record_sets(HostedZoneId=account["zone_id"])["ResourceRecordSets"]
    aliases = {
        (r["Name"], r["Type"]): r["AliasTarget"] for r in records if r["Type"] in ("A", "AAAA") and "AliasTarget" in r
    }
    for name in (f"{DOMAIN}.", f"www.{DOMAIN}."):
        for kind in ("A", "AAAA"):
            target = aliases[(name, kind)]
            assert target["HostedZoneId"] == "Z2FDTNDATAQYW2"
            assert target["DNSName"].rstrip(".") == summary["DomainName"]
    validation = [r for r in records if r["Type"] == "CNAME"]
    assert {r["Name"] for r in validation} == {o["ResourceRecord"]["Name"] for o in cert["DomainValidationOptions"]}


def test_drift_is_repaired_waf_turned_off_and_distribution_deleted(
    account, aws_client, moto_url, tmp_path, slow_distribution_deploys
):
    cloudfront, wafv2 = aws_client("cloudfront"), aws_client("wafv2")
    changed, _ = converge(moto_url)
    assert changed > 0
    summary = the_distribution(cloudfront)
    assert summary["Aliases"]["Quantity"] == 0  # no domain: CloudFront's own certificate
    response = cloudfront.get_distribution_config(Id=summary["Id"])
    config = response["DistributionConfig"]
    assert config["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True

    # Someone changes the price class and a failover code by hand: the next run puts them back.
    config["PriceClass"] = "PriceClass_All"
    config["OriginGroups"]["Items"][0]["FailoverCriteria"]["StatusCodes"] = {"Quantity": 1, "Items": [500]}
    cloudfront.update_distribution(Id=summary["Id"], IfMatch=response["ETag"], DistributionConfig=config)
    changed, out = converge(moto_url, "--diff")
    assert changed == 1, out
    assert "PriceClass_All" in out
    config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
    assert config["PriceClass"] == "PriceClass_100"
    assert sorted(config["OriginGroups"]["Items"][0]["FailoverCriteria"]["StatusCodes"]["Items"]) == [
        500,
        502,
        503,
        504,
    ]

    # As on AWS, the detaching update takes a while to deploy and the ACL cannot go before it has.
    slow_distribution_deploys(moto_url)
    changed, _ = converge(moto_url, "-e", "cloudfront_waf_enabled=false")
    assert changed == 2  # detach (waited for), delete
    assert cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]["WebACLId"] == ""
    assert not wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    changed, _ = converge(moto_url, "-e", "cloudfront_waf_enabled=false")
    assert changed == 0

    # The teardown's way out: the module's state=absent disables, waits, deletes.
    playbook = tmp_path / "absent.yml"
    playbook.write_text(
        "- name: Delete the distribution\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Ensure the distribution is absent\n"
        "      cloudsite.aws.cloudfront_site:\n"
        f"        comment: {COMMENT}\n"
        "        state: absent\n"
        "        wait: true\n"
        "        endpoint_url: '{{ aws_endpoint_url }}'\n"
        "        access_key: testing\n"
        "        secret_key: testing\n"
        "        region: us-east-1\n"
    )
    changed, _ = converge(moto_url, playbook=playbook)
    assert changed == 1
    assert not cloudfront.list_distributions()["DistributionList"].get("Items")
    changed, _ = converge(moto_url, playbook=playbook)
    assert changed == 0
