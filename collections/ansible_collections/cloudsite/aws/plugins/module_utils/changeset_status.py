# Copyright: cloudsite maintainers
# MIT License
"""When is the execution of a change set over, and did it succeed? (pure, unit-tested without AWS)

The stack's own status cannot answer that right after ExecuteChangeSet: it can still show the outcome of an
earlier operation (an old ``UPDATE_ROLLBACK_COMPLETE`` would read as this run's failure, an old
``UPDATE_COMPLETE`` as its success). The change set's ``ExecutionStatus`` belongs to this execution only:
``AVAILABLE`` (not started yet) -> ``EXECUTE_IN_PROGRESS`` -> ``EXECUTE_COMPLETE`` | ``EXECUTE_FAILED``.
"""

from __future__ import annotations

WAIT = "wait"
OK = "ok"
FAIL = "fail"

SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
STILL_RUNNING = ("AVAILABLE", "UNAVAILABLE", "EXECUTE_IN_PROGRESS")


def execution_outcome(execution_status: str | None, stack_status: str | None) -> tuple[str, str]:
    """(WAIT | OK | FAIL, reason) for one read of DescribeChangeSet and DescribeStacks after the execute."""
    if execution_status in STILL_RUNNING or execution_status is None:
        return WAIT, f"change set {execution_status or 'not readable yet'}, stack {stack_status}"
    if execution_status == "EXECUTE_COMPLETE":
        if stack_status in SETTLED_OK:
            return OK, f"stack {stack_status}"
        # e.g. UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: this execution succeeded, the stack settles shortly.
        return WAIT, f"change set executed, stack {stack_status}"
    if execution_status == "EXECUTE_FAILED":
        return FAIL, f"change set execution failed, stack {stack_status}"
    if execution_status == "OBSOLETE":
        return FAIL, "change set is OBSOLETE: the stack was updated by another means after it was created"
    return FAIL, f"unexpected change set status {execution_status}, stack {stack_status}"
