"""Pure logic for the ``cloudfront_site`` module: build, compare and merge CloudFront distribution configs.

No AWS calls here, so the unit tests need neither boto3 nor an emulator.

The compare is *desired-subset-of-current*: every value the deploy asks for must be what the service
holds, and values the service adds on its own (``ConnectionAttempts``, ``OriginShield``, empty policy
ids, ``CallerReference`` …) are not drift. Lists are compared whole:

* lists of dicts with an ``Id`` (origins, origin groups) are matched by ``Id`` and must hold the
  same ids; order does not matter (CloudFront does not keep it);
* other lists of dicts (origin group ``Members``) are compared position by position, because the
  order carries meaning (primary first);
* lists of scalars (aliases, status codes, methods) are compared as sets.

A missing key, ``None``, ``""``, ``[]`` and ``{}`` are the same thing: CloudFront and moto both
leave out empty values that a request may send.

The merge builds the update payload: the desired config laid over the current one so that
server-side values the deploy does not manage survive the update, with a few keys replaced whole
where keeping the old value would be wrong (see ``REPLACE_WHOLE`` and ``EXCLUSIVE``).
"""

from __future__ import annotations

import copy
from typing import Any

ALB_ORIGIN_ID = "alb"
S3_ORIGIN_ID = "s3"
ORIGIN_GROUP_ID = "alb-with-s3-failover"
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"

# Keys whose desired value fully describes them: merging in the current value would keep a stale
# certificate ARN when switching to the default certificate, for example.
REPLACE_WHOLE = frozenset({"ViewerCertificate", "Aliases", "FailoverCriteria", "Members"})

# When the desired dict sets the key on the left, the keys on the right must not survive the merge.
EXCLUSIVE: dict[str, tuple[str, ...]] = {
    "CustomOriginConfig": ("S3OriginConfig",),
    "S3OriginConfig": ("CustomOriginConfig",),
    # A cache policy and the legacy cache settings cannot be sent together (AWS rejects it).
    "CachePolicyId": ("ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL"),
}


def _items(values: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(values), "Items": list(values)}


def build_distribution_config(
    *,
    comment: str,
    alb_domain_name: str,
    s3_domain_name: str,
    origin_access_control_id: str,
    alb_origin_protocol_policy: str = "http-only",
    alb_custom_headers: dict[str, str] | None = None,
    alb_http_port: int = 80,
    alb_https_port: int = 443,
    failover_status_codes: list[int] | None = None,
    cache_policy_id: str = CACHING_OPTIMIZED_POLICY_ID,
    viewer_protocol_policy: str = "redirect-to-https",
    compress: bool = True,
    aliases: list[str] | None = None,
    acm_certificate_arn: str = "",
    minimum_protocol_version: str = "TLSv1.2_2021",
    web_acl_id: str = "",
    price_class: str = "PriceClass_100",
    http_version: str = "http2and3",
    ipv6_enabled: bool = True,
    default_root_object: str = "index.html",
    enabled: bool = True,
    response_headers_policy_id: str = "",
) -> dict[str, Any]:
    """Return the DistributionConfig this project wants (without ``CallerReference``).

    The ALB is the primary origin; the private S3 bucket (reached through an Origin Access Control)
    takes over on the failover status codes; the default behaviour targets the origin group.
    """
    codes = sorted(failover_status_codes if failover_status_codes is not None else [500, 502, 503, 504])
    aliases = sorted(aliases or [])
    if acm_certificate_arn:
        viewer_certificate: dict[str, Any] = {
            "CloudFrontDefaultCertificate": False,
            "ACMCertificateArn": acm_certificate_arn,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": minimum_protocol_version,
        }
    else:
        if aliases:
            raise ValueError("aliases need an ACM certificate (acm_certificate_arn)")
        viewer_certificate = {"CloudFrontDefaultCertificate": True}
    get_head = ["GET", "HEAD"]
    return {
        "Comment": comment,
        "Enabled": enabled,
        "Aliases": _items(aliases),
        "DefaultRootObject": default_root_object,
        "Origins": _items(
            [
                {
                    "Id": ALB_ORIGIN_ID,
                    "DomainName": alb_domain_name,
                    "OriginPath": "",
                    # Sorted by name: the compare below matches lists of dicts position by position.
                    "CustomHeaders": _items(
                        [
                            {"HeaderName": name, "HeaderValue": str(value)}
                            for name, value in sorted((alb_custom_headers or {}).items())
                        ]
                    ),
                    "CustomOriginConfig": {
                        "HTTPPort": alb_http_port,
                        "HTTPSPort": alb_https_port,
                        "OriginProtocolPolicy": alb_origin_protocol_policy,
                        "OriginSslProtocols": _items(["TLSv1.2"]),
                    },
                },
                {
                    "Id": S3_ORIGIN_ID,
                    "DomainName": s3_domain_name,
                    "OriginPath": "",
                    # OAC replaces the legacy origin access identity, which must be sent empty.
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": origin_access_control_id,
                },
            ]
        ),
        "OriginGroups": _items(
            [
                {
                    "Id": ORIGIN_GROUP_ID,
                    "FailoverCriteria": {"StatusCodes": _items(codes)},
                    "Members": _items([{"OriginId": ALB_ORIGIN_ID}, {"OriginId": S3_ORIGIN_ID}]),
                }
            ]
        ),
        "DefaultCacheBehavior": {
            "TargetOriginId": ORIGIN_GROUP_ID,
            "ViewerProtocolPolicy": viewer_protocol_policy,
            # A behaviour aimed at an origin group may only allow the read-only methods.
            "AllowedMethods": {**_items(get_head), "CachedMethods": _items(get_head)},
            "Compress": compress,
            "CachePolicyId": cache_policy_id,
            # Security headers for every response, whichever origin (ALB or the S3 failover) served it.
            **({"ResponseHeadersPolicyId": response_headers_policy_id} if response_headers_policy_id else {}),
        },
        "ViewerCertificate": viewer_certificate,
        "WebACLId": web_acl_id,
        "PriceClass": price_class,
        "HttpVersion": http_version,
        "IsIPV6Enabled": ipv6_enabled,
    }


def build_response_headers_policy_config(
    *,
    name: str,
    comment: str = "",
    content_security_policy: str = "",
    hsts_max_age: int = 31536000,
    hsts_include_subdomains: bool = False,
    hsts_preload: bool = False,
    frame_option: str = "DENY",
    referrer_policy: str = "strict-origin-when-cross-origin",
    content_type_options: bool = True,
    custom_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ResponseHeadersPolicyConfig: CloudFront's security headers plus custom ones, all overriding
    what an origin sends (so S3 and the ALB answer with the same headers)."""
    security: dict[str, Any] = {
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": hsts_max_age,
            "IncludeSubdomains": hsts_include_subdomains,
            "Preload": hsts_preload,
            "Override": True,
        },
        "FrameOptions": {"FrameOption": frame_option, "Override": True},
        "ReferrerPolicy": {"ReferrerPolicy": referrer_policy, "Override": True},
    }
    if content_security_policy:
        security["ContentSecurityPolicy"] = {"ContentSecurityPolicy": content_security_policy, "Override": True}
    if content_type_options:
        security["ContentTypeOptions"] = {"Override": True}
    config: dict[str, Any] = {"Name": name, "Comment": comment, "SecurityHeadersConfig": security}
    headers = sorted((custom_headers or {}).items())
    if headers:
        config["CustomHeadersConfig"] = _items([{"Header": k, "Value": v, "Override": True} for k, v in headers])
    return config


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_id_list(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, dict) and "Id" in v for v in values)


def _scalar_key(value: Any) -> str:
    return f"{type(value).__name__}:{value}"


def differences(desired: Any, current: Any, path: str = "") -> list[str]:
    """Paths where ``current`` does not hold what ``desired`` asks for (empty list: in sync)."""
    if is_empty(desired) and is_empty(current):
        return []
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            current = {}
        found: list[str] = []
        for key, value in desired.items():
            found += differences(value, current.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(desired, list):
        if not isinstance(current, list):
            return [path]
        if _is_id_list(desired) or _is_id_list(current):
            wanted = {d["Id"]: d for d in desired if isinstance(d, dict)}
            held = {c["Id"]: c for c in current if isinstance(c, dict) and "Id" in c}
            if set(wanted) != set(held):
                return [path]
            found = []
            for key, value in wanted.items():
                found += differences(value, held[key], f"{path}[{key}]")
            return found
        if any(isinstance(d, dict) for d in desired):
            if len(desired) != len(current):
                return [path]
            found = []
            for index, (value, held_value) in enumerate(zip(desired, current, strict=True)):
                found += differences(value, held_value, f"{path}[{index}]")
            return found
        if sorted(map(_scalar_key, desired)) != sorted(map(_scalar_key, current)):
            return [path]
        return []
    if desired != current:
        return [path]
    return []


def merge(desired: Any, current: Any, key: str = "") -> Any:
    """Lay ``desired`` over ``current``: the update payload that changes only what the deploy manages."""
    if key in REPLACE_WHOLE or current is None:
        return copy.deepcopy(desired)
    if isinstance(desired, dict) and isinstance(current, dict):
        result = copy.deepcopy(current)
        for name, value in desired.items():
            result[name] = merge(value, current.get(name), name)
        for name, dropped in EXCLUSIVE.items():
            if name in desired:
                for other in dropped:
                    if other not in desired:
                        result.pop(other, None)
        return result
    if isinstance(desired, list) and isinstance(current, list) and _is_id_list(desired):
        held = {c["Id"]: c for c in current if isinstance(c, dict) and "Id" in c}
        return [merge(d, held.get(d["Id"])) for d in desired]
    return copy.deepcopy(desired)


def plan_update(desired: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Return the drifted paths and the full DistributionConfig to send (unchanged ``current`` if none)."""
    drift = differences(desired, current)
    if not drift:
        return [], current
    return drift, merge(desired, current)
