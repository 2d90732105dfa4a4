#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Project module: is a bucket name free? (no collection module sends HeadBucket for a name it does not own)"""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_bucket_name_info
short_description: HeadBucket each name and report its HTTP status, read-only
description:
  - amazon.aws.s3_bucket_info lists only the caller's own buckets (ListBuckets), so it cannot tell a free
    name from one another account owns. S3 bucket names are global; HeadBucket answers 404 for a free name,
    403 for a bucket another account owns, 301 or 400 for a bucket in another region (or partition).
  - Calls HeadBucket only; runs in check mode.
version_added: 0.1.0
author: cloudsite maintainers
options:
  names:
    description: The bucket names to check.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check that the bucket names are free
  cloudsite.aws.s3_bucket_name_info:
    names: [my-site-bucket]
  register: bucket_names
"""

RETURN = r"""
buckets:
  description: One entry per name, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The bucket name.
      type: str
    status:
      description: HeadBucket's HTTP status (200, 301, 400, 403, 404).
      type: int
    region:
      description: The bucket's region when S3 tells it (x-amz-bucket-region), else empty.
      type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(names=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    s3 = module.client("s3")
    buckets = []
    for name in module.params["names"]:
        try:
            meta = s3.head_bucket(Bucket=name)["ResponseMetadata"]
        except botocore.exceptions.ClientError as e:
            meta = e.response.get("ResponseMetadata", {})
        except botocore.exceptions.BotoCoreError as e:
            module.fail_json_aws(e, msg=f"cannot send HeadBucket for {name}")
        headers = meta.get("HTTPHeaders", {})
        buckets.append(
            dict(name=name, status=int(meta.get("HTTPStatusCode", 0)), region=headers.get("x-amz-bucket-region", ""))
        )
    module.exit_json(changed=False, buckets=buckets)


if __name__ == "__main__":
    main()
