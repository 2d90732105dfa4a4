#!/usr/bin/python
"""Project module: the account-wide deploy lock (a DynamoDB conditional write)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_lock
short_description: Take, release or break the deploy lock kept in a DynamoDB table
description:
  - One deploy at a time per account. O(state=acquired) takes the lock with a conditional PutItem
    (no lock, an expired lock, or this O(run_id) already holds it); another live holder makes the task
    fail with one line naming who holds it, since when and their message. Re-taking it in the same run
    extends the expiry (every stage playbook takes it again).
  - O(state=released) deletes the lock if O(run_id) holds it. O(state=broken) deletes it whoever holds it
    and appends an C(unlock) record to the audit log.
  - Lock bookkeeping is not a change to the deployment, so taking and releasing report C(changed=false)
    (a converged deploy stays at changed=0); creating the table and breaking a lock report a change.
  - In check mode no lock is taken and no table is created; the current holder is reported.
  - The collections have no conditional write on DynamoDB items (M(community.aws.dynamodb_table) manages
    tables only), the gap this module fills. The release at the end of a run, on failure too, is
    done by the C(deploy_audit) callback plugin, which also writes the run's audit record.
options:
  table:
    description: Name of the DynamoDB table holding the lock and the audit log; created (on demand) when missing.
    type: str
    required: true
  state:
    description: What to do with the lock.
    type: str
    choices: [acquired, released, broken]
    default: acquired
  run_id:
    description: Identifier of this run (the same for every stage of one C(ansible-playbook) run).
    type: str
  holder:
    description: Who deploys (user name or CI actor).
    type: str
    default: ""
  host:
    description: Where the deploy runs from.
    type: str
    default: ""
  message:
    description: Why (shown to anyone refused by the lock, and kept in the audit log).
    type: str
    default: ""
  ttl:
    description: Seconds until the lock expires unless the run takes it again (a killed run's lock expires).
    type: int
    default: 1800
  wait:
    description: Seconds to wait for a held lock to be released before failing (0 fails at once).
    type: int
    default: 0
  tags:
    description: Tags of the table when it is created.
    type: dict
    default: {}
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the deploy lock
  cloudsite.aws.deploy_lock:
    table: cloudsite-deploy-lock
    run_id: "{{ deploy_lock_run_id }}"
    holder: alice
    host: laptop
    message: roll the new frontend

- name: Break a stale lock
  cloudsite.aws.deploy_lock:
    table: cloudsite-deploy-lock
    state: broken
    holder: alice
    message: the CI runner was killed
"""

RETURN = r"""
deploy_lock:
  description: The lock as this run left it.
  returned: always
  type: dict
  contains:
    table: {description: Table name., type: str}
    acquired: {description: Whether this run holds the lock now., type: bool}
    run_id: {description: The run holding it., type: str}
    holder: {description: Who holds it., type: str}
    started: {description: When the holding run first took it (UTC)., type: str}
    expires_at: {description: Epoch seconds when it expires unless taken again., type: int}
    broken: {description: For O(state=broken), the lock that was removed (null when there was none)., type: dict}
    current: {description: In check mode, the lock held now (null when free)., type: dict}
"""

import time
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.cloudsite.aws.plugins.module_utils.deploy_lock import (
    LockHeld,
    acquire,
    append_audit,
    break_lock,
    create_table,
    describe,
    iso,
    read_lock,
    release,
    table_exists,
)


def main() -> None:
    argument_spec = dict(
        table=dict(type="str", required=True),
        state=dict(type="str", choices=["acquired", "released", "broken"], default="acquired"),
        run_id=dict(type="str"),
        holder=dict(type="str", default=""),
        host=dict(type="str", default=""),
        message=dict(type="str", default=""),
        ttl=dict(type="int", default=1800),
        wait=dict(type="int", default=0),
        tags=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "acquired", ["run_id"]), ("state", "released", ["run_id"])],
    )
    p = module.params
    if not 60 <= p["ttl"] <= 86400:
        module.fail_json(msg=f"ttl must be 60-86400 seconds; got {p['ttl']}")
    if p["wait"] < 0:
        module.fail_json(msg=f"wait must be 0 or more seconds; got {p['wait']}")
    # Plain client: the lock functions catch the client's modelled exceptions themselves, and the
    # AWSRetry wrapper needs aws_retry=True on every call, which these shared functions do not pass.
    client = module.client("dynamodb")
    table = p["table"]
    result: dict[str, Any] = {"table": table, "acquired": False, "run_id": p["run_id"] or ""}
    try:
        exists = table_exists(client, table)
        if module.check_mode:
            result["current"] = read_lock(client, table) if exists else None
            module.exit_json(changed=False, deploy_lock=result)
        if p["state"] == "released":
            result["released"] = exists and release(client, table, p["run_id"])
            module.exit_json(changed=False, deploy_lock=result)
        changed = False
        if not exists:
            create_table(client, table, p["tags"])
            changed = True
        if p["state"] == "broken":
            old = break_lock(client, table)
            now = time.time()
            append_audit(
                client,
                table,
                {
                    "event": "unlock",
                    "started": iso(now),
                    "run_id": f"unlock-{int(now)}",
                    "holder": p["holder"],
                    "host": p["host"],
                    "message": p["message"] or "lock broken by make unlock",
                    "result": "broken" if old else "no-lock",
                    "broken_lock": old,
                },
            )
            result["broken"] = old
            module.exit_json(changed=changed or old is not None, deploy_lock=result)
        deadline = time.time() + p["wait"]
        while True:
            try:
                lock = acquire(
                    client,
                    table,
                    run_id=p["run_id"],
                    holder=p["holder"],
                    host=p["host"],
                    message=p["message"],
                    ttl=p["ttl"],
                )
                break
            except LockHeld as held:
                if time.time() >= deadline:
                    module.fail_json(msg=describe(held.lock), held_by=held.lock, deploy_lock=result)
                time.sleep(min(5.0, max(0.5, deadline - time.time())))
        if lock.get("replaced"):
            module.warn(f"took over an expired lock: {describe(lock['replaced'])}")
        result.update(lock)
        result["acquired"] = True
        module.exit_json(changed=changed, deploy_lock=result)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to manage the deploy lock in table {table}")


if __name__ == "__main__":
    main()
