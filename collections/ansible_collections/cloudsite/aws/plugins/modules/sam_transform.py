#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Transform a SAM template into plain CloudFormation offline, with samtranslator."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sam_transform
short_description: Translate a SAM template to CloudFormation with samtranslator, without any AWS call
description:
  - Runs the C(AWS::Serverless-2016-10-31) transform locally with samtranslator (the library the SAM CLI
    and CloudFormation use), answering managed-policy lookups from a static map instead of IAM.
  - The output is deterministic (JSON with sorted keys), so an unchanged template deploys as "no updates".
  - Changes nothing; runs the same in check mode.
version_added: 0.1.0
author: cloudsite maintainers
requirements: [aws-sam-translator]
options:
  template:
    description: The SAM template (for example RV(sam_package.template)).
    type: dict
    required: true
  parameter_values:
    description: Template parameter values the transform may resolve (the same ones the stack gets).
    type: dict
    default: {}
  region:
    description: Region the pseudo parameters resolve to.
    type: str
    default: us-east-1
  managed_policies:
    description: Extra managed policy names and ARNs, merged over the built-in map.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Transform the packaged template
  cloudsite.aws.sam_transform:
    template: "{{ packaged.template }}"
    parameter_values: {Stage: prod}
    region: us-east-1
  register: transformed
"""

RETURN = r"""
template:
  description: The CloudFormation template.
  returned: always
  type: dict
template_body:
  description: The CloudFormation template as JSON with sorted keys (pass it to amazon.aws.cloudformation).
  returned: always
  type: str
resource_types:
  description: Sorted resource types of the result.
  returned: always
  type: list
  elements: str
"""

import json
import logging

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.cloudsite.aws.plugins.module_utils.sam_translate import (
    MANAGED_POLICIES,
    SamTransformError,
    transform,
)

try:
    import samtranslator  # noqa: F401

    HAS_SAMTRANSLATOR = True
except ImportError:
    HAS_SAMTRANSLATOR = False


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            template=dict(type="dict", required=True),
            parameter_values=dict(type="dict", default={}),
            region=dict(type="str", default="us-east-1"),
            managed_policies=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    if not HAS_SAMTRANSLATOR:
        module.fail_json(msg=missing_required_lib("aws-sam-translator"))
    # samtranslator logs feature-toggle notices; keep the module's output to its JSON result.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    policies = dict(MANAGED_POLICIES, **module.params["managed_policies"])
    parameters = {k: str(v) for k, v in module.params["parameter_values"].items()}
    try:
        result = transform(module.params["template"], parameters, module.params["region"], policies)
    except SamTransformError as exc:
        module.fail_json(msg=str(exc))
    types = sorted({r.get("Type", "") for r in result.get("Resources", {}).values()})
    module.exit_json(
        changed=False,
        template=result,
        template_body=json.dumps(result, sort_keys=True, indent=1),
        resource_types=types,
    )


if __name__ == "__main__":
    main()
