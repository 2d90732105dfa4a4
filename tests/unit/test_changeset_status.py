"""The change-set executor decides from this execution's status, not from a stale stack status."""

from __future__ import annotations

import pytest
from ansible_collections.cloudsite.aws.plugins.module_utils.changeset_status import FAIL, OK, WAIT, execution_outcome


@pytest.mark.parametrize("execution", ["AVAILABLE", "UNAVAILABLE", "EXECUTE_IN_PROGRESS", None])
def test_an_earlier_rollback_is_not_read_as_this_runs_failure(execution):
    # Right after ExecuteChangeSet the stack still shows the previous update's rollback.
    assert execution_outcome(execution, "UPDATE_ROLLBACK_COMPLETE")[0] == WAIT


@pytest.mark.parametrize("execution", ["AVAILABLE", "UNAVAILABLE", "EXECUTE_IN_PROGRESS", None])
def test_an_earlier_success_is_not_read_as_this_runs_success(execution):
    # A fast read: the stack's UPDATE_COMPLETE is the previous update's, this one has not started.
    assert execution_outcome(execution, "UPDATE_COMPLETE")[0] == WAIT


def test_executed_and_settled_is_success():
    assert execution_outcome("EXECUTE_COMPLETE", "UPDATE_COMPLETE") == (OK, "stack UPDATE_COMPLETE")
    assert execution_outcome("EXECUTE_COMPLETE", "CREATE_COMPLETE")[0] == OK


def test_executed_but_still_cleaning_up_waits():
    assert execution_outcome("EXECUTE_COMPLETE", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")[0] == WAIT


@pytest.mark.parametrize(
    "stack", ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE", "UPDATE_FAILED"]
)
def test_this_execution_failing_fails(stack):
    outcome, reason = execution_outcome("EXECUTE_FAILED", stack)
    assert outcome == FAIL
    assert stack in reason


def test_an_obsolete_change_set_fails_saying_why():
    outcome, reason = execution_outcome("OBSOLETE", "UPDATE_COMPLETE")
    assert outcome == FAIL
    assert "updated by another means" in reason
