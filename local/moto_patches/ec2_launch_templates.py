"""Gap 30: launch templates, as the web Auto Scaling group (``ec2_host_mode: asg``) uses them.

moto 5.2.5 differs from AWS in two ways that matter here:

* ``CreateLaunchTemplate`` copies its top-level ``TagSpecifications`` (the tags of the template itself,
  ``ResourceType=launch-template``) into version 1's ``LaunchTemplateData``. AWS keeps them apart, and a
  ``launch-template`` tag specification is not even valid inside launch data. ``amazon.aws.ec2_launch_template``
  then sees a difference on every re-run and creates version 2: no ``changed=0``. Patched: the template's
  own tag specifications stay out of the data.
* an instance launched from a template (RunInstances with ``LaunchTemplate``, which is how an Auto Scaling
  group launches) ignores the template's ``MetadataOptions`` (IMDSv2 ``required`` becomes ``optional``) and
  ``IamInstanceProfile`` (none; AWS also refuses a profile that does not exist). Patched: both are applied
  when the call does not give its own, and an unknown profile fails the launch as on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instances import InstanceBackend, MetadataOptions
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import filter_iam_instance_profiles


class InvalidInstanceProfile(EC2ClientError):
    def __init__(self, name: str):
        super().__init__(
            "InvalidParameterValue",
            f"Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        )


def apply() -> None:
    original_create = LaunchTemplates.create_launch_template

    def create_launch_template(self: Any) -> Any:
        result = original_create(self)
        template = self.ec2_backend.describe_launch_templates(template_names=[self._get_param("LaunchTemplateName")])[0]
        data = template.default_version().data
        specs = [s for s in data.get("TagSpecifications", []) if s.get("ResourceType") != "launch-template"]
        if specs:
            data["TagSpecifications"] = specs
        else:
            data.pop("TagSpecifications", None)
        return result

    original_run = InstanceBackend.run_instances

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):  # type: ignore[no-untyped-def]
        data = self._get_template_from_args(kwargs["launch_template"]).data if kwargs.get("launch_template") else {}
        profile = data.get("IamInstanceProfile") or {}
        # The template's AMI, as moto's Instance would take it later: the arch check (gap 20) needs it now.
        image_id = image_id or data.get("ImageId")
        if profile and not (kwargs.get("iam_instance_profile_name") or kwargs.get("iam_instance_profile_arn")):
            # Validate before any instance exists: AWS refuses the whole launch.
            try:
                filter_iam_instance_profiles(
                    self.account_id,
                    partition=self.partition,
                    iam_instance_profile_arn=profile.get("Arn"),
                    iam_instance_profile_name=profile.get("Name"),
                )
            except Exception as error:  # moto raises IAM's NoSuchEntity; AWS answers an EC2 error
                raise InvalidInstanceProfile(profile.get("Name") or profile.get("Arn") or "") from error
        reservation = original_run(self, image_id, count, user_data, security_group_names, **kwargs)
        for instance in reservation.instances:
            if data.get("MetadataOptions") and not kwargs.get("metadata_options"):
                instance.metadata_options = MetadataOptions(data["MetadataOptions"])
            if profile and instance.id not in self.iam_instance_profile_associations:
                self.associate_iam_instance_profile(
                    instance.id,
                    iam_instance_profile_name=profile.get("Name"),
                    iam_instance_profile_arn=profile.get("Arn"),
                )
        return reservation

    LaunchTemplates.create_launch_template = create_launch_template  # type: ignore[method-assign]
    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]
