#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Run CloudFormation drift detection on one stack and report its drifted resources."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudformation_drift
short_description: Detect drift of a CloudFormation stack and report each drifted property
description:
  - Gap in the collections (amazon.aws 10): M(amazon.aws.cloudformation) and
    M(amazon.aws.cloudformation_info) neither start drift detection nor read resource drifts.
  - Calls C(DetectStackDrift), waits on C(DescribeStackDriftDetectionStatus), then reads
    C(DescribeStackResourceDrifts) filtered to C(MODIFIED) and C(DELETED) resources.
  - Changes no resource. C(changed) is true when the stack has drifted (a deploy would change it back),
    and the diff lists, per C(LogicalId/PropertyPath), the live value (before) and the template's (after),
    so the C(drift_report) callback reports it like any other resource.
  - A stack that does not exist is reported as such (C(exists=false), nothing changed).
version_added: 0.1.0
author: cloudsite maintainers
options:
  stack_name:
    description: Name of the stack.
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the detection to complete.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Report the drift of the backend stack
  cloudformation_drift:
    stack_name: cloudsite-backend-prod
  when: ansible_check_mode
"""

RETURN = r"""
exists:
  description: Whether the stack exists.
  returned: always
  type: bool
stack_drift_status:
  description: C(IN_SYNC) or C(DRIFTED).
  returned: when the stack exists
  type: str
drifts:
  description: The C(StackResourceDrifts) that are C(MODIFIED) or C(DELETED), as the API returns them.
  returned: when the stack exists
  type: list
  elements: dict
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def drift_diff(drifts: list[dict]) -> dict:
    """before (live) and after (template) per 'LogicalId/PropertyPath' of the drifted resources."""
    before: dict = {}
    after: dict = {}
    for drift in drifts:
        logical = drift["LogicalResourceId"]
        if drift["StackResourceDriftStatus"] == "DELETED":
            before[logical] = "(deleted)"
            after[logical] = f"({drift['ResourceType']} declared in the stack)"
            continue
        for difference in drift.get("PropertyDifferences", []):
            key = logical + difference["PropertyPath"]
            before[key] = None if difference["DifferenceType"] == "REMOVE" else difference["ActualValue"]
            after[key] = None if difference["DifferenceType"] == "ADD" else difference["ExpectedValue"]
    return {"before": before, "after": after}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    cfn = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff())
    name = module.params["stack_name"]
    try:
        try:
            cfn.describe_stacks(aws_retry=True, StackName=name)
        except botocore.exceptions.ClientError as e:
            if "does not exist" in str(e):
                module.exit_json(changed=False, exists=False)
            raise
        detection = cfn.detect_stack_drift(aws_retry=True, StackName=name)["StackDriftDetectionId"]
        deadline = time.monotonic() + module.params["wait_timeout"]
        while True:
            status = cfn.describe_stack_drift_detection_status(aws_retry=True, StackDriftDetectionId=detection)
            if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                break
            if time.monotonic() > deadline:
                module.fail_json(
                    msg=f"stack {name}: drift detection still running after {module.params['wait_timeout']} s"
                )
            time.sleep(5)
        if status["DetectionStatus"] == "DETECTION_FAILED" and status.get("StackDriftStatus") != "DRIFTED":
            module.fail_json(msg=f"stack {name}: drift detection failed: {status.get('DetectionStatusReason')}")
        drifts: list[dict] = []
        kwargs = {"StackName": name, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
        while True:
            page = cfn.describe_stack_resource_drifts(aws_retry=True, **kwargs)
            drifts += page.get("StackResourceDrifts", [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"cannot detect the drift of stack {name}")
    drifted = status.get("StackDriftStatus") == "DRIFTED" or bool(drifts)
    module.exit_json(
        changed=drifted,
        exists=True,
        stack_drift_status=status.get("StackDriftStatus"),
        drifts=[{k: v for k, v in d.items() if k != "Timestamp"} for d in drifts],
        diff=drift_diff(drifts) if drifted else {"before": {}, "after": {}},
    )


if __name__ == "__main__":
    main()
