"""Gap 20: RunInstances starts an instance whose type cannot run the AMI's architecture.

AWS refuses ``RunInstances`` when the instance type's architecture (``t4g.*``: arm64, ``t3.*``:
x86_64) is not the AMI's, with ``InvalidParameterValue``. moto 5.2.5 starts the instance anyway, so a
deploy that pairs a Graviton type with an amd64 AMI (or the reverse) would pass the rehearsal and fail
on AWS. We check the pair against moto's own instance type catalogue (``ProcessorInfo``) and the AMI's
``architecture`` before the instance is made, with AWS' error code and message. Unknown instance
types or AMIs are left to moto's own (optional) validation.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instance_types import INSTANCE_TYPES
from moto.ec2.models.instances import InstanceBackend


class ArchitectureMismatch(EC2ClientError):
    def __init__(self, type_arch: str, ami_arch: str):
        super().__init__(
            "InvalidParameterValue",
            f"The architecture '{type_arch}' of the specified instance type does not match the architecture"
            f" '{ami_arch}' of the specified AMI. Specify an instance type and an AMI that have matching"
            " architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to"
            " discover the architecture of the instance type or AMI.",
        )


def _check(backend: Any, image_id: str, instance_type: str) -> None:
    supported = INSTANCE_TYPES.get(instance_type, {}).get("ProcessorInfo", {}).get("SupportedArchitectures") or []
    if not supported:
        return
    try:
        images = backend.describe_images(ami_ids=[image_id])
    except EC2ClientError:
        return
    arch = getattr(images[0], "architecture", None) if images else None
    if arch and arch not in supported:
        raise ArchitectureMismatch(supported[0], arch)


def apply() -> None:
    original = InstanceBackend.run_instances

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):  # type: ignore[no-untyped-def]
        _check(self, image_id, kwargs.get("instance_type") or "m1.small")
        return original(self, image_id, count, user_data, security_group_names, **kwargs)

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]
