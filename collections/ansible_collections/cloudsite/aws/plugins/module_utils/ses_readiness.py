# Copyright: cloudsite maintainers
# MIT License
"""Can the contact form deliver? (pure, unit-tested without AWS)

SES sends only from a verified identity. A new account is in the SES *sandbox*: it may send only to verified
addresses, at most 200 messages in 24 hours (GetSendQuota ``Max24HourSend`` is 200.0 there and larger once
production access is granted, which is the documented way to read the sandbox with the v1 API). So the form
delivers when the sender is verified and, in the sandbox, the recipient too.
"""

from __future__ import annotations

SANDBOX_MAX_24_HOUR_SEND = 200.0


def readiness(max_24_hour_send: float, sender: str, sender_status: str, recipient: str, recipient_status: str) -> dict:
    """Summarise SES readiness; ``*_status`` is SES's VerificationStatus or '' when the identity is unknown."""
    sandbox = float(max_24_hour_send) <= SANDBOX_MAX_24_HOUR_SEND
    todo = []
    if sender_status != "Success":
        todo.append(
            f"verify the sender {sender} (SES identity {sender_status or 'missing'}: "
            "click the link SES mailed to it, or verify its domain)"
        )
    if sandbox and recipient_status != "Success":
        todo.append(
            f"verify the recipient {recipient} (SES identity {recipient_status or 'missing'}; "
            "the account is in the SES sandbox, which sends only to verified addresses)"
        )
    if sandbox:
        todo.append(
            "request SES production access (Account dashboard > Request production access) to leave the sandbox"
        )
    deliverable = sender_status == "Success" and (not sandbox or recipient_status == "Success")
    line = (
        f"SES: sender {sender} {sender_status or 'missing'}; "
        f"{'sandbox (200 mails/24 h, verified recipients only)' if sandbox else 'production access'}"
        + (f"; recipient {recipient} {recipient_status or 'missing'}" if sandbox else "")
    )
    return {
        "sandbox": sandbox,
        "sender_verified": sender_status == "Success",
        "recipient_verified": recipient_status == "Success",
        "deliverable": deliverable,
        "summary": line,
        "todo": todo if not deliverable else [t for t in todo if "production access" in t],
        "message": "contact form can deliver" if deliverable else "contact form cannot deliver yet: " + "; ".join(todo),
    }
