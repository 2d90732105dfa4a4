"""Gap 9 (local/moto_patches/ec2_amis.py): the emulator offers Debian 12 AMIs under Debian's owner id."""

from __future__ import annotations

import boto3
import pytest

from local.moto_patches.ec2_amis import DEBIAN_OWNER
from tests.conftest import free_port, start_moto

FILTERS = [{"Name": "name", "Values": ["debian-12-amd64-*"]}, {"Name": "architecture", "Values": ["x86_64"]}]


def _images(url: str) -> list[dict]:
    ec2 = boto3.client(
        "ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return ec2.describe_images(Owners=[DEBIAN_OWNER], Filters=FILTERS)["Images"]


def test_patched_emulator_finds_debian_images_and_they_survive_reset(moto_reset):
    images = _images(moto_reset)
    assert len(images) == 2
    newest = max(images, key=lambda i: i["CreationDate"])
    assert newest["Name"] == "debian-12-amd64-20250115-1966"
    assert newest["RootDeviceName"] == "/dev/xvda"


@pytest.fixture
def unpatched(tmp_path):
    port = free_port()
    proc = start_moto(port, patched=False, log_path=tmp_path / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_unpatched_emulator_has_no_debian_image(unpatched):
    assert _images(unpatched) == []
