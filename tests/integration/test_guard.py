"""Bad input stops the deploy in the guard play, naming the variable, before any AWS resource exists."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, ansible_env

pytestmark = [pytest.mark.emulator]

CASES = [
    ({"project_name": "Cloud_Site"}, "project_name"),
    ({"aws_region": "useast1"}, "aws_region"),
    ({"aws_region": "us-east-9"}, "aws_region"),
    ({"site_bucket_name": "Bad..Bucket"}, "site_bucket_name"),
    ({"artifacts_bucket_name": "192.168.1.1"}, "artifacts_bucket_name"),
    ({"artifacts_bucket_name": "cloudsite-local-site"}, "artifacts_bucket_name"),
    ({"domain_name": "not a domain"}, "domain_name"),
    ({"domain_name": "example.com", "hosted_zone_id": ""}, "hosted_zone_id"),
    ({"origin_verify_secret": "too-short"}, "origin_verify_secret"),
    ({"origin_verify_previous_secret": "x" * 40 + "*"}, "origin_verify_previous_secret"),
    ({"web_container_ports": [22, 8082]}, "web_container_ports"),
    ({"web_container_ports": [8081, 8081]}, "web_container_ports"),
    ({"site_source_dir": "/nonexistent/site"}, "site_source_dir"),
    ({"backend_template": "/nonexistent/template.yaml"}, "backend_template"),
    # The AMI's architecture against the instance type's, both directions (issue 11).
    ({"web_instance_type": "t4g.micro", "web_architecture": "amd64"}, "web_architecture"),
    ({"web_instance_type": "t3.micro", "web_architecture": "arm64"}, "web_architecture"),
    ({"web_instance_type": "t4g.small", "ec2_host_ami_name": "debian-12-amd64-*"}, "ec2_host_ami_name"),
    ({"web_instance_type": "c5.large", "ec2_host_ami_name": "debian-12-arm64-*"}, "ec2_host_ami_name"),
    ({"web_instance_type": "micro"}, "web_instance_type"),
    # Host metrics (issue 18): a boolean switch; when on, a port clear of the containers' and an allow-list.
    ({"web_metrics_enabled": "maybe"}, "web_metrics_enabled"),
    (
        {"web_metrics_enabled": True, "aws_network_ssh_allow_cidrs": ["203.0.113.7/32"], "web_metrics_port": 80},
        "web_metrics_port",
    ),
    (
        {"web_metrics_enabled": True, "aws_network_ssh_allow_cidrs": ["203.0.113.7/32"], "web_metrics_port": 8081},
        "web_metrics_port",
    ),
    (
        {"web_metrics_enabled": True, "aws_network_ssh_allow_cidrs": ["203.0.113.7/32"], "web_metrics_port": "91OO"},
        "web_metrics_port",
    ),
    ({"web_metrics_enabled": True, "aws_network_ssh_allow_cidrs": []}, "web_metrics_enabled needs the admin networks"),
]


# A real account's inputs: the guard's placeholder and SSH checks on (inventories/local switches them off).
REAL = {
    "guard_refuse_placeholders": True,
    "guard_ssh_access": True,
    "contact_sender": "site@cloudsite.test",
    "contact_recipient": "owner@cloudsite.test",
    "aws_network_ssh_allow_cidrs": ["203.0.113.7/32"],
}
PLACEHOLDER_CASES = [
    ({"site_bucket_name": "cloudsite-site-change-me"}, "site_bucket_name"),
    ({"artifacts_bucket_name": "cloudsite-artifacts-changeme"}, "artifacts_bucket_name"),
    ({"contact_sender": "noreply@example.com"}, "contact_sender"),
    ({"contact_recipient": "Owner@Example.com"}, "contact_recipient"),
    ({"domain_name": "example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}, "domain_name"),
    ({"ec2_host_public_key": "ssh-ed25519 AAAA...replace-me deploy@example"}, "ec2_host_public_key"),
    ({"ec2_host_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA/lOvZuQpC7E/9fTt3YJVjFb4x"}, "ec2_host_public_key"),
    ({"ec2_host_public_key": "ssh-dss AAAAB3NzaC1kc3MAAACBAP"}, "ec2_host_public_key"),
    ({"ec2_host_public_key": "/home/me/.ssh/id_ed25519.pub"}, "ec2_host_public_key"),
    ({"aws_network_ssh_allow_cidrs": []}, "aws_network_ssh_allow_cidrs"),
    ({"aws_network_ssh_allow_cidrs": "203.0.113.7/32"}, "aws_network_ssh_allow_cidrs"),
    ({"aws_network_ssh_allow_cidrs": ["203.0.113.300/32"]}, "aws_network_ssh_allow_cidrs"),
]


def _playbook() -> str:
    """site.yml once every stage it imports exists; the infra and backend stages otherwise."""
    text = (ROOT / "site.yml").read_text()
    imported = [line.split(":", 1)[1].strip() for line in text.splitlines() if "import_playbook:" in line]
    return "site.yml" if all((ROOT / p).exists() for p in imported) else "playbooks/infra.yml"


def _account_is_empty(aws_client) -> None:
    vpcs = aws_client("ec2").describe_vpcs()["Vpcs"]
    assert [v["IsDefault"] for v in vpcs] == [True]
    assert aws_client("s3").list_buckets()["Buckets"] == []
    assert aws_client("cloudformation").describe_stacks()["Stacks"] == []
    assert aws_client("ec2").describe_key_pairs()["KeyPairs"] == []


@pytest.mark.parametrize(("extra", "variable"), CASES, ids=[f"{v}-{i}" for i, (_, v) in enumerate(CASES)])
def test_bad_input_fails_in_the_guard_naming_the_variable(extra, variable, moto_reset, aws_client):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), _playbook(), "-e", json.dumps(extra)],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    failed = [line for line in output.splitlines() if line.startswith(("[ERROR]: Task failed", "fatal:"))]
    assert failed, output[-2000:]
    assert variable in failed[0], output[-2000:]
    assert "TASK [guard :" in output
    # Nothing past the guard ran.
    assert "TASK [aws_network" not in output and "TASK [sam_backend" not in output
    _account_is_empty(aws_client)


@pytest.mark.parametrize(
    ("extra", "variable"), PLACEHOLDER_CASES, ids=[f"{v}-{i}" for i, (_, v) in enumerate(PLACEHOLDER_CASES)]
)
def test_placeholders_bad_keys_and_empty_allow_list_fail_in_the_guard(extra, variable, moto_reset, aws_client):
    test_bad_input_fails_in_the_guard_naming_the_variable({**REAL, **extra}, variable, moto_reset, aws_client)


def test_the_shipped_example_inventories_fail_in_the_guard(moto_reset, aws_client):
    """Each example environment's vars.yml + vault.yml, exactly as shipped, stops in the guard."""
    for env in ("production", "test"):
        files = [ROOT / f"inventories/{env}/group_vars/{env}/{name}.yml" for name in ("vault", "vars")]
        proc = subprocess.run(
            [
                str(ROOT / ".venv/bin/ansible-playbook"),
                _playbook(),
                "-e",
                json.dumps({"guard_refuse_placeholders": True, "guard_ssh_access": True}),
                *(f"-e@{f}" for f in files),
            ],
            cwd=ROOT,
            env=ansible_env(moto_reset),
            capture_output=True,
            text=True,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output[-2000:]
        assert "placeholder" in output and "TASK [aws_network" not in output, output[-2000:]
    _account_is_empty(aws_client)


VALID_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA/lOvZuQpC7E/9fTt3YJVjFb4xOQq2I2OxbWiFXf730 deploy@laptop"


def test_real_account_inputs_pass_the_guard(moto_reset):
    key = VALID_KEY
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/backend.yml",
            "--tags",
            "guard_only_never_matches",
            "-e",
            json.dumps(
                {**REAL, "ec2_host_public_key": key, "domain_name": "cloudsite.test", "hosted_zone_id": "Z0123"}
            ),
        ],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "failed=0" in proc.stdout and "placeholders.yml" in proc.stdout


def test_good_input_passes_the_guard(moto_reset):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/backend.yml", "--tags", "guard_only_never_matches"],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    assert "failed=0" in proc.stdout


def test_metrics_with_an_allow_list_pass_the_guard(moto_reset):
    """As typed on a command line (strings): the switch and the port are read as a boolean and an integer."""
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/backend.yml",
            "--tags",
            "guard_only_never_matches",
            "-e",
            "web_metrics_enabled=true web_metrics_port=9200",
            "-e",
            json.dumps({"aws_network_ssh_allow_cidrs": ["203.0.113.7/32"]}),
        ],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-2000:]
    assert "failed=0" in proc.stdout
    assert "TASK [guard : Check that web_metrics_enabled has an admin allow-list]" in output, output[-2000:]


@pytest.mark.parametrize(
    ("instance_type", "architecture", "ami_name", "platform"),
    [
        ("t3.micro", "x86_64", "debian-12-amd64-*", "linux/amd64"),
        ("t4g.micro", "arm64", "debian-12-arm64-*", "linux/arm64"),
        ("c7gn.large", "arm64", "debian-12-arm64-*", "linux/arm64"),
        ("g5.xlarge", "x86_64", "debian-12-amd64-*", "linux/amd64"),
    ],
)
def test_architecture_follows_the_instance_type(instance_type, architecture, ami_name, platform, tmp_path):
    """One variable (web_instance_type) sets the AMI search and the image platform, and the guard passes."""
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles: [guard]\n  tasks:\n"
        "    - ansible.builtin.debug:\n"
        '        msg: "arch={{ web_architecture }} ami={{ ec2_host_ami_name }} platform={{ web_image_platform }}"\n'
    )
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "-i",
            str(ROOT / "inventories/local/hosts.yml"),
            "-e",
            f"@{ROOT / 'group_vars/all.yml'}",
            "-e",
            json.dumps({"web_instance_type": instance_type, "repo_root": str(ROOT)}),
            "-e",
            # ec2_host's defaults as the AMI search sees them (the guard checks the name too).
            "@" + str(ROOT / "roles/ec2_host/defaults/main.yml"),
            "-e",
            # ...whose empty ec2_host_public_key would (rightly) fail the guard's key check.
            json.dumps({"ec2_host_public_key": VALID_KEY}),
            str(play),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=ansible_env("http://127.0.0.1:1"),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-2000:]
    assert f"arch={architecture} ami={ami_name} platform={platform}" in output
