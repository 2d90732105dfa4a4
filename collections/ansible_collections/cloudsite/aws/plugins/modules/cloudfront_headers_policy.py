#!/usr/bin/python
"""Project module: a CloudFront response headers policy carrying the site's security headers."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_headers_policy
short_description: Manage a CloudFront response headers policy with security and custom headers
description:
  - Creates, updates or deletes one custom response headers policy, found by its O(name).
  - The policy sets HSTS, X-Frame-Options, Referrer-Policy, X-Content-Type-Options and, when given,
    Content-Security-Policy, plus custom headers; every header overrides what the origin sends, so a
    response from any origin (the ALB or the S3 failover) carries the same headers.
  - The module reads the current config and its ETag and sends C(UpdateResponseHeadersPolicy) with
    C(IfMatch) only on a real difference. Supports check mode and diff mode.
  - C(community.aws.cloudfront_response_headers_policy) updates the policy on every run and reports
    C(changed) in check mode whatever the state, so a converged deploy would never reach changed=0;
    hence this module.
options:
  state:
    description: V(absent) deletes the policy (AWS refuses while a distribution still uses it).
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Name of the policy (unique in the account).
    type: str
    required: true
  comment:
    description: Comment of the policy.
    type: str
    default: ""
  content_security_policy:
    description: Value of Content-Security-Policy; empty sends none.
    type: str
    default: ""
  hsts_max_age:
    description: Strict-Transport-Security max-age in seconds.
    type: int
    default: 31536000
  hsts_include_subdomains:
    description: Add includeSubDomains to Strict-Transport-Security.
    type: bool
    default: false
  hsts_preload:
    description: Add preload to Strict-Transport-Security.
    type: bool
    default: false
  frame_option:
    description: X-Frame-Options.
    type: str
    choices: [DENY, SAMEORIGIN]
    default: DENY
  referrer_policy:
    description: Referrer-Policy.
    type: str
    default: strict-origin-when-cross-origin
  content_type_options:
    description: Send X-Content-Type-Options nosniff.
    type: bool
    default: true
  custom_headers:
    description: More headers (name to value), e.g. Permissions-Policy.
    type: dict
    default: {}
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Ensure the site's security headers policy
  cloudsite.aws.cloudfront_headers_policy:
    name: cloudsite-security-headers
    content_security_policy: "default-src 'self'"
    custom_headers:
      Permissions-Policy: camera=(), microphone=()
"""

RETURN = r"""
id:
  description: Policy id (empty in check mode before the first create, and after a delete).
  returned: always
  type: str
etag:
  description: ETag of the policy after the run.
  returned: always
  type: str
drift:
  description: Config paths that differed from the desired config.
  returned: always
  type: list
  elements: str
"""

from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.cloudfront_config import (
    build_response_headers_policy_config,
    differences,
)


def find_policy(client: Any, name: str) -> tuple[str, dict[str, Any], str] | None:
    """(id, config, ETag) of the custom policy called ``name``, or None."""
    marker = None
    while True:
        kwargs = {"Type": "custom", **({"Marker": marker} if marker else {})}
        page = client.list_response_headers_policies(aws_retry=True, **kwargs)["ResponseHeadersPolicyList"]
        for item in page.get("Items") or []:
            policy = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"].get("Name") == name:
                response = client.get_response_headers_policy_config(aws_retry=True, Id=policy["Id"])
                return policy["Id"], response["ResponseHeadersPolicyConfig"], response["ETag"]
        marker = page.get("NextMarker")
        if not marker:
            return None


def desired_config(params: dict[str, Any]) -> dict[str, Any]:
    return build_response_headers_policy_config(
        name=params["name"],
        comment=params["comment"],
        content_security_policy=params["content_security_policy"],
        hsts_max_age=params["hsts_max_age"],
        hsts_include_subdomains=params["hsts_include_subdomains"],
        hsts_preload=params["hsts_preload"],
        frame_option=params["frame_option"],
        referrer_policy=params["referrer_policy"],
        content_type_options=params["content_type_options"],
        custom_headers={str(k): str(v) for k, v in (params["custom_headers"] or {}).items()},
    )


def ensure_present(module: AnsibleAWSModule, client: Any) -> dict[str, Any]:
    desired = desired_config(module.params)
    found = find_policy(client, module.params["name"])
    if found is None:
        if module.check_mode:
            return {
                "changed": True,
                "id": "",
                "etag": "",
                "drift": ["(create)"],
                "diff": {"before": {}, "after": desired},
            }
        response = client.create_response_headers_policy(aws_retry=True, ResponseHeadersPolicyConfig=desired)
        policy = response["ResponseHeadersPolicy"]
        return {
            "changed": True,
            "id": policy["Id"],
            "etag": response["ETag"],
            "drift": ["(create)"],
            "diff": {"before": {}, "after": desired},
        }
    policy_id, current, etag = found
    drift = differences(desired, current)
    # A security header the deploy no longer sets must go too (values the service adds elsewhere, such
    # as empty CORS or server-timing settings, are not drift).
    held = (current.get("SecurityHeadersConfig") or {}).keys()
    drift += [f"SecurityHeadersConfig.{k}" for k in sorted(held - desired["SecurityHeadersConfig"].keys())]
    if "CustomHeadersConfig" not in desired and (current.get("CustomHeadersConfig") or {}).get("Items"):
        drift.append("CustomHeadersConfig")
    if not drift:
        return {"changed": False, "id": policy_id, "etag": etag, "drift": []}
    if not module.check_mode:
        response = client.update_response_headers_policy(
            aws_retry=True, Id=policy_id, IfMatch=etag, ResponseHeadersPolicyConfig=desired
        )
        etag = response["ETag"]
    return {
        "changed": True,
        "id": policy_id,
        "etag": etag,
        "drift": drift,
        "diff": {"before": current, "after": desired},
    }


def ensure_absent(module: AnsibleAWSModule, client: Any) -> dict[str, Any]:
    found = find_policy(client, module.params["name"])
    if found is None:
        return {"changed": False, "id": "", "etag": "", "drift": []}
    policy_id, current, etag = found
    if not module.check_mode:
        client.delete_response_headers_policy(aws_retry=True, Id=policy_id, IfMatch=etag)
    return {"changed": True, "id": "", "etag": "", "drift": ["(delete)"], "diff": {"before": current, "after": {}}}


def main() -> None:
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        name=dict(type="str", required=True),
        comment=dict(type="str", default=""),
        content_security_policy=dict(type="str", default=""),
        hsts_max_age=dict(type="int", default=31536000),
        hsts_include_subdomains=dict(type="bool", default=False),
        hsts_preload=dict(type="bool", default=False),
        frame_option=dict(type="str", choices=["DENY", "SAMEORIGIN"], default="DENY"),
        referrer_policy=dict(type="str", default="strict-origin-when-cross-origin"),
        content_type_options=dict(type="bool", default=True),
        custom_headers=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if module.params["state"] == "present":
            result = ensure_present(module, client)
        else:
            result = ensure_absent(module, client)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to manage the response headers policy {module.params['name']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
