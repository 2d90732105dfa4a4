"""Compare/merge logic of the cloudfront_site module, without AWS."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.cloudsite.aws.plugins.module_utils.cloudfront_config import (
    ALB_ORIGIN_ID,
    ORIGIN_GROUP_ID,
    S3_ORIGIN_ID,
    build_distribution_config,
    build_response_headers_policy_config,
    differences,
    merge,
    plan_update,
)

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def desired(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "comment": "cloudsite site",
        "alb_domain_name": "cloudsite-alb-1.us-east-1.elb.amazonaws.com",
        "s3_domain_name": "cloudsite-site.s3.us-east-1.amazonaws.com",
        "origin_access_control_id": "E2OAC",
        "web_acl_id": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cloudsite/1",
    }
    params.update(overrides)
    return build_distribution_config(**params)


def as_served(config: dict[str, Any]) -> dict[str, Any]:
    """What GetDistributionConfig returns for ``config``: the server's own defaults added, empties left out,
    lists reordered (shaped on moto 5.2.5 and the AWS API reference)."""
    served = copy.deepcopy(config)
    served["CallerReference"] = "ref-1"
    if served["Aliases"]["Items"]:
        served["Aliases"]["Items"].reverse()
    else:
        del served["Aliases"]["Items"]
    for origin in served["Origins"]["Items"]:
        origin.update(
            ConnectionAttempts=3,
            ConnectionTimeout=10,
            OriginShield={"Enabled": False},
            CustomHeaders={"Quantity": 0},
        )
        origin.setdefault("OriginAccessControlId", "")
        if "CustomOriginConfig" in origin:
            origin["CustomOriginConfig"].update(OriginReadTimeout=30, OriginKeepaliveTimeout=5)
    served["Origins"]["Items"].reverse()
    served["OriginGroups"]["Items"][0]["FailoverCriteria"]["StatusCodes"]["Items"].reverse()
    served["DefaultCacheBehavior"].update(
        TrustedSigners={"Enabled": False, "Quantity": 0},
        TrustedKeyGroups={"Enabled": False, "Quantity": 0},
        SmoothStreaming=False,
        LambdaFunctionAssociations={"Quantity": 0},
        FunctionAssociations={"Quantity": 0},
        FieldLevelEncryptionId="",
        OriginRequestPolicyId=None,
        ForwardedValues={"QueryString": False, "Cookies": {"Forward": "none"}},
        MinTTL=0,
        DefaultTTL=0,
        MaxTTL=0,
    )
    served["CacheBehaviors"] = {"Quantity": 0}
    served["CustomErrorResponses"] = {"Quantity": 0}
    served["Logging"] = {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""}
    served["Restrictions"] = {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}}
    served["ViewerCertificate"].update(CertificateSource="cloudfront", IAMCertificateId="", Certificate="")
    return served


def test_server_added_defaults_are_not_drift():
    config = desired()
    assert differences(config, as_served(config)) == []


def test_server_added_defaults_with_certificate_and_aliases_are_not_drift():
    config = desired(acm_certificate_arn=CERT, aliases=["example.com", "www.example.com"])
    assert differences(config, as_served(config)) == []
    assert plan_update(config, as_served(config)) == ([], as_served(config))


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"price_class": "PriceClass_All"}, "PriceClass"),
        ({"failover_status_codes": [500, 502, 503]}, "OriginGroups.Items[alb-with-s3-failover].FailoverCriteria"),
        ({"web_acl_id": ""}, "WebACLId"),
        ({"alb_domain_name": "other-alb.elb.amazonaws.com"}, "Origins.Items[alb].DomainName"),
        ({"origin_access_control_id": "E2OTHER"}, "Origins.Items[s3].OriginAccessControlId"),
        ({"http_version": "http2"}, "HttpVersion"),
    ],
)
def test_real_change_is_drift(change, path):
    current = as_served(desired())
    drift = differences(desired(**change), current)
    assert drift
    assert any(p.startswith(path) for p in drift), drift


def test_added_alias_is_drift():
    current = as_served(desired(acm_certificate_arn=CERT, aliases=["example.com"]))
    drift = differences(desired(acm_certificate_arn=CERT, aliases=["example.com", "www.example.com"]), current)
    assert sorted(drift) == ["Aliases.Items", "Aliases.Quantity"]


def test_swapped_group_members_is_drift():
    current = as_served(desired())
    members = current["OriginGroups"]["Items"][0]["Members"]["Items"]
    members.reverse()
    assert differences(desired(), current) == [
        "OriginGroups.Items[alb-with-s3-failover].Members.Items[0].OriginId",
        "OriginGroups.Items[alb-with-s3-failover].Members.Items[1].OriginId",
    ]


def test_missing_origin_is_drift():
    current = as_served(desired())
    current["Origins"]["Items"] = [o for o in current["Origins"]["Items"] if o["Id"] == ALB_ORIGIN_ID]
    assert differences(desired(), current) == ["Origins.Items"]


def test_update_payload_keeps_server_values_and_applies_the_change():
    current = as_served(desired())
    drift, payload = plan_update(desired(price_class="PriceClass_All"), current)
    assert drift == ["PriceClass"]
    assert payload["PriceClass"] == "PriceClass_All"
    assert payload["CallerReference"] == "ref-1"
    assert payload["Logging"] == current["Logging"]
    origins = {o["Id"]: o for o in payload["Origins"]["Items"]}
    assert origins[S3_ORIGIN_ID]["ConnectionAttempts"] == 3
    assert origins[S3_ORIGIN_ID]["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert payload["DefaultCacheBehavior"]["TargetOriginId"] == ORIGIN_GROUP_ID
    # A cache policy excludes the legacy cache settings the server reports.
    assert "ForwardedValues" not in payload["DefaultCacheBehavior"]
    assert "MinTTL" not in payload["DefaultCacheBehavior"]
    # After the update the desired config holds.
    assert differences(desired(price_class="PriceClass_All"), payload) == []


def test_switching_to_default_certificate_drops_the_acm_arn():
    current = as_served(desired(acm_certificate_arn=CERT, aliases=["example.com"]))
    drift, payload = plan_update(desired(), current)
    assert "ViewerCertificate.CloudFrontDefaultCertificate" in drift
    assert payload["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert payload["Aliases"] == {"Quantity": 0, "Items": []}


def test_origin_type_change_drops_the_other_origin_config():
    current = {"Id": "x", "S3OriginConfig": {"OriginAccessIdentity": ""}, "ConnectionAttempts": 3}
    merged = merge({"Id": "x", "CustomOriginConfig": {"HTTPPort": 80}}, current)
    assert merged == {"Id": "x", "CustomOriginConfig": {"HTTPPort": 80}, "ConnectionAttempts": 3}


def test_empty_values_equal_missing_ones_but_false_does_not():
    assert differences({"A": "", "B": [], "C": {"Quantity": 0, "Items": []}}, {"C": {"Quantity": 0}}) == []
    assert differences({"Enabled": False}, {}) == ["Enabled"]


def test_default_behaviour_targets_the_group_and_alb_is_primary():
    config = desired()
    group = config["OriginGroups"]["Items"][0]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == [ALB_ORIGIN_ID, S3_ORIGIN_ID]
    assert group["FailoverCriteria"]["StatusCodes"]["Items"] == [500, 502, 503, 504]


def test_certificate_settings():
    assert desired()["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    cert = desired(acm_certificate_arn=CERT, aliases=["www.example.com", "example.com"])
    assert cert["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    assert cert["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert cert["Aliases"] == {"Quantity": 2, "Items": ["example.com", "www.example.com"]}
    with pytest.raises(ValueError, match="aliases need an ACM certificate"):
        desired(aliases=["example.com"])


# Issue 13 point 4: security headers survive failover (a response headers policy on the default behaviour).
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def nginx_headers() -> dict[str, str]:
    import re

    text = (ROOT / "app" / "frontend" / "nginx.conf").read_text()
    return dict(re.findall(r'^\s*add_header ([\w-]+) "([^"]*)" always;', text, re.MULTILINE))


def role_defaults() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((ROOT / "roles" / "cloudfront" / "defaults" / "main.yml").read_text())


def test_the_default_behaviour_carries_the_response_headers_policy():
    behaviour = desired(response_headers_policy_id="rhp-1")["DefaultCacheBehavior"]
    assert behaviour["ResponseHeadersPolicyId"] == "rhp-1"
    assert "ResponseHeadersPolicyId" not in desired()["DefaultCacheBehavior"]


def test_the_policy_sends_the_headers_nginx_sends_on_every_origin():
    """The role's policy values equal nginx.conf's add_header values, so S3 answers like the ALB."""
    d = role_defaults()
    policy = build_response_headers_policy_config(
        name="p",
        content_security_policy=d["cloudfront_content_security_policy"],
        hsts_max_age=d["cloudfront_hsts_max_age"],
        frame_option=d["cloudfront_frame_option"],
        referrer_policy=d["cloudfront_referrer_policy"],
        custom_headers=d["cloudfront_custom_headers"],
    )
    security = policy["SecurityHeadersConfig"]
    sent = {
        "Content-Security-Policy": security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "X-Content-Type-Options": "nosniff" if "ContentTypeOptions" in security else "",
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "Strict-Transport-Security": f"max-age={security['StrictTransportSecurity']['AccessControlMaxAgeSec']}",
        **{h["Header"]: h["Value"] for h in policy["CustomHeadersConfig"]["Items"]},
    }
    expected = {k: v for k, v in nginx_headers().items() if k != "Cache-Control"}
    assert sent == expected
    assert all(v["Override"] for v in security.values())
    assert policy["CustomHeadersConfig"]["Quantity"] == len(policy["CustomHeadersConfig"]["Items"])
    assert security["StrictTransportSecurity"]["IncludeSubdomains"] is False


def test_alb_origin_carries_the_secret_header_and_a_rotation_is_drift():
    config = desired(alb_custom_headers={"X-Origin-Verify": "new-secret"})
    alb = next(o for o in config["Origins"]["Items"] if o["Id"] == ALB_ORIGIN_ID)
    assert alb["CustomHeaders"] == {
        "Quantity": 1,
        "Items": [{"HeaderName": "X-Origin-Verify", "HeaderValue": "new-secret"}],
    }
    s3 = next(o for o in config["Origins"]["Items"] if o["Id"] == S3_ORIGIN_ID)
    assert "CustomHeaders" not in s3  # the bucket is read through OAC, not a header
    served = copy.deepcopy(config)
    assert differences(config, served) == []
    old = desired(alb_custom_headers={"X-Origin-Verify": "old-secret"})
    drift, payload = plan_update(config, old)
    assert drift == [f"Origins.Items[{ALB_ORIGIN_ID}].CustomHeaders.Items[0].HeaderValue"]
    assert (
        next(o for o in payload["Origins"]["Items"] if o["Id"] == ALB_ORIGIN_ID)["CustomHeaders"]
        == alb["CustomHeaders"]
    )
