"""Gap 9: moto's built-in AMI catalogue holds no Debian image.

The ``ec2_host`` role finds its AMI the way one does on AWS: owner 136693071363 (Debian's cloud
team) and name ``debian-12-amd64-*``, newest first. moto 5.2.5 ships 44 Amazon/Windows/Ubuntu AMIs
and no Debian one, so that lookup finds nothing. We add two Debian 12 images (an older and a newer
build) to the catalogue every backend loads, so the "newest" choice is exercised too. The catalogue
is read again on every ``/moto-api/reset``, so the images survive resets.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import amis

DEBIAN_OWNER = "136693071363"


def _debian(ami_id: str, build: str, created: str) -> dict[str, Any]:
    return {
        "ami_id": ami_id,
        "name": f"debian-12-amd64-{build}",
        "description": f"Debian 12 (bookworm) amd64 {build} (emulator seed)",
        "owner_id": DEBIAN_OWNER,
        "public": True,
        "state": "available",
        "architecture": "x86_64",
        "virtualization_type": "hvm",
        "hypervisor": "xen",
        "root_device_type": "ebs",
        "root_device_name": "/dev/xvda",
        "image_type": "machine",
        "image_location": f"{DEBIAN_OWNER}/debian-12-amd64-{build}",
        "sriov": "simple",
        "creation_date": created,
    }


SEED_AMIS = (
    _debian("ami-0deb12a00000000a1", "20240102-1614", "2024-01-02T16:20:00.000Z"),
    _debian("ami-0deb12a00000000b2", "20250115-1966", "2025-01-15T19:10:00.000Z"),
)


def apply() -> None:
    known = {ami["ami_id"] for ami in amis.AMIS}
    amis.AMIS.extend(dict(ami) for ami in SEED_AMIS if ami["ami_id"] not in known)
