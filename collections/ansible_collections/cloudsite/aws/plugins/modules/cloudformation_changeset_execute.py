#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Execute a CloudFormation change set and wait for the stack to settle."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudformation_changeset_execute
short_description: Execute a reviewed CloudFormation change set and wait until the stack settles
description:
  - M(amazon.aws.cloudformation) with O(amazon.aws.cloudformation#module:create_changeset=true) creates a change
    set for an existing stack but leaves it for review. This module executes it and waits for that
    execution to end, read from the change set's C(ExecutionStatus) (C(EXECUTE_COMPLETE) with the stack
    settled, or C(EXECUTE_FAILED)), never from the stack status alone, which can still show an earlier
    operation's outcome right after the execute; a failed execution fails the task.
version_added: 0.1.0
author: cloudsite maintainers
options:
  stack_name:
    description: Name of the stack.
    type: str
    required: true
  change_set_id:
    description: ARN (or name) of the change set.
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the stack.
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Execute the change set
  cloudsite.aws.cloudformation_changeset_execute:
    stack_name: cloudsite-backend-prod
    change_set_id: "{{ deploy.change_set_id }}"
  when: deploy.change_set_id is defined
"""

RETURN = r"""
stack_status:
  description: Status of the stack after the execution.
  returned: success
  type: str
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.changeset_status import FAIL, OK, execution_outcome


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            change_set_id=dict(type="str", required=True),
            wait_timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    cfn = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff())
    stack_name = module.params["stack_name"]
    try:
        change_set = cfn.describe_change_set(
            aws_retry=True, ChangeSetName=module.params["change_set_id"], StackName=stack_name
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot describe the change set")
    if change_set.get("ExecutionStatus") != "AVAILABLE":
        module.exit_json(changed=False, stack_status=None, msg=f"change set is {change_set.get('ExecutionStatus')}")
    if module.check_mode:
        module.exit_json(changed=True, stack_status=None)
    try:
        cfn.execute_change_set(aws_retry=True, ChangeSetName=module.params["change_set_id"], StackName=stack_name)
        deadline = time.monotonic() + module.params["wait_timeout"]
        while True:
            execution = cfn.describe_change_set(
                aws_retry=True, ChangeSetName=change_set["ChangeSetId"], StackName=stack_name
            ).get("ExecutionStatus")
            status = cfn.describe_stacks(aws_retry=True, StackName=stack_name)["Stacks"][0]["StackStatus"]
            outcome, reason = execution_outcome(execution, status)
            if outcome == OK:
                module.exit_json(changed=True, stack_status=status)
            if outcome == FAIL:
                module.fail_json(msg=f"stack {stack_name}: {reason}", stack_status=status)
            if time.monotonic() > deadline:
                module.fail_json(
                    msg=f"stack {stack_name}: still waiting after {module.params['wait_timeout']} s ({reason})"
                )
            time.sleep(5)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot execute the change set")


if __name__ == "__main__":
    main()
