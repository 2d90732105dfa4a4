"""cloudformation_changeset_execute against the emulator: it executes, waits on this execution, and reports."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import REGION, ROOT, ansible_env

pytestmark = [pytest.mark.emulator]


def _template(topic: str) -> str:
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic}}}})


def _run_module(moto_url: str, args: dict) -> dict:
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible"),
            "localhost",
            "-m",
            "cloudsite.aws.cloudformation_changeset_execute",
            "-a",
            json.dumps(
                args | {"region": REGION, "endpoint_url": moto_url, "access_key": "testing", "secret_key": "testing"}
            ),
        ],
        cwd=ROOT,
        env=ansible_env(moto_url)
        | {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        capture_output=True,
        text=True,
    )
    assert "=> {" in proc.stdout, proc.stdout + proc.stderr
    return {"rc": proc.returncode, **json.loads(proc.stdout.split("=> ", 1)[1])}


def test_executes_the_change_set_and_reports_this_executions_outcome(moto_reset, aws_client):
    cfn = aws_client("cloudformation")
    cfn.create_stack(StackName="cs-exec", TemplateBody=_template("one"))
    change_set = cfn.create_change_set(
        StackName="cs-exec", ChangeSetName="cs-1", TemplateBody=_template("two"), ChangeSetType="UPDATE"
    )
    result = _run_module(moto_reset, {"stack_name": "cs-exec", "change_set_id": change_set["Id"]})
    assert result["rc"] == 0, result
    assert result["changed"] is True
    assert result["stack_status"] == "UPDATE_COMPLETE"
    assert cfn.describe_change_set(ChangeSetName=change_set["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    # Executed once: a second run finds nothing to execute.
    again = _run_module(moto_reset, {"stack_name": "cs-exec", "change_set_id": change_set["Id"]})
    assert again["rc"] == 0 and again["changed"] is False, again
