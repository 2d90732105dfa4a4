"""SES readiness: the contact form delivers only with a verified sender and, in the sandbox, a verified recipient."""

from __future__ import annotations

from ansible_collections.cloudsite.aws.plugins.module_utils.ses_readiness import readiness

SENDER, RECIPIENT = "noreply@example.com", "me@example.org"


def test_sandbox_with_both_verified_delivers():
    result = readiness(200.0, SENDER, "Success", RECIPIENT, "Success")
    assert result["sandbox"] and result["deliverable"]
    assert result["message"] == "contact form can deliver"


def test_sandbox_with_unverified_recipient_cannot_deliver_and_says_what_to_do():
    result = readiness(200.0, SENDER, "Success", RECIPIENT, "Pending")
    assert result["sandbox"] and not result["deliverable"]
    assert result["message"].startswith("contact form cannot deliver yet: verify the recipient me@example.org")
    assert "production access" in result["message"]


def test_unverified_sender_cannot_deliver_even_with_production_access():
    result = readiness(50000.0, SENDER, "Pending", RECIPIENT, "")
    assert not result["sandbox"] and not result["deliverable"]
    assert "verify the sender noreply@example.com" in result["message"]
    assert "recipient" not in result["message"]


def test_production_access_needs_no_verified_recipient():
    result = readiness(50000.0, SENDER, "Success", RECIPIENT, "")
    assert result["deliverable"] and result["todo"] == []
    assert result["summary"] == "SES: sender noreply@example.com Success; production access"
