#!/usr/bin/python
"""Project module: a CloudWatch dashboard, by name."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_dashboard
short_description: Manage a CloudWatch dashboard by name
description:
  - Creates, updates or deletes a CloudWatch dashboard (PutDashboard, GetDashboard, DeleteDashboards).
  - The gap it fills, amazon.aws and community.aws have no dashboard module (only alarms and log groups).
  - The body is compared as parsed JSON, so key order and whitespace never report a change.
  - Supports check mode and diff mode.
options:
  name:
    description:
      - Dashboard name, at most 255 characters of letters, digits, C(-) and C(_).
    type: str
    required: true
  body:
    description:
      - The dashboard body (a dict with C(widgets), see the CloudWatch dashboard body structure).
      - Required with O(state=present).
    type: dict
  state:
    description: Whether the dashboard exists.
    type: str
    choices: [present, absent]
    default: present
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Ensure the site's dashboard exists
  cloudsite.aws.cloudwatch_dashboard:
    name: cloudsite
    body:
      widgets:
        - type: metric
          x: 0
          y: 0
          width: 12
          height: 6
          properties:
            title: ALB 5xx
            region: us-east-1
            metrics: [[AWS/ApplicationELB, HTTPCode_Target_5XX_Count, LoadBalancer, app/cloudsite-alb/0123]]
"""

RETURN = r"""
arn:
  description: ARN of the dashboard (empty when absent, or in check mode before it exists).
  returned: always
  type: str
"""

import json
import re
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def read_dashboard(client: Any, name: str) -> tuple[str, dict | None]:
    """(arn, parsed body) of dashboard ``name``, or ("", None) when it does not exist."""
    try:
        response = client.get_dashboard(aws_retry=True, DashboardName=name)
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ResourceNotFoundException"):
            return "", None
        raise
    return response.get("DashboardArn", ""), json.loads(response.get("DashboardBody") or "{}")


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        body=dict(type="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    p = module.params
    if not NAME.match(p["name"]):
        module.fail_json(msg=f"name must be 1-255 letters, digits, '-' or '_'; got '{p['name']}'")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        arn, current = read_dashboard(client, p["name"])
        if p["state"] == "absent":
            if current is None:
                module.exit_json(changed=False, arn="")
            if not module.check_mode:
                client.delete_dashboards(aws_retry=True, DashboardNames=[p["name"]])
            module.exit_json(changed=True, arn="", diff={"before": current, "after": {}})
        desired = json.loads(json.dumps(p["body"]))
        if current == desired:
            module.exit_json(changed=False, arn=arn)
        if not module.check_mode:
            response = client.put_dashboard(aws_retry=True, DashboardName=p["name"], DashboardBody=json.dumps(desired))
            problems = response.get("DashboardValidationMessages") or []
            if problems:
                module.warn(f"CloudWatch reported on dashboard {p['name']}: {problems}")
            arn, _ = read_dashboard(client, p["name"])
        module.exit_json(changed=True, arn=arn, diff={"before": current or {}, "after": desired})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to manage dashboard {p['name']}")


if __name__ == "__main__":
    main()
