#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Project module: read Service Quotas values (no collection module reads Service Quotas)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_quota_info
short_description: Read quota values with GetServiceQuota, falling back to the documented default
description:
  - Neither amazon.aws nor community.aws has a Service Quotas module.
  - Calls GetServiceQuota only. When it answers NoSuchResourceException (the quota was never read or
    changed in this account, or Service Quotas does not cover it in this region), the value is the
    documented default given, and C(source) says so.
  - Runs in check mode.
version_added: 0.1.0
author: cloudsite maintainers
options:
  quotas:
    description: The quotas to read.
    type: list
    elements: dict
    required: true
    suboptions:
      service_code:
        description: The Service Quotas service code (C(ec2), C(vpc), C(cloudfront)).
        type: str
        required: true
      quota_code:
        description: The quota code (C(L-...)).
        type: str
        required: true
      default:
        description: The documented default, used when GetServiceQuota answers NoSuchResourceException.
        type: float
        required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the Elastic IP quota
  cloudsite.aws.service_quota_info:
    quotas:
      - {service_code: ec2, quota_code: L-0263D0A3, default: 5}
  register: quotas
"""

RETURN = r"""
quotas:
  description: One entry per quota asked, keyed by quota code.
  returned: always
  type: dict
  contains:
    value:
      description: The quota's value.
      type: float
    source:
      description: C(service-quotas) or C(documented default (NoSuchResource)).
      type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            quotas=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    service_code=dict(type="str", required=True),
                    quota_code=dict(type="str", required=True),
                    default=dict(type="float", required=True),
                ),
            )
        ),
        supports_check_mode=True,
    )
    client = module.client("service-quotas")
    result = {}
    for quota in module.params["quotas"]:
        try:
            value = client.get_service_quota(ServiceCode=quota["service_code"], QuotaCode=quota["quota_code"])
            result[quota["quota_code"]] = dict(value=float(value["Quota"]["Value"]), source="service-quotas")
        except is_boto3_error_code("NoSuchResourceException"):
            result[quota["quota_code"]] = dict(value=quota["default"], source="documented default (NoSuchResource)")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"cannot read quota {quota['service_code']}/{quota['quota_code']}")
    module.exit_json(changed=False, quotas=result)


if __name__ == "__main__":
    main()
