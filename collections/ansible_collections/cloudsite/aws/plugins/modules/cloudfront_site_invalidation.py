#!/usr/bin/python
"""Invalidate exactly the CloudFront paths a site publish changed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_site_invalidation
short_description: Invalidate the CloudFront paths of changed site files, once
description:
  - Turns changed keys (uploaded plus deleted, relative to the distribution's origin path) into CloudFront
    paths. C(dir/index.html) is also invalidated as C(/dir/) and the root C(index.html) as C(/).
  - Beyond I(wildcard_threshold) paths, the busiest directories collapse into C(/dir/*) wildcards
    (CloudFront bills a wildcard as one path; the first 1,000 paths a month are free), C(/*) at worst.
  - No keys, no request. The CallerReference is a hash of the path set and I(build_hash). AWS answers a
    repeated reference with the invalidation it already made, in the same shape as a new one, so a
    re-run could not tell it made nothing. So the module first looks for the reference among the
    I(dedupe_lookback) most recent invalidations (ListInvalidations omits references) and reports
    C(changed=false) with C(duplicate=true) when it is there.
  - I(wait=true) polls GetInvalidation until C(Completed), with I(wait_timeout) and I(wait_delay) as
    module options (the botocore waiter's are fixed at 20 s x 30).
options:
  distribution_id:
    description: Id of the distribution.
    type: str
    required: true
  keys:
    description: Changed object keys relative to the origin path, e.g. the C(uploaded) + C(deleted) of M(s3_site_sync).
    type: list
    elements: str
    required: true
  index_document:
    description: Index document name; a changed one also invalidates its directory path. Empty to disable.
    type: str
    default: index.html
  wildcard_threshold:
    description: Most paths sent before directories are collapsed into wildcards.
    type: int
    default: 30
  build_hash:
    description: Identifies the build; part of the CallerReference.
    type: str
    default: ""
  dedupe_lookback:
    description: How many of the most recent invalidations to search for the same CallerReference.
    type: int
    default: 20
  wait:
    description: Wait until the invalidation is complete.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait before failing.
    type: int
    default: 600
  wait_delay:
    description: Seconds between polls.
    type: int
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - cloudsite maintainers
"""

EXAMPLES = r"""
- name: Invalidate what the publish changed
  cloudsite.aws.cloudfront_site_invalidation:
    distribution_id: "{{ cloudfront_distribution_id }}"
    keys: "{{ __static_site_sync.uploaded + __static_site_sync.deleted }}"
    build_hash: "{{ site_build_hash | default('') }}"
    wait: true
"""

RETURN = r"""
paths:
  description: The CloudFront paths invalidated (or to be, in check mode); empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: [/, /index.html, /assets/app.3f9a1c2b.js]
caller_reference:
  description: CallerReference of the invalidation.
  returned: when paths is not empty
  type: str
invalidation:
  description: The invalidation created or found (Id, Status, CreateTime).
  returned: when a request was made or an existing one was found
  type: dict
duplicate:
  description: Whether an invalidation with the same CallerReference already existed and was reused.
  returned: always
  type: bool
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.site_invalidation import (
    caller_reference,
    collapse_paths,
    invalidation_paths,
)

DONE = "Completed"


def find_existing(client, distribution_id: str, reference: str, lookback: int) -> dict | None:
    """The most recent invalidation with this CallerReference, if any (ListInvalidations omits it)."""
    if lookback <= 0:
        return None
    summaries = client.list_invalidations(
        aws_retry=True, DistributionId=distribution_id, MaxItems=str(max(lookback, 1))
    )
    items = (summaries.get("InvalidationList") or {}).get("Items") or []
    items = sorted(items, key=lambda i: i["CreateTime"], reverse=True)[:lookback]
    for item in items:
        found = client.get_invalidation(aws_retry=True, DistributionId=distribution_id, Id=item["Id"])["Invalidation"]
        if found["InvalidationBatch"]["CallerReference"] == reference:
            return found
    return None


def wait_done(module: AnsibleAWSModule, client, distribution_id: str, invalidation: dict) -> dict:
    deadline = time.monotonic() + module.params["wait_timeout"]
    while invalidation["Status"] != DONE:
        if time.monotonic() > deadline:
            module.fail_json(
                msg=f"Invalidation {invalidation['Id']} still {invalidation['Status']} "
                f"after {module.params['wait_timeout']} s",
                invalidation=summary(invalidation),
            )
        time.sleep(max(1, module.params["wait_delay"]))
        invalidation = client.get_invalidation(aws_retry=True, DistributionId=distribution_id, Id=invalidation["Id"])[
            "Invalidation"
        ]
    return invalidation


def summary(invalidation: dict) -> dict:
    return {
        "id": invalidation["Id"],
        "status": invalidation["Status"],
        "create_time": str(invalidation.get("CreateTime", "")),
    }


def main() -> None:
    argument_spec = dict(
        distribution_id=dict(type="str", required=True),
        keys=dict(type="list", elements="str", required=True, no_log=False),
        index_document=dict(type="str", default="index.html"),
        wildcard_threshold=dict(type="int", default=30),
        build_hash=dict(type="str", default=""),
        dedupe_lookback=dict(type="int", default=20),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
        wait_delay=dict(type="int", default=5),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    paths = collapse_paths(invalidation_paths(p["keys"], p["index_document"]), p["wildcard_threshold"])
    result: dict = {"changed": False, "paths": paths, "duplicate": False}
    if not paths:
        module.exit_json(**result)

    reference = caller_reference(paths, p["build_hash"])
    result["caller_reference"] = reference
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    distribution_id = p["distribution_id"]
    try:
        existing = find_existing(client, distribution_id, reference, p["dedupe_lookback"])
        if existing is not None:
            result["duplicate"] = True
            invalidation = existing
        elif module.check_mode:
            module.exit_json(changed=True, **{k: v for k, v in result.items() if k != "changed"})
        else:
            invalidation = client.create_invalidation(
                aws_retry=True,
                DistributionId=distribution_id,
                InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference},
            )["Invalidation"]
            result["changed"] = True
        if p["wait"] and not module.check_mode:
            invalidation = wait_done(module, client, distribution_id, invalidation)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to invalidate {len(paths)} paths on distribution {distribution_id}")
    result["invalidation"] = summary(invalidation)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
