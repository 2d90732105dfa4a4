#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Run CloudFormation drift detection on one stack and report its drifted resources."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudformation_drift
short_description: Detect drift of a CloudFormation stack and report each drifted property
description:
  - Fills a gap in the collections (amazon.aws 10), where M(amazon.aws.cloudformation) and
    M(amazon.aws.cloudformation_info) neither start drift detection nor read resource drifts.
  - Calls C(DetectStackDrift), waits on C(DescribeStackDriftDetectionStatus), then reads
    C(DescribeStackResourceDrifts) filtered to C(MODIFIED) and C(DELETED) resources.
  - Changes no resource. C(changed) is true when the stack has drifted (a deploy would change it back),
    and the diff lists, per C(LogicalId/PropertyPath), the live value (before) and the template's (after),
    so the C(drift_report) callback reports it like any other resource.
  - A stack that does not exist is reported as such (C(exists=false), nothing changed).
  - With I(repair=true), outside check mode, it puts each drifted C(AWS::Lambda::Function) back. A
    CloudFormation update with an unchanged template is "no updates" and repairs nothing, so the module
    calls C(UpdateFunctionConfiguration) with the template's values (the drift's C(ExpectedProperties))
    of the drifted properties it can set (I(repairable)), then waits until the update is done.
    A drift it cannot repair (another resource type or property) is returned in C(not_repaired) with a
    warning. C(changed) is then true when something was repaired.
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
  repair:
    description:
      - Outside check mode, put the drifted properties of the stack's Lambda functions back to the template's
        values (C(lambda:UpdateFunctionConfiguration) on the functions). In check mode only reported.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Report the drift of the backend stack
  cloudsite.aws.cloudformation_drift:
    stack_name: cloudsite-backend-prod
  when: ansible_check_mode
"""

RETURN = r"""
repaired:
  description: The functions repaired, each C(LogicalId) with the properties set.
  returned: always
  type: list
  elements: dict
not_repaired:
  description: The drifts left as they are (C(LogicalId/PropertyPath)), by type or property not repairable.
  returned: always
  type: list
  elements: str
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

import json
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


# CloudFormation property of AWS::Lambda::Function -> UpdateFunctionConfiguration parameter, and the value
# AWS applies when the template does not set it (a property the template does not set is not checked).
REPAIRABLE = {
    "Environment": ("Environment", {"Variables": {}}),
    "MemorySize": ("MemorySize", 128),
    "Timeout": ("Timeout", 3),
    "Handler": ("Handler", None),
    "Runtime": ("Runtime", None),
    "Description": ("Description", ""),
}


def repair_plan(drifts: list[dict]) -> tuple[list[dict], list[str]]:
    """Per drifted function, the UpdateFunctionConfiguration arguments that put the template's values back;
    and the drifts no such call repairs (``LogicalId/PropertyPath``)."""
    updates: list[dict] = []
    left: list[str] = []
    for drift in drifts:
        logical = drift["LogicalResourceId"]
        paths = [d["PropertyPath"] for d in drift.get("PropertyDifferences", [])]
        if drift["StackResourceDriftStatus"] != "MODIFIED" or drift["ResourceType"] != "AWS::Lambda::Function":
            left += [logical + p for p in paths] or [logical]
            continue
        expected = json.loads(drift.get("ExpectedProperties") or "{}")
        args: dict = {}
        for path in paths:
            prop = path.strip("/").split("/")[0]
            if prop not in REPAIRABLE:
                left.append(logical + path)
                continue
            parameter, default = REPAIRABLE[prop]
            value = expected.get(prop, default)
            if value is None:
                left.append(logical + path)
                continue
            if prop == "Environment":
                value = {"Variables": {k: str(v) for k, v in (value.get("Variables") or {}).items()}}
            elif prop in ("MemorySize", "Timeout"):
                value = int(value)
            args[parameter] = value
        if args:
            updates.append({"LogicalResourceId": logical, "FunctionName": drift["PhysicalResourceId"], **args})
    return updates, left


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            wait_timeout=dict(type="int", default=300),
            repair=dict(type="bool", default=False),
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
    updates, left = repair_plan(drifts)
    repaired: list[dict] = []
    if module.params["repair"] and not module.check_mode and updates:
        # ResourceConflictException: the function is still being updated (LastUpdateStatus InProgress).
        lam = module.client(
            "lambda", retry_decorator=AWSRetry.jittered_backoff(catch_extra_error_codes=["ResourceConflictException"])
        )
        for update in updates:
            args = {k: v for k, v in update.items() if k != "LogicalResourceId"}
            try:
                lam.update_function_configuration(aws_retry=True, **args)
                lam.get_waiter("function_updated").wait(FunctionName=update["FunctionName"])
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                module.fail_json_aws(e, msg=f"stack {name}: cannot repair function {update['FunctionName']}")
            repaired.append(
                {"LogicalResourceId": update["LogicalResourceId"], "properties": sorted(set(args) - {"FunctionName"})}
            )
    if left and drifted:
        module.warn(f"stack {name}: drift not repaired by this module: {', '.join(left)}")
    module.exit_json(
        # Check mode (make drift): a drifted stack is a change to make. A run: what it repaired; drift it
        # cannot repair is warned about, not reported as a change every run.
        changed=drifted if module.check_mode or not module.params["repair"] else bool(repaired),
        repaired=repaired,
        not_repaired=left,
        exists=True,
        stack_drift_status=status.get("StackDriftStatus"),
        drifts=[{k: v for k, v in d.items() if k != "Timestamp"} for d in drifts],
        diff=drift_diff(drifts) if drifted else {"before": {}, "after": {}},
    )


if __name__ == "__main__":
    main()
