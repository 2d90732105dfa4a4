"""Teardown keeps an SES identity that another environment of the account still uses (issue 12 point 5).

SES identities belong to the account and region, not to a project: a second environment's backend stack
(another project_name) that names the address as SenderEmail or RecipientEmail keeps it alive.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, ansible_env, reset_moto

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

OTHER_STACK = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"SenderEmail": {"Type": "String"}, "RecipientEmail": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


def test_teardown_keeps_an_identity_another_environments_stack_uses(moto_url, aws_client):
    reset_moto(moto_url)
    ses = aws_client("ses")
    for address in ("noreply@example.com", "owner@example.com"):  # the local inventory's sender and recipient
        ses.verify_email_identity(EmailAddress=address)
    aws_client("cloudformation").create_stack(
        StackName="othersite-backend-prod",
        TemplateBody=json.dumps(OTHER_STACK),
        Parameters=[
            {"ParameterKey": "SenderEmail", "ParameterValue": "noreply@example.com"},
            {"ParameterKey": "RecipientEmail", "ParameterValue": "someone@example.org"},
        ],
    )
    proc = subprocess.run(
        [
            *("ansible-playbook", "-i", str(ROOT / "inventories" / "local"), "playbooks/teardown.yml"),
            *("-e", "confirm_teardown=cloudsite"),
        ],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Keeping SES identity noreply@example.com" in proc.stdout
    # The shared sender stays; this environment's own recipient goes.
    assert ses.list_identities()["Identities"] == ["noreply@example.com"]
