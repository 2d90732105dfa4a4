"""Gap 21 (local/moto_patches/s3.py): a lifecycle rule keeps NewerNoncurrentVersions, as on AWS."""

from __future__ import annotations

import boto3
import pytest

from tests.conftest import REGION

pytestmark = pytest.mark.emulator

RULE = {
    "ID": "expire-noncurrent-versions",
    "Filter": {"Prefix": ""},
    "Status": "Enabled",
    "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3},
}


def _round_trip(url: str, bucket: str) -> dict:
    s3 = boto3.client(
        "s3", endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [RULE]})
    return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["NoncurrentVersionExpiration"]


def test_newer_noncurrent_versions_is_kept(moto_url):
    assert _round_trip(moto_url, "lifecycle-patched") == {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}


def test_newer_noncurrent_versions_gap_exists_unpatched(plain_moto_url):
    assert _round_trip(plain_moto_url, "lifecycle-plain") == {"NoncurrentDays": 30}


OTHER_ACCOUNT = "111122223333"


def _head_from_other_account(url: str, bucket: str) -> int:
    """Create ``bucket`` as another account (moto's x-moto-account-id header), then HeadBucket it as ours."""
    kwargs = dict(endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    other = boto3.client("s3", **kwargs)
    other.meta.events.register(
        "before-call.s3.*", lambda params, **_: params["headers"].update({"x-moto-account-id": OTHER_ACCOUNT})
    )
    other.create_bucket(Bucket=bucket)
    ours = boto3.client("s3", **kwargs)
    with pytest.raises(ours.exceptions.BucketAlreadyExists):  # names are global in moto too
        ours.create_bucket(Bucket=bucket)
    try:
        return ours.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"]
    except ours.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def test_head_bucket_of_another_accounts_bucket_is_403(moto_url):
    assert _head_from_other_account(moto_url, "taken-by-another-account") == 403


def test_head_bucket_cross_account_gap_exists_unpatched(plain_moto_url):
    assert _head_from_other_account(plain_moto_url, "taken-by-another-account-plain") == 200
