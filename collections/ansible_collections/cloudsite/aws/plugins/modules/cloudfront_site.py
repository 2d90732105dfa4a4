#!/usr/bin/python
"""Project module: the site's CloudFront distribution (ALB primary, S3 failover, OAC, WAF, ACM)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_site
short_description: Manage the site's CloudFront distribution with an ALB/S3 origin group
description:
  - Creates, updates or deletes one CloudFront distribution, found by its O(comment) (or by
    O(distribution_id)).
  - The distribution has two origins, the ALB (custom origin) and the private S3 bucket (reached
    through an Origin Access Control), and an origin group with the ALB as primary and the bucket as
    failover; the default behaviour targets the group.
  - The module reads the current config and its ETag, compares the desired config against it (values
    the service adds on its own are not drift) and sends C(UpdateDistribution) with C(IfMatch) only
    on a real difference. Supports check mode and diff mode.
  - C(community.aws.cloudfront_distribution) has no origin groups, no OAC, and reports changes on
    every run; hence this module.
options:
  state:
    description:
      - V(absent) disables the distribution, then deletes it. AWS deletes a distribution only once the
        disabled config is deployed, so use O(wait=true) for a delete in one run.
    type: str
    choices: [present, absent]
    default: present
  comment:
    description: The distribution's Comment; the deploy finds its distribution by it.
    type: str
    required: true
  distribution_id:
    description: Id of the distribution; when set, the module does not search by O(comment).
    type: str
  alb_domain_name:
    description: DNS name of the ALB (primary origin). Required with O(state=present).
    type: str
  alb_origin_protocol_policy:
    description: How CloudFront talks to the ALB.
    type: str
    choices: [http-only, https-only, match-viewer]
    default: http-only
  alb_custom_headers:
    description:
      - Headers CloudFront adds to every request to the ALB (name to value), for example the secret the
        ALB's listener rule requires. Values are kept out of the output (C(no_log)).
    type: dict
    default: {}
  alb_http_port:
    description: ALB HTTP port.
    type: int
    default: 80
  alb_https_port:
    description: ALB HTTPS port.
    type: int
    default: 443
  s3_domain_name:
    description: Regional domain name of the bucket (C(bucket.s3.region.amazonaws.com)). Required with O(state=present).
    type: str
  origin_access_control_id:
    description: Id of the Origin Access Control for the S3 origin. Required with O(state=present).
    type: str
  failover_status_codes:
    description: ALB status codes that make CloudFront retry the request on the S3 origin.
    type: list
    elements: int
    default: [500, 502, 503, 504]
  cache_policy_id:
    description: Cache policy of the default behaviour (default the managed CachingOptimized policy).
    type: str
    default: 658327ea-f89d-4fab-a63d-7e88639e58f6
  response_headers_policy_id:
    description: Response headers policy of the default behaviour (e.g. from cloudfront_headers_policy); empty for none.
    type: str
    default: ""
  viewer_protocol_policy:
    description: Viewer protocol policy of the default behaviour.
    type: str
    choices: [allow-all, https-only, redirect-to-https]
    default: redirect-to-https
  compress:
    description: Compress objects automatically.
    type: bool
    default: true
  aliases:
    description: Alternate domain names (CNAMEs); need O(acm_certificate_arn).
    type: list
    elements: str
    default: []
  acm_certificate_arn:
    description: ACM certificate (us-east-1) for the aliases; empty uses the CloudFront default certificate.
    type: str
    default: ""
  minimum_protocol_version:
    description: Minimum TLS version for viewers when a certificate is set.
    type: str
    default: TLSv1.2_2021
  web_acl_id:
    description: ARN of a WAFv2 web ACL (scope CLOUDFRONT); empty for none.
    type: str
    default: ""
  price_class:
    description: Price class.
    type: str
    choices: [PriceClass_100, PriceClass_200, PriceClass_All]
    default: PriceClass_100
  http_version:
    description: Highest HTTP version viewers may use.
    type: str
    choices: [http1.1, http2, http3, http2and3]
    default: http2and3
  ipv6_enabled:
    description: Answer on IPv6.
    type: bool
    default: true
  default_root_object:
    description: Object returned for C(/).
    type: str
    default: index.html
  enabled:
    description: Whether the distribution serves requests.
    type: bool
    default: true
  tags:
    description: Tags added to the distribution (existing tags with other keys are kept).
    type: dict
    default: {}
  wait:
    description: Wait until the distribution is C(Deployed) after a change.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 1800
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Ensure the site distribution exists
  cloudsite.aws.cloudfront_site:
    comment: cloudsite site
    alb_domain_name: cloudsite-alb-123.us-east-1.elb.amazonaws.com
    s3_domain_name: cloudsite-site.s3.us-east-1.amazonaws.com
    origin_access_control_id: E2QWRUHAPOMQZL
    web_acl_id: arn:aws:wafv2:us-east-1:123456789012:global/webacl/cloudsite/abc
    tags:
      project: cloudsite

- name: Delete the site distribution
  cloudsite.aws.cloudfront_site:
    comment: cloudsite site
    state: absent
    wait: true
"""

RETURN = r"""
id:
  description: Distribution id (empty in check mode before the first create).
  returned: always
  type: str
arn:
  description: Distribution ARN.
  returned: always
  type: str
domain_name:
  description: The distribution's C(*.cloudfront.net) name.
  returned: always
  type: str
etag:
  description: ETag of the config after the run.
  returned: always
  type: str
status:
  description: Distribution status (C(InProgress), C(Deployed)).
  returned: always
  type: str
drift:
  description: Config paths that differed from the desired config.
  returned: always
  type: list
  elements: str
"""

import time
import uuid
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.cloudfront_config import (
    build_distribution_config,
    plan_update,
)


def find_distribution(client: Any, comment: str) -> str | None:
    paginator = client.get_paginator("list_distributions")
    for page in paginator.paginate():
        for summary in page.get("DistributionList", {}).get("Items") or []:
            if summary.get("Comment") == comment:
                return summary["Id"]
    return None


def describe(client: Any, dist_id: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Return (distribution summary, its DistributionConfig, ETag)."""
    dist = client.get_distribution(aws_retry=True, Id=dist_id)["Distribution"]
    response = client.get_distribution_config(aws_retry=True, Id=dist_id)
    return dist, response["DistributionConfig"], response["ETag"]


def wait_deployed(module: AnsibleAWSModule, client: Any, dist_id: str) -> None:
    deadline = time.monotonic() + module.params["wait_timeout"]
    while client.get_distribution(aws_retry=True, Id=dist_id)["Distribution"]["Status"] != "Deployed":
        if time.monotonic() > deadline:
            module.fail_json(msg=f"distribution {dist_id} not Deployed after {module.params['wait_timeout']} s")
        time.sleep(10)


def ensure_tags(module: AnsibleAWSModule, client: Any, arn: str) -> bool:
    wanted = {str(k): str(v) for k, v in (module.params["tags"] or {}).items()}
    if not wanted:
        return False
    held_items = client.list_tags_for_resource(aws_retry=True, Resource=arn)["Tags"].get("Items") or []
    held = {t["Key"]: t.get("Value", "") for t in held_items}
    missing = {k: v for k, v in wanted.items() if held.get(k) != v}
    if not missing:
        return False
    if not module.check_mode:
        items = [{"Key": k, "Value": v} for k, v in missing.items()]
        client.tag_resource(aws_retry=True, Resource=arn, Tags={"Items": items})
    return True


def result_of(dist: dict[str, Any] | None, etag: str, changed: bool, drift: list[str]) -> dict[str, Any]:
    dist = dist or {}
    return {
        "changed": changed,
        "id": dist.get("Id", ""),
        "arn": dist.get("ARN", ""),
        "domain_name": dist.get("DomainName", ""),
        "status": dist.get("Status", ""),
        "etag": etag,
        "drift": drift,
    }


def desired_config(module: AnsibleAWSModule) -> dict[str, Any]:
    p = module.params
    missing = [k for k in ("alb_domain_name", "s3_domain_name", "origin_access_control_id") if not p[k]]
    if missing:
        module.fail_json(msg=f"state=present needs {', '.join(missing)}")
    try:
        return build_distribution_config(
            comment=p["comment"],
            alb_domain_name=p["alb_domain_name"],
            alb_origin_protocol_policy=p["alb_origin_protocol_policy"],
            alb_custom_headers=p["alb_custom_headers"],
            alb_http_port=p["alb_http_port"],
            alb_https_port=p["alb_https_port"],
            s3_domain_name=p["s3_domain_name"],
            origin_access_control_id=p["origin_access_control_id"],
            failover_status_codes=p["failover_status_codes"],
            cache_policy_id=p["cache_policy_id"],
            response_headers_policy_id=p["response_headers_policy_id"],
            viewer_protocol_policy=p["viewer_protocol_policy"],
            compress=p["compress"],
            aliases=p["aliases"],
            acm_certificate_arn=p["acm_certificate_arn"],
            minimum_protocol_version=p["minimum_protocol_version"],
            web_acl_id=p["web_acl_id"],
            price_class=p["price_class"],
            http_version=p["http_version"],
            ipv6_enabled=p["ipv6_enabled"],
            default_root_object=p["default_root_object"],
            enabled=p["enabled"],
        )
    except ValueError as e:
        module.fail_json(msg=str(e))
    raise AssertionError("unreachable")


def ensure_present(module: AnsibleAWSModule, client: Any, dist_id: str | None) -> dict[str, Any]:
    desired = desired_config(module)
    if dist_id is None:
        if module.check_mode:
            return {**result_of(None, "", True, ["(create)"]), "diff": {"before": {}, "after": desired}}
        config = {**desired, "CallerReference": str(uuid.uuid4())}
        tags = [{"Key": str(k), "Value": str(v)} for k, v in (module.params["tags"] or {}).items()]
        try:
            response = client.create_distribution_with_tags(
                aws_retry=True, DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg="Failed to create the distribution")
        dist = response["Distribution"]
        if module.params["wait"]:
            wait_deployed(module, client, dist["Id"])
        return {**result_of(dist, response["ETag"], True, ["(create)"]), "diff": {"before": {}, "after": config}}

    dist, current, etag = describe(client, dist_id)
    drift, payload = plan_update(desired, current)
    changed = False
    if drift:
        changed = True
        if not module.check_mode:
            try:
                response = client.update_distribution(
                    aws_retry=True, Id=dist_id, IfMatch=etag, DistributionConfig=payload
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg=f"Failed to update distribution {dist_id}")
            dist, etag = response["Distribution"], response["ETag"]
            if module.params["wait"]:
                wait_deployed(module, client, dist_id)
    changed = ensure_tags(module, client, dist["ARN"]) or changed
    result = result_of(dist, etag, changed, drift)
    if drift:
        result["diff"] = {"before": current, "after": payload}
    return result


def ensure_absent(module: AnsibleAWSModule, client: Any, dist_id: str | None) -> dict[str, Any]:
    if dist_id is None:
        return result_of(None, "", False, [])
    dist, current, etag = describe(client, dist_id)
    if module.check_mode:
        return {**result_of(dist, etag, True, ["(delete)"]), "diff": {"before": current, "after": {}}}
    try:
        if current.get("Enabled"):
            response = client.update_distribution(
                aws_retry=True, Id=dist_id, IfMatch=etag, DistributionConfig={**current, "Enabled": False}
            )
            dist, etag = response["Distribution"], response["ETag"]
        if module.params["wait"]:
            wait_deployed(module, client, dist_id)
        elif dist.get("Status") != "Deployed":
            # AWS refuses to delete until the disabled config is deployed: the next run finishes the job.
            module.warn(f"distribution {dist_id} is disabled; run again (or use wait=true) to delete it")
            return result_of(dist, etag, True, ["Enabled"])
        etag = client.get_distribution_config(aws_retry=True, Id=dist_id)["ETag"]
        client.delete_distribution(aws_retry=True, Id=dist_id, IfMatch=etag)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to delete distribution {dist_id}")
    return {**result_of(dist, "", True, ["(delete)"]), "diff": {"before": current, "after": {}}}


def main() -> None:
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        comment=dict(type="str", required=True),
        distribution_id=dict(type="str"),
        alb_domain_name=dict(type="str"),
        alb_origin_protocol_policy=dict(
            type="str", choices=["http-only", "https-only", "match-viewer"], default="http-only"
        ),
        alb_custom_headers=dict(type="dict", default={}, no_log=True),
        alb_http_port=dict(type="int", default=80),
        alb_https_port=dict(type="int", default=443),
        s3_domain_name=dict(type="str"),
        origin_access_control_id=dict(type="str"),
        failover_status_codes=dict(type="list", elements="int", default=[500, 502, 503, 504]),
        cache_policy_id=dict(type="str", default="658327ea-f89d-4fab-a63d-7e88639e58f6"),
        response_headers_policy_id=dict(type="str", default=""),
        viewer_protocol_policy=dict(
            type="str", choices=["allow-all", "https-only", "redirect-to-https"], default="redirect-to-https"
        ),
        compress=dict(type="bool", default=True),
        aliases=dict(type="list", elements="str", default=[]),
        acm_certificate_arn=dict(type="str", default=""),
        minimum_protocol_version=dict(type="str", default="TLSv1.2_2021"),
        web_acl_id=dict(type="str", default=""),
        price_class=dict(
            type="str", choices=["PriceClass_100", "PriceClass_200", "PriceClass_All"], default="PriceClass_100"
        ),
        http_version=dict(type="str", choices=["http1.1", "http2", "http3", "http2and3"], default="http2and3"),
        ipv6_enabled=dict(type="bool", default=True),
        default_root_object=dict(type="str", default="index.html"),
        enabled=dict(type="bool", default=True),
        tags=dict(type="dict", default={}),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    try:
        dist_id = module.params["distribution_id"] or find_distribution(client, module.params["comment"])
        if module.params["state"] == "present":
            result = ensure_present(module, client, dist_id)
        else:
            result = ensure_absent(module, client, dist_id)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to read the distribution")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
