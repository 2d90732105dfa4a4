#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Keep a bucket's policy and its Block Public Access settings as declared, with check mode and diff."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_bucket_access
short_description: Ensure a bucket's policy and Block Public Access settings, with check mode and diff
description:
  - Fills a gap in the collections (amazon.aws 10), where M(amazon.aws.s3_bucket) has no check mode, so under
    C(--check) (C(make drift)) it is skipped and a bucket policy replaced or Block Public Access turned
    off in the console goes unseen. This module manages just those two settings of an existing bucket
    and reports, in check mode too, each differing one with its deployed (before) and declared (after)
    value.
  - The policy is compared as AWS compares documents (M(amazon.aws.s3_bucket)'s own comparison, blind to the order
    of statements and lists and to a single value against a one-item list); it is replaced as a whole
    (C(PutBucketPolicy)). Block Public Access is set with C(PutPublicAccessBlock), all four settings.
  - A bucket that does not exist yet is reported as missing (C(exists=false)); in check mode that is the
    first run's plan, outside check mode it is an error (create the bucket first).
version_added: 0.1.0
author: cloudsite maintainers
options:
  bucket:
    description: Name of the bucket.
    type: str
    required: true
  policy:
    description: The bucket policy (a dict or its JSON). Omitted, the policy is not managed.
    type: json
  public_access_block:
    description: The four Block Public Access settings. Omitted, they are not managed.
    type: dict
    suboptions:
      block_public_acls: {type: bool, default: true, description: BlockPublicAcls.}
      ignore_public_acls: {type: bool, default: true, description: IgnorePublicAcls.}
      block_public_policy: {type: bool, default: true, description: BlockPublicPolicy.}
      restrict_public_buckets: {type: bool, default: true, description: RestrictPublicBuckets.}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Ensure only the distribution reads the site bucket
  cloudsite.aws.s3_bucket_access:
    bucket: cloudsite-site-123456789012
    public_access_block: {}
    policy: "{{ lookup('template', 'policy.json.j2') }}"
"""

RETURN = r"""
exists:
  description: Whether the bucket exists.
  returned: always
  type: bool
policy:
  description: The bucket policy after the run (the declared one when it changed or would change).
  returned: when I(policy) is set and the bucket exists
  type: dict
public_access_block:
  description: The Block Public Access settings after the run, snake_case.
  returned: when I(public_access_block) is set and the bucket exists
  type: dict
"""

import json
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

PAB_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}
# A bucket without a configuration: the API answers these errors, AWS applies all four as false.
NO_PAB = {key: False for key in PAB_KEYS}


def plan(
    deployed_policy: dict | None,
    declared_policy: dict | None,
    deployed_pab: dict[str, bool],
    declared_pab: dict[str, bool] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The differing settings, as (before, after): only what is declared and differs."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if declared_policy is not None and (deployed_policy is None or compare_policies(deployed_policy, declared_policy)):
        before["policy"], after["policy"] = deployed_policy, declared_policy
    if declared_pab is not None:
        for key, value in declared_pab.items():
            if deployed_pab.get(key) != value:
                before.setdefault("public_access_block", {})[key] = deployed_pab.get(key)
                after.setdefault("public_access_block", {})[key] = value
    return before, after


def main() -> None:
    pab_options = {key: dict(type="bool", default=True) for key in PAB_KEYS}
    module = AnsibleAWSModule(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            policy=dict(type="json"),
            public_access_block=dict(type="dict", options=pab_options),
        ),
        supports_check_mode=True,
    )
    s3 = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    bucket = module.params["bucket"]
    declared_policy = json.loads(module.params["policy"]) if module.params["policy"] else None
    declared_pab = module.params["public_access_block"]
    try:
        try:
            s3.head_bucket(aws_retry=True, Bucket=bucket)
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            if not module.check_mode:
                module.fail_json(msg=f"bucket {bucket} does not exist: create it first (amazon.aws.s3_bucket)")
            after = {k: v for k, v in {"policy": declared_policy, "public_access_block": declared_pab}.items() if v}
            module.exit_json(changed=True, exists=False, diff={"before": {}, "after": after})
        deployed_policy = None
        if declared_policy is not None:
            try:
                deployed_policy = json.loads(s3.get_bucket_policy(aws_retry=True, Bucket=bucket)["Policy"])
            except botocore.exceptions.ClientError as e:
                if e.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
                    raise
        deployed_pab = dict(NO_PAB)
        if declared_pab is not None:
            try:
                config = s3.get_public_access_block(aws_retry=True, Bucket=bucket)["PublicAccessBlockConfiguration"]
                deployed_pab = {key: bool(config.get(api, False)) for key, api in PAB_KEYS.items()}
            except botocore.exceptions.ClientError as e:
                if e.response.get("Error", {}).get("Code") != "NoSuchPublicAccessBlockConfiguration":
                    raise
        before, after = plan(deployed_policy, declared_policy, deployed_pab, declared_pab)
        if after and not module.check_mode:
            if "public_access_block" in after:
                s3.put_public_access_block(
                    aws_retry=True,
                    Bucket=bucket,
                    PublicAccessBlockConfiguration={api: declared_pab[key] for key, api in PAB_KEYS.items()},
                )
            if "policy" in after:
                s3.put_bucket_policy(aws_retry=True, Bucket=bucket, Policy=json.dumps(declared_policy))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"cannot read or set the access settings of bucket {bucket}")
    result: dict[str, Any] = {"changed": bool(after), "exists": True, "diff": {"before": before, "after": after}}
    if declared_policy is not None:
        result["policy"] = declared_policy if "policy" in after else deployed_policy
    if declared_pab is not None:
        result["public_access_block"] = declared_pab if "public_access_block" in after else deployed_pab
    module.exit_json(**result)


if __name__ == "__main__":
    main()
