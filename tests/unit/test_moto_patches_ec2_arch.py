"""Gap 20 (local/moto_patches/ec2_arch.py): RunInstances refuses an instance type the AMI's architecture cannot run."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest

from local.moto_patches.ec2_amis import DEBIAN_OWNER
from tests.conftest import free_port, start_moto


def _ec2(url: str):
    return boto3.client(
        "ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _x86_ami(ec2) -> str:
    images = ec2.describe_images(Filters=[{"Name": "architecture", "Values": ["x86_64"]}])["Images"]
    debian = [i for i in images if i["OwnerId"] == DEBIAN_OWNER]
    return (debian or images)[0]["ImageId"]


def test_patched_emulator_refuses_graviton_type_with_x86_ami_and_runs_matching_pair(moto_reset):
    ec2 = _ec2(moto_reset)
    ami = _x86_ami(ec2)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.run_instances(ImageId=ami, InstanceType="t4g.micro", MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "architecture 'arm64' of the specified instance type" in err.value.response["Error"]["Message"]
    assert ec2.describe_instances()["Reservations"] == []
    started = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"]
    assert len(started) == 1


@pytest.fixture
def unpatched(tmp_path):
    port = free_port()
    proc = start_moto(port, patched=False, log_path=tmp_path / "moto.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_unpatched_emulator_starts_graviton_type_with_x86_ami(unpatched):
    ec2 = _ec2(unpatched)
    started = ec2.run_instances(ImageId=_x86_ami(ec2), InstanceType="t4g.micro", MinCount=1, MaxCount=1)["Instances"]
    assert started[0]["InstanceType"] == "t4g.micro"
