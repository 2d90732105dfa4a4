"""Inventory plugin for the offline rehearsal: one container stand-in per emulated EC2 instance.

This is the local twin of ``amazon.aws.aws_ec2`` in ``inventories/production``. It lists the running
instances the emulator holds that carry the project's tags (the same filter production uses), makes
sure each has a stand-in container named after its instance id (systemd Debian, SSH with a generated
key, a volume for ``/var/lib/docker``) and returns them in the ``web`` group with the same host
variables production composes (``ec2_instance_id``, ``ec2_region``, ``ec2_tags``, ``ansible_host``).
A stand-in is reached as the AMI's user (``admin``, option ``user``), never as root: like Debian's
cloud images it has passwordless sudo and refuses root SSH login, so a play that forgets ``become``
fails here as it would on EC2. Stand-ins whose instance no
longer exists in the emulator are removed. After provisioning, ``meta: refresh_inventory`` (in the
``ec2_host`` role) re-reads it, exactly as it re-reads aws_ec2 in production.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: cloudsite_standins
short_description: Container stand-ins for EC2 instances held by the local AWS emulator
description:
  - Lists running instances in the emulator tagged with the project, ensures a stand-in container for each.
options:
  plugin:
    description: Token that ensures this is a source file for this plugin.
    required: true
    choices: [cloudsite_standins]
  endpoint_url:
    description: The emulator URL. C(LOCAL_AWS_PORT) in the environment overrides the port.
    default: http://127.0.0.1:5000
  regions:
    description:
      - Regions to list instances in. Empty (the default, as in the aws_ec2 inventories) lists every
        region the emulator knows, so the host plays select on C(aws_region) alone.
    type: list
    elements: str
    default: []
  filters:
    description: EC2 filters, as for amazon.aws.aws_ec2.
    type: dict
    default: {}
  image:
    description:
      - The image a stand-in runs (systemd, sshd, the login user with sudo). Empty (the default) means
        C(local.images.standin_tag) for bookworm and C(user), built by C(make setup).
    default: ""
  user:
    description: The login user, as the AMI's default user (Debian's cloud images call it admin).
    default: admin
    env:
      - name: CLOUDSITE_STANDIN_USER
  group:
    description: Inventory group the stand-ins join.
    default: web
  state_dir:
    description:
      - Where the generated SSH key lives (relative paths are relative to the repository). Empty (the
        default) means C(tools.paths.LOCAL_STATE), C(build/local).
    default: ""
  strict:
    description:
      - Fail when the emulator does not answer (the default). When false, the C(web) group is empty
        instead, for a playbook that starts the emulator itself (Molecule's create step).
    type: bool
    default: true
    env:
      - name: CLOUDSITE_STANDINS_STRICT
"""

import json
import os
import sys
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local import standins  # the repository on the path first
from local.images import standin_tag
from tools.paths import LOCAL_STATE


def _ec2(endpoint: str, region: str):
    """An EC2 client of the emulator at ``endpoint`` (test credentials): the instance listing and the
    user-data reads share it."""
    import boto3

    return boto3.client(
        "ec2", endpoint_url=endpoint, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


class InventoryModule(BaseInventoryPlugin):
    NAME = "cloudsite_standins"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("standins.yml", "standins.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        endpoint = self.get_option("endpoint_url")
        if os.environ.get("LOCAL_AWS_PORT"):
            endpoint = endpoint.rsplit(":", 1)[0] + ":" + os.environ["LOCAL_AWS_PORT"]
        group = self.get_option("group")
        self.inventory.add_group(group)
        instances = self._instances(endpoint)
        if instances is None:
            return
        state = self.get_option("state_dir") or LOCAL_STATE
        key = standins.ssh_key(state)
        user = self.get_option("user")
        image = self.get_option("image") or standin_tag("bookworm", user)
        wanted = {i["InstanceId"]: i for i in instances}
        boots = self._emulator_boots(endpoint)
        try:
            standins.remove_stale(set(wanted), endpoint)
            addresses = {
                # An instance without user data has nothing for cloud-init to run: booted at creation. One
                # with user data is booted by the emulator (local.ec2_boot, on with the data plane), which
                # the host play waits for; an emulator without it never runs user data: booted too.
                instance_id: standins.ensure(
                    instance_id,
                    key,
                    endpoint,
                    image,
                    user,
                    state=state,
                    booted=not (boots and self._has_user_data(endpoint, instance)),
                )[0]
                for instance_id, instance in sorted(wanted.items())
            }
        except standins.StandinError as error:
            raise AnsibleError(str(error)) from None
        for instance_id, instance in sorted(wanted.items()):
            address = addresses[instance_id]
            self.inventory.add_host(instance_id, group=group)
            for var, value in {
                "ansible_host": address,
                "ansible_user": user,
                "ansible_ssh_private_key_file": str(key),
                # The key the stand-in was launched with (its "key pair"): what the host play keeps in
                # authorized_keys (roles/ec2_host tasks_from authorized_key.yml).
                "ec2_host_public_key": Path(f"{key}.pub").read_text().strip(),
                "ec2_instance_id": instance_id,
                "ec2_region": instance["_region"],
                "ec2_private_ip": instance.get("PrivateIpAddress", ""),
                "ec2_tags": {t["Key"]: t["Value"] for t in instance.get("Tags", [])},
                "standin_container": instance_id,
            }.items():
                self.inventory.set_variable(instance_id, var, value)

    def _instances(self, endpoint: str):
        import botocore.exceptions

        def client(region: str):
            return _ec2(endpoint, region)

        filters = [{"Name": "instance-state-name", "Values": ["running"]}]
        for name, value in (self.get_option("filters") or {}).items():
            filters.append({"Name": name, "Values": value if isinstance(value, list) else [value]})
        try:
            regions = self.get_option("regions") or sorted(
                r["RegionName"] for r in client("us-east-1").describe_regions()["Regions"]
            )
            found = []
            for region in regions:
                pages = client(region).get_paginator("describe_instances").paginate(Filters=filters)
                found += [
                    dict(i, _region=region) for page in pages for r in page["Reservations"] for i in r["Instances"]
                ]
            return found
        except botocore.exceptions.EndpointConnectionError:
            if not self.get_option("strict"):
                return None
            raise AnsibleError(
                f"the local AWS emulator does not answer at {endpoint}: start it with 'make local-up'"
                " (or set LOCAL_AWS_PORT to the port it listens on)"
            ) from None

    @staticmethod
    def _emulator_boots(endpoint: str) -> bool:
        """Whether the emulator runs instances' user data (its health route says so, local.moto_server)."""
        import urllib.request

        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/cloudsite/health", timeout=10) as answer:
                return bool(json.load(answer).get("ec2_boot"))
        except (OSError, ValueError):
            return False

    @staticmethod
    def _has_user_data(endpoint: str, instance: dict) -> bool:
        """DescribeInstanceAttribute userData: does cloud-init have a script to run on this instance?"""
        answer = _ec2(endpoint, instance["_region"]).describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="userData"
        )
        return bool(answer.get("UserData", {}).get("Value"))
