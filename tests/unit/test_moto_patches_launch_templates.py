"""Gap 30 (local/moto_patches/ec2_launch_templates.py): launch templates as the web Auto Scaling group uses
them. Each behaviour on the patched emulator, and the gap on an unpatched moto of the same version."""

from __future__ import annotations

import base64

import botocore.exceptions
import pytest

from tests.conftest import boto_client as client
from tests.conftest import free_port

pytestmark = pytest.mark.emulator


def _template(url: str, profile: str) -> tuple[object, str]:
    """A template like ec2_host's (IMDSv2 required, instance profile, own tags) and its name."""
    ec2 = client(url, "ec2")
    name = f"lt-{free_port()}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": ec2.describe_images()["Images"][0]["ImageId"],
            "InstanceType": "t3.micro",
            "IamInstanceProfile": {"Name": profile},
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
            "UserData": base64.b64encode(b"#!/bin/sh\ntrue\n").decode(),
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "project", "Value": "t"}]}],
    )
    return ec2, name


def _profile(url: str) -> str:
    iam = client(url, "iam")
    name = f"web-{free_port()}"
    iam.create_instance_profile(InstanceProfileName=name)
    return name


def _launch(url: str, profile: str) -> dict:
    ec2, name = _template(url, profile)
    instance = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": name})["Instances"][0]
    return ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]


def _data(url: str) -> dict:
    ec2, name = _template(url, "any")
    return ec2.describe_launch_template_versions(LaunchTemplateName=name)["LaunchTemplateVersions"][0][
        "LaunchTemplateData"
    ]


def test_template_tags_stay_out_of_the_launch_data(moto_url):
    assert "TagSpecifications" not in _data(moto_url)


def test_template_tags_gap_exists_unpatched(plain_moto_url):
    assert _data(plain_moto_url)["TagSpecifications"][0]["ResourceType"] == "launch-template"


def test_instance_from_template_gets_its_imds_and_profile(moto_url):
    profile = _profile(moto_url)
    instance = _launch(moto_url, profile)
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{profile}")


def test_instance_from_template_with_unknown_profile_is_refused(moto_url):
    with pytest.raises(botocore.exceptions.ClientError):
        _launch(moto_url, "no-such-profile")


def test_instance_from_template_gap_exists_unpatched(plain_moto_url):
    instance = _launch(plain_moto_url, "no-such-profile")
    assert instance["MetadataOptions"]["HttpTokens"] == "optional"
    assert "IamInstanceProfile" not in instance
