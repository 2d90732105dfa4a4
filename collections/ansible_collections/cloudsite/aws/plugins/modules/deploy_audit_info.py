#!/usr/bin/python
"""Project module: read the deploy audit log (and the current lock) from the deploy lock table."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_audit_info
short_description: Read the last records of the deploy audit log and the current deploy lock
description:
  - Reads the table written by M(deploy_lock) and the C(deploy_audit) callback, newest record first.
  - A missing table is an empty log, not an error.
options:
  table:
    description: Name of the deploy lock table.
    type: str
    required: true
  limit:
    description: How many records to return (1-1000).
    type: int
    default: 20
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the last 10 deploys
  cloudsite.aws.deploy_audit_info:
    table: cloudsite-deploy-lock
    limit: 10
"""

RETURN = r"""
records:
  description: Audit records, newest first (who, when, commit, inventory, tags, versions, result, changed counts).
  returned: always
  type: list
  elements: dict
lines:
  description: The same records, one line each.
  returned: always
  type: list
  elements: str
lock:
  description: The lock held now (null when free).
  returned: always
  type: dict
lock_line:
  description: The lock in one line, or "deploy lock free".
  returned: always
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.cloudsite.aws.plugins.module_utils.deploy_lock import (
    audit_line,
    describe,
    read_audit,
    read_lock,
    table_exists,
)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(table=dict(type="str", required=True), limit=dict(type="int", default=20)),
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= p["limit"] <= 1000:
        module.fail_json(msg=f"limit must be 1-1000; got {p['limit']}")
    client = module.client("dynamodb")
    try:
        if not table_exists(client, p["table"]):
            module.exit_json(changed=False, records=[], lines=[], lock=None, lock_line="deploy lock free")
        records = read_audit(client, p["table"], p["limit"])
        lock = read_lock(client, p["table"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to read the deploy audit log in table {p['table']}")
    module.exit_json(
        changed=False,
        records=records,
        lines=[audit_line(r) for r in records],
        lock=lock,
        lock_line=describe(lock) if lock else "deploy lock free",
    )


if __name__ == "__main__":
    main()
