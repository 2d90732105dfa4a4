"""Gap 28: S3 HeadBucket on another account's bucket answers 200.

Bucket names are global in moto 5.2.5 as on AWS (CreateBucket of a taken name is ``BucketAlreadyExists``),
but HeadBucket from another account finds the bucket through ``s3_backends.bucket_accounts`` and answers 200
with its region. AWS answers 403 for a bucket the caller has no access to (every bucket this project meets
that it does not own: doctor's "bucket name free" check reads it). Patched: HeadBucket of a bucket owned by
another account answers 403; the other operations keep moto's behaviour.
"""

from __future__ import annotations

from typing import Any

from moto.s3 import models, responses

_head_bucket = responses.S3Response.head_bucket


def head_bucket(self: Any) -> Any:
    owner = models.s3_backends.bucket_accounts.get(self.bucket_name)
    if owner is not None and owner[1] != self.current_account:
        return 403, {}, ""
    return _head_bucket(self)


def apply() -> None:
    responses.S3Response.head_bucket = head_bucket
