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
    description: Where the generated SSH key lives (relative paths are relative to the repository).
    default: .local
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
import subprocess
import sys
import time
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin

LABEL = "cloudsite.standin=1"
ROOT = Path(__file__).resolve().parents[2]


def standin_tag(release: str, user: str) -> str:
    """The tag local.images builds (one naming: imported from there, the repository on the path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from local.images import standin_tag as tag

    return tag(release, user)


def _docker(*args: str, check: bool = True) -> str:
    run = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and run.returncode != 0:
        raise AnsibleError(f"docker {' '.join(args[:2])} failed: {run.stderr.strip()}")
    return run.stdout.strip()


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
        key = self._ssh_key()
        user = self.get_option("user")
        image = self.get_option("image") or standin_tag("bookworm", user)
        wanted = {i["InstanceId"]: i for i in instances}
        self._remove_stale(set(wanted), endpoint)
        for instance_id, instance in sorted(wanted.items()):
            address = self._ensure_standin(instance_id, key, endpoint, image, user)
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
        import boto3
        import botocore.exceptions

        def client(region: str):
            return boto3.client(
                "ec2",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

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

    def _ssh_key(self) -> Path:
        state = Path(self.get_option("state_dir"))
        state = state if state.is_absolute() else ROOT / state
        key = state / "ssh" / "id_ed25519"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloudsite-standin", "-f", str(key)],
                check=True,
            )
        return key

    def _remove_stale(self, keep: set[str], endpoint: str) -> None:
        listed = _docker(
            "ps",
            "-a",
            "--filter",
            f"label={LABEL}",
            "--filter",
            f"label=cloudsite.endpoint={endpoint}",
            "--format",
            "{{.Names}}",
        )
        for name in listed.split():
            if name not in keep:
                _docker("rm", "-f", "-v", name, check=False)
                _docker("volume", "rm", "-f", f"{name}-docker", check=False)

    def _ensure_standin(self, name: str, key: Path, endpoint: str, image: str, user: str) -> str:
        state = _docker("inspect", "-f", "{{.State.Running}} {{.Config.Image}}", name, check=False)
        if state != f"true {image}":
            _docker("rm", "-f", name, check=False)
            _docker("volume", "create", "--label", LABEL, "--label", f"cloudsite.endpoint={endpoint}", f"{name}-docker")
            _docker(
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name,
                "--label",
                LABEL,
                "--label",
                f"cloudsite.endpoint={endpoint}",
                "--cap-add",
                "SYS_ADMIN",
                "--cap-add",
                "NET_ADMIN",
                "--security-opt",
                "seccomp=unconfined",
                "--cgroupns=host",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                "--stop-signal",
                "SIGRTMIN+3",
                "-v",
                f"{name}-docker:/var/lib/docker",
                image,
                "/lib/systemd/systemd",
            )
            # Like cloud-init on EC2: the key pair's public key written once into the user's own, writable
            # authorized_keys (not a read-only bind mount), so a key rotation on the host can replace it.
            authorized = f"/home/{user}/.ssh/authorized_keys"
            install = subprocess.run(
                [
                    "docker",
                    "exec",
                    "-i",
                    name,
                    "sh",
                    "-c",
                    f"install -d -m 700 -o {user} -g {user} /home/{user}/.ssh && cat > {authorized}"
                    f" && chown {user}:{user} {authorized} && chmod 600 {authorized}",
                ],
                input=Path(f"{key}.pub").read_text(),
                capture_output=True,
                text=True,
            )
            if install.returncode != 0:
                raise AnsibleError(f"cannot install the SSH key in stand-in {name}: {install.stderr.strip()}")
        info = json.loads(_docker("inspect", name))[0]
        address = next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]
        self._wait_ssh(address)
        return address

    @staticmethod
    def _wait_ssh(address: str, timeout: float = 60.0) -> None:
        import socket

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex((address, 22)) == 0:
                    return
            time.sleep(0.3)
        raise AnsibleError(f"stand-in at {address} did not open SSH within {timeout:.0f} s")
