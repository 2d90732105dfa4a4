"""Stand-ins are reached like Debian's cloud images, and the host plays select hosts by the variables.

One stand-in (an emulated instance tagged project=cloudsite, role=web, made into a container by the
local inventory) serves every test here:

* it is reached as ``admin``; root SSH login is refused;
* a root-only action without ``become`` fails with a permission error (so a play that forgets
  ``become`` fails in CI, not on the first real instance), and succeeds with it;
* the host plays select this deployment's hosts by ``project_name`` and ``aws_region``: a mismatched
  value stops the run with one line naming the inventory filter, before any host task.
"""

from __future__ import annotations

import re
import subprocess

import boto3
import pytest

from local import envctl
from tests.conftest import REGION, ROOT, ansible_env, reset_moto
from tools.paths import LOCAL_STATE

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

ANSIBLE = str(ROOT / ".venv" / "bin" / "ansible")
PLAYBOOK = str(ROOT / ".venv" / "bin" / "ansible-playbook")
INVENTORY = str(ROOT / "inventories" / "local")


@pytest.fixture(scope="module")
def standin(moto_url, docker_engine):
    """One running instance in the emulator with its stand-in container; removed afterwards."""
    reset_moto(moto_url)
    ec2 = boto3.client(
        "ec2", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    image = ec2.describe_images(Owners=["136693071363"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "project", "Value": "cloudsite"}, {"Key": "role", "Value": "web"}],
            }
        ],
    )["Instances"][0]["InstanceId"]
    yield instance
    envctl.remove_standins(moto_url)


def adhoc(moto_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ANSIBLE, "web", "-i", INVENTORY, *args],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
    )


def reached_address(standin: str, moto_url: str) -> str:
    """Ping the stand-in through the inventory (which starts it) and return its container address."""
    reached = adhoc(moto_url, "-m", "ansible.builtin.ping")
    assert f"{standin} | SUCCESS" in reached.stdout, reached.stdout[-2000:] + reached.stderr[-2000:]
    return subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", standin],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_standin_is_reached_as_admin_and_refuses_root(standin, moto_url):
    proc = adhoc(moto_url, "-m", "ansible.builtin.command", "-a", "id -un")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-2000:]
    assert f"{standin} | CHANGED | rc=0 >>\nadmin" in output, output[-2000:]

    address = reached_address(standin, moto_url)
    root = subprocess.run(
        [
            "ssh",
            "-i",
            str(LOCAL_STATE / "ssh" / "id_ed25519"),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            f"root@{address}",
            "true",
        ],
        capture_output=True,
        text=True,
    )
    assert root.returncode == 255, root.stderr
    assert "Permission denied" in root.stderr


def test_root_only_action_fails_without_become_and_works_with_it(standin, moto_url):
    args = ("-m", "ansible.builtin.file", "-a", "path=/etc/cloudsite-become-probe state=touch mode=0644")
    without = adhoc(moto_url, *args)
    output = without.stdout + without.stderr
    assert without.returncode != 0, output[-2000:]
    assert "Permission denied" in output, output[-2000:]

    with_become = adhoc(moto_url, "--become", *args)
    assert with_become.returncode == 0, (with_become.stdout + with_become.stderr)[-2000:]
    owner = adhoc(moto_url, "-m", "ansible.builtin.command", "-a", "stat -c %U /etc/cloudsite-become-probe")
    assert "rc=0 >>\nroot" in owner.stdout, owner.stdout[-2000:]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"project_name": "otherproj"}, "tag:project=otherproj (project_name)"),
        ({"aws_region": "eu-west-1"}, "region=eu-west-1 (aws_region)"),
    ],
    ids=["project_name", "aws_region"],
)
def test_host_play_without_a_matching_host_fails_naming_the_filter(standin, moto_url, extra, named):
    args = [f"{k}={v}" for k, v in extra.items()]
    proc = subprocess.run(
        [PLAYBOOK, "-i", INVENTORY, "playbooks/host.yml", "-e", " ".join(args)],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    failed = [line for line in output.splitlines() if line.startswith(("[ERROR]: Task failed", "fatal:"))]
    assert failed, output[-3000:]
    assert "No web host matches the inventory filter" in output and named in output, output[-3000:]
    # The run stopped before any task on a host (the existing host belongs to another project/region).
    assert "TASK [Wait until the host accepts connections]" not in output
    assert "TASK [docker" not in output


SSH_OPTIONS = ["ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"]
SSH_OPTIONS += ["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"]


def ssh_as_admin(address: str, key: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SSH_OPTIONS, "-i", key, f"admin@{address}", "true"],
        capture_output=True,
        text=True,
    )


def test_ssh_key_rotation_reaches_the_running_host(standin, moto_url, tmp_path):
    """The host play logs in with the old key, installs the new one, and leaves only the new one."""
    old_key = str(LOCAL_STATE / "ssh" / "id_ed25519")
    new_key = tmp_path / "deploy_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rotated", "-f", str(new_key)], check=True)
    new_pub = new_key.with_suffix(".pub").read_text().strip()
    address = reached_address(standin, moto_url)

    def host_play(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PLAYBOOK, "-i", INVENTORY, "playbooks/host.yml", "--tags", "ssh_key", *extra],
            cwd=ROOT,
            env=ansible_env(moto_url),
            capture_output=True,
            text=True,
        )

    # A changed key without its private half stops before any change, naming the variable.
    refused = host_play("-e", f"ec2_host_public_key='{new_pub}'")
    assert refused.returncode != 0, refused.stdout[-3000:]
    assert "ec2_host_next_private_key_file must name" in refused.stdout, refused.stdout[-3000:]
    assert ssh_as_admin(address, old_key).returncode == 0

    rotated = host_play("-e", f"ec2_host_public_key='{new_pub}'", "-e", f"ec2_host_next_private_key_file={new_key}")
    assert rotated.returncode == 0, rotated.stdout[-3000:]
    try:
        assert ssh_as_admin(address, str(new_key)).returncode == 0
        refused_old = ssh_as_admin(address, old_key)
        assert refused_old.returncode == 255 and "Permission denied" in refused_old.stderr, refused_old.stderr
        # The next run logs in with the new key and changes nothing.
        again = host_play("-e", f"ec2_host_public_key='{new_pub}'", "-e", f"ansible_ssh_private_key_file={new_key}")
        assert again.returncode == 0, again.stdout[-3000:]
        assert re.search(rf"{standin}\s+: ok=\d+\s+changed=0 ", again.stdout), again.stdout[-3000:]
    finally:
        # Rotate back (the inventory's key) so the module's stand-in stays reachable.
        back = host_play(
            "-e", f"ansible_ssh_private_key_file={new_key}", "-e", f"ec2_host_next_private_key_file={old_key}"
        )
        assert back.returncode == 0, back.stdout[-3000:]
    assert ssh_as_admin(address, old_key).returncode == 0
    assert ssh_as_admin(address, str(new_key)).returncode == 255
