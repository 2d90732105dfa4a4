#!/usr/bin/python
"""Project module: a CloudFront Origin Access Control, found by name."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_origin_access_control
short_description: Manage a CloudFront Origin Access Control (OAC) by name
description:
  - Creates, updates or deletes an Origin Access Control, found by O(name) (names are unique per account).
  - The collections only manage the legacy origin access identities; this module manages OACs.
  - Supports check mode and diff mode.
options:
  name:
    description: Name of the OAC.
    type: str
    required: true
  description:
    description: Description of the OAC.
    type: str
    default: ""
  origin_type:
    description: Type of origin the OAC signs for.
    type: str
    choices: [s3, mediastore, lambda, mediapackagev2]
    default: s3
  signing_behavior:
    description: When CloudFront signs origin requests.
    type: str
    choices: [always, never, no-override]
    default: always
  state:
    description: Whether the OAC exists. An OAC still used by a distribution cannot be deleted.
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
- name: Ensure the site bucket's origin access control exists
  cloudsite.aws.cloudfront_origin_access_control:
    name: cloudsite-site-oac
    description: CloudFront reads the private site bucket
"""

RETURN = r"""
id:
  description: Id of the OAC (empty in check mode before it exists).
  returned: always
  type: str
etag:
  description: ETag of the OAC config.
  returned: always
  type: str
"""

from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def find_oac(client: Any, name: str) -> str | None:
    marker = ""
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = client.list_origin_access_controls(aws_retry=True, **kwargs)["OriginAccessControlList"]
        for item in page.get("Items") or []:
            if item["Name"] == name:
                return item["Id"]
        marker = page.get("NextMarker") or ""
        if not marker:
            return None


def main() -> None:
    argument_spec = dict(
        name=dict(type="str", required=True),
        description=dict(type="str", default=""),
        origin_type=dict(type="str", choices=["s3", "mediastore", "lambda", "mediapackagev2"], default="s3"),
        signing_behavior=dict(type="str", choices=["always", "never", "no-override"], default="always"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("cloudfront", retry_decorator=AWSRetry.jittered_backoff())
    p = module.params
    desired = {
        "Name": p["name"],
        "Description": p["description"],
        "SigningProtocol": "sigv4",
        "SigningBehavior": p["signing_behavior"],
        "OriginAccessControlOriginType": p["origin_type"],
    }
    try:
        oac_id = find_oac(client, p["name"])
        if p["state"] == "absent":
            if oac_id is None:
                module.exit_json(changed=False, id="", etag="")
            if not module.check_mode:
                etag = client.get_origin_access_control(aws_retry=True, Id=oac_id)["ETag"]
                client.delete_origin_access_control(aws_retry=True, Id=oac_id, IfMatch=etag)
            module.exit_json(changed=True, id=oac_id, etag="", diff={"before": desired, "after": {}})
        if oac_id is None:
            if module.check_mode:
                module.exit_json(changed=True, id="", etag="", diff={"before": {}, "after": desired})
            response = client.create_origin_access_control(aws_retry=True, OriginAccessControlConfig=desired)
            module.exit_json(
                changed=True,
                id=response["OriginAccessControl"]["Id"],
                etag=response["ETag"],
                diff={"before": {}, "after": desired},
            )
        response = client.get_origin_access_control(aws_retry=True, Id=oac_id)
        current = response["OriginAccessControl"]["OriginAccessControlConfig"]
        etag = response["ETag"]
        if all((current.get(k) or "") == v for k, v in desired.items()):
            module.exit_json(changed=False, id=oac_id, etag=etag)
        if not module.check_mode:
            etag = client.update_origin_access_control(
                aws_retry=True, Id=oac_id, IfMatch=etag, OriginAccessControlConfig=desired
            )["ETag"]
        module.exit_json(changed=True, id=oac_id, etag=etag, diff={"before": current, "after": desired})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to manage origin access control {p['name']}")


if __name__ == "__main__":
    main()
