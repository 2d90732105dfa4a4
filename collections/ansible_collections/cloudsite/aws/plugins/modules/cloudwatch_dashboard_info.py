#!/usr/bin/python
"""Project module: list CloudWatch dashboards (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard_info
short_description: List CloudWatch dashboards
description:
  - Lists the dashboards whose name starts with O(name_prefix) (ListDashboards).
  - The gap it fills, amazon.aws and community.aws have no dashboard modules.
options:
  name_prefix:
    description: Only dashboards whose name starts with this.
    type: str
    default: ""
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: List the project's dashboards
  cloudsite.aws.cloudwatch_dashboard_info:
    name_prefix: cloudsite
"""

RETURN = r"""
dashboards:
  description: Name, ARN and size of each dashboard.
  returned: always
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main() -> None:
    module = AnsibleAWSModule(argument_spec=dict(name_prefix=dict(type="str", default="")), supports_check_mode=True)
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    kwargs = {"DashboardNamePrefix": module.params["name_prefix"]} if module.params["name_prefix"] else {}
    try:
        pages = client.get_paginator("list_dashboards").paginate(**kwargs).build_full_result()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to list dashboards")
    dashboards = [
        {"name": d["DashboardName"], "arn": d.get("DashboardArn", ""), "size": d.get("Size", 0)}
        for d in pages.get("DashboardEntries", [])
    ]
    module.exit_json(changed=False, dashboards=dashboards)


if __name__ == "__main__":
    main()
