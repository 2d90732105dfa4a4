"""Gap 21 (local/moto_patches/s3.py): a lifecycle rule keeps NewerNoncurrentVersions, as on AWS."""

from __future__ import annotations

import boto3
import pytest

from tests.conftest import REGION, free_port, start_moto

pytestmark = pytest.mark.emulator

RULE = {
    "ID": "expire-noncurrent-versions",
    "Filter": {"Prefix": ""},
    "Status": "Enabled",
    "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3},
}


@pytest.fixture(scope="module")
def plain_moto_url(tmp_path_factory):
    port = free_port()
    proc = start_moto(port, patched=False, log_path=tmp_path_factory.mktemp("plain-s3") / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


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
