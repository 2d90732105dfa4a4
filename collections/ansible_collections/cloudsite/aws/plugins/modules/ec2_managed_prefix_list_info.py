#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Project module: look up an AWS-managed prefix list by name (the collections have no prefix list module)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_managed_prefix_list_info
short_description: Find a managed prefix list by name, with its id and the rules it counts against a security group
description:
  - amazon.aws and community.aws have no module for DescribeManagedPrefixLists, which a security group
    rule from C(com.amazonaws.global.cloudfront.origin-facing) needs for its id (it differs by region).
  - Read-only; runs in check mode.
version_added: 0.1.0
author: cloudsite maintainers
options:
  name:
    description: Prefix list name, for example C(com.amazonaws.global.cloudfront.origin-facing).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up CloudFront's origin-facing prefix list
  cloudsite.aws.ec2_managed_prefix_list_info:
    name: com.amazonaws.global.cloudfront.origin-facing
  register: cloudfront_prefix_list
"""

RETURN = r"""
prefix_list_id:
  description: Id of the prefix list (empty when none has that name).
  returned: always
  type: str
max_entries:
  description: Its MaxEntries, the weight it counts against a security group's rule quota.
  returned: always
  type: int
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main() -> None:
    module = AnsibleAWSModule(argument_spec=dict(name=dict(type="str", required=True)), supports_check_mode=True)
    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        lists = ec2.describe_managed_prefix_lists(
            aws_retry=True, Filters=[{"Name": "prefix-list-name", "Values": [module.params["name"]]}]
        )["PrefixLists"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot describe the managed prefix lists")
    found = lists[0] if lists else {}
    module.exit_json(
        changed=False, prefix_list_id=found.get("PrefixListId", ""), max_entries=int(found.get("MaxEntries") or 0)
    )


if __name__ == "__main__":
    main()
