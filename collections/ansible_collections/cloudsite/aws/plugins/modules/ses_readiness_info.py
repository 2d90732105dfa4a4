#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Project module: is SES ready to deliver the contact form? (the collections cannot read it without writing)"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ses_readiness_info
short_description: Read the SES sandbox state and the sender's and recipient's verification, read-only
description:
  - community.aws.ses_identity reads an identity's verification only while ensuring it (state=present
    creates it, state=absent deletes it), and no collection module reads the account's sending quota,
    which tells whether the account is still in the SES sandbox (Max24HourSend 200).
  - Calls GetSendQuota and GetIdentityVerificationAttributes only; runs in check mode.
version_added: 0.1.0
author: cloudsite maintainers
options:
  sender:
    description: The contact form's sender address (or its domain identity).
    type: str
    required: true
  recipient:
    description: Where the contact form delivers.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read SES readiness
  cloudsite.aws.ses_readiness_info:
    sender: noreply@example.com
    recipient: me@example.com
  register: ses_ready
"""

RETURN = r"""
sandbox:
  description: The account is in the SES sandbox.
  returned: always
  type: bool
deliverable:
  description: The sender is verified and, in the sandbox, the recipient too.
  returned: always
  type: bool
summary:
  description: One line with the sender's status, sandbox or production, and the recipient's status.
  returned: always
  type: str
message:
  description: C(contact form can deliver) or C(contact form cannot deliver yet) with what to do.
  returned: always
  type: str
todo:
  description: What to do, one item per step.
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.cloudsite.aws.plugins.module_utils.ses_readiness import readiness


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(sender=dict(type="str", required=True), recipient=dict(type="str", required=True)),
        supports_check_mode=True,
    )
    sender, recipient = module.params["sender"], module.params["recipient"]
    ses = module.client("ses", retry_decorator=AWSRetry.jittered_backoff())
    try:
        quota = ses.get_send_quota(aws_retry=True)
        identities = [sender, recipient]
        # A domain identity verifies every address of the domain.
        identities += [address.rpartition("@")[2] for address in (sender, recipient) if "@" in address]
        attributes = ses.get_identity_verification_attributes(aws_retry=True, Identities=sorted(set(identities)))[
            "VerificationAttributes"
        ]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="cannot read the SES sending quota or identities")

    def status(address: str) -> str:
        for identity in (address, address.rpartition("@")[2]):
            if attributes.get(identity, {}).get("VerificationStatus") == "Success":
                return "Success"
        return attributes.get(address, {}).get("VerificationStatus", "")

    result = readiness(quota["Max24HourSend"], sender, status(sender), recipient, status(recipient))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
