#!/usr/bin/python
"""Project module: request an ACM certificate with DNS validation (the collections only import certificates)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acm_certificate_request
short_description: Request an Amazon-issued ACM certificate with DNS validation
description:
  - Requests a public ACM certificate for O(domain_name) and O(subject_alternative_names) with DNS
    validation, or finds the one already requested for exactly those names (status C(ISSUED) or
    C(PENDING_VALIDATION); an issued one wins).
  - Returns the CNAME records that validate it; write them to DNS, then call the module again with
    O(wait=true) to wait for C(ISSUED).
  - C(community.aws.acm_certificate) only imports certificates, hence this module.
  - Supports check mode.
options:
  domain_name:
    description: The certificate's main name.
    type: str
    required: true
  subject_alternative_names:
    description: Further names on the certificate.
    type: list
    elements: str
    default: []
  tags:
    description: Tags for a newly requested certificate.
    type: dict
    default: {}
  wait:
    description: Wait until the certificate is C(ISSUED).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the validation records to appear and, with O(wait=true), for C(ISSUED).
    type: int
    default: 900
  state:
    description: V(absent) deletes every matching certificate that is not in use.
    type: str
    choices: [present, absent]
    default: present
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Request the site certificate
  cloudsite.aws.acm_certificate_request:
    domain_name: example.com
    subject_alternative_names: [www.example.com]
    region: us-east-1
  register: cert
"""

RETURN = r"""
certificate_arn:
  description: ARN of the certificate (empty in check mode before it exists).
  returned: always
  type: str
status:
  description: C(ISSUED), C(PENDING_VALIDATION) …
  returned: always
  type: str
validation_records:
  description: Unique DNS records that validate the certificate.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Record name (fully qualified, trailing dot), type: str}
    type: {description: Record type (CNAME), type: str}
    value: {description: Record value, type: str}
"""

import hashlib
import time
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

LIVE_STATUSES = ["ISSUED", "PENDING_VALIDATION"]


def matching_certificates(client: Any, names: set[str], statuses: list[str]) -> list[dict[str, Any]]:
    found = []
    paginator = client.get_paginator("list_certificates")
    for page in paginator.paginate(CertificateStatuses=statuses):
        for summary in page["CertificateSummaryList"]:
            if summary["DomainName"] not in names:
                continue
            cert = client.describe_certificate(aws_retry=True, CertificateArn=summary["CertificateArn"])["Certificate"]
            if (
                cert.get("Type") == "AMAZON_ISSUED"
                and set(cert.get("SubjectAlternativeNames") or []) | {cert["DomainName"]} == names
            ):
                found.append(cert)
    return found


def validation_records(cert: dict[str, Any]) -> list[dict[str, str]]:
    records: dict[str, dict[str, str]] = {}
    for option in cert.get("DomainValidationOptions") or []:
        record = option.get("ResourceRecord")
        if record:
            records[record["Name"]] = {"name": record["Name"], "type": record["Type"], "value": record["Value"]}
    return [records[k] for k in sorted(records)]


def settle(module: AnsibleAWSModule, client: Any, arn: str, names: set[str]) -> dict[str, Any]:
    """Describe the certificate until every name has its record (and, with wait, until ISSUED)."""
    deadline = time.monotonic() + module.params["wait_timeout"]
    while True:
        cert = client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]
        options = cert.get("DomainValidationOptions") or []
        have_records = cert["Status"] == "ISSUED" or (
            len(options) >= len(names) and all(o.get("ResourceRecord") for o in options)
        )
        done = have_records and (not module.params["wait"] or cert["Status"] == "ISSUED")
        if done:
            return cert
        if cert["Status"] not in LIVE_STATUSES:
            module.fail_json(msg=f"certificate {arn} is {cert['Status']}", certificate_arn=arn)
        if time.monotonic() > deadline:
            module.fail_json(msg=f"certificate {arn} still {cert['Status']} after the wait", certificate_arn=arn)
        time.sleep(2)


def main() -> None:
    argument_spec = dict(
        domain_name=dict(type="str", required=True),
        subject_alternative_names=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict", default={}),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=900),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("acm", retry_decorator=AWSRetry.jittered_backoff())
    p = module.params
    names = {p["domain_name"], *p["subject_alternative_names"]}
    try:
        if p["state"] == "absent":
            certs = [c for c in matching_certificates(client, names, [*LIVE_STATUSES, "FAILED", "EXPIRED"])]
            unused = [c["CertificateArn"] for c in certs if not c.get("InUseBy")]
            if not module.check_mode:
                for arn in unused:
                    client.delete_certificate(aws_retry=True, CertificateArn=arn)
            module.exit_json(changed=bool(unused), certificate_arn="", status="", validation_records=[])
        certs = matching_certificates(client, names, LIVE_STATUSES)
        certs.sort(key=lambda c: (c["Status"] != "ISSUED", str(c.get("CreatedAt", ""))))
        if certs:
            cert = settle(module, client, certs[0]["CertificateArn"], names)
            changed = False
        elif module.check_mode:
            module.exit_json(changed=True, certificate_arn="", status="", validation_records=[])
        else:
            request: dict[str, Any] = {
                "DomainName": p["domain_name"],
                "ValidationMethod": "DNS",
                # Same names, same token: a retried request within the hour returns the same certificate.
                "IdempotencyToken": hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:32],
            }
            if p["subject_alternative_names"]:
                request["SubjectAlternativeNames"] = sorted(names)
            if p["tags"]:
                request["Tags"] = [{"Key": str(k), "Value": str(v)} for k, v in p["tags"].items()]
            arn = client.request_certificate(aws_retry=True, **request)["CertificateArn"]
            cert = settle(module, client, arn, names)
            changed = True
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to request a certificate for {p['domain_name']}")
    module.exit_json(
        changed=changed,
        certificate_arn=cert["CertificateArn"],
        status=cert["Status"],
        validation_records=validation_records(cert),
    )


if __name__ == "__main__":
    main()
