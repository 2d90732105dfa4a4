"""make init ENV=<name> (tools/init_env.py) and the make targets for a real environment.

The generated environment's deploy against the rehearsal is tests/integration/test_real_env.py.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "--account-id",
    "123456789012",
    "--contact-sender",
    "site@cloudsite.test",
    "--contact-recipient",
    "owner@cloudsite.test",
    "--ssh-cidr",
    "203.0.113.7/32",
]
# The guard's check of ec2_host_public_key (roles/guard/tasks/placeholders.yml).
ED25519 = re.compile(r"^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}( [^\n]*)?$")


def run(tmp_path: Path, env: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.init_env", env, "--inventories", str(tmp_path / "inv"), *args],
        cwd=ROOT,
        env={**os.environ, "CLOUDSITE_HOME": str(tmp_path / "home")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def vault_view(path: Path, password: Path) -> dict:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "view", str(path), "--vault-password-file", str(password)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(out)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_writes_the_environment_secrets_outside_git_and_an_encrypted_vault(tmp_path):
    proc = run(tmp_path, "staging", *ARGS)
    assert proc.returncode == 0, proc.stderr
    inv, home = tmp_path / "inv" / "staging", tmp_path / "home" / "staging"
    vars_ = yaml.safe_load((inv / "group_vars/staging/vars.yml").read_text())
    assert vars_["project_name"] == "cloudsite-staging"
    assert vars_["site_bucket_name"] == "cloudsite-staging-site-123456789012"
    assert vars_["artifacts_bucket_name"] == "cloudsite-staging-artifacts-123456789012"
    assert str(home / "deploy_ed25519") in vars_["ansible_ssh_private_key_file"]
    assert vars_["cloudformation_role_arn"] == "arn:aws:iam::123456789012:role/cloudsite-staging-cloudformation"
    # The production inventory's shape: every web host; the plays select by project_name and aws_region.
    assert yaml.safe_load((inv / "aws_ec2.yml").read_text())["filters"]["tag:role"] == "web"
    assert vars_["origin_verify_secret"] == "{{ vault_origin_verify_secret }}"
    assert "staging" in yaml.safe_load((inv / "hosts.yml").read_text())
    vault = inv / "group_vars/staging/vault.yml"
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    secret = vault_view(vault, home / "vault-pass")
    public = (home / "deploy_ed25519.pub").read_text().strip()
    origin_secret = secret.pop("vault_origin_verify_secret")
    assert re.fullmatch(r"[0-9a-f]{64}", origin_secret)  # what the guard accepts: 32-128 of A-Za-z0-9_-
    assert secret == {
        "vault_contact_sender": "site@cloudsite.test",
        "vault_contact_recipient": "owner@cloudsite.test",
        "vault_ec2_host_public_key": public,
        "vault_ssh_allow_cidrs": ["203.0.113.7/32"],
    }
    assert ED25519.match(public)
    for path in (home / "deploy_ed25519", home / "vault-pass"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    # The private key is a usable OpenSSH key whose public half is the one in the vault.
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(home / "deploy_ed25519")], capture_output=True, text=True)
    assert derived.returncode == 0 and derived.stdout.split()[:2] == public.split()[:2]


def test_init_is_idempotent_and_never_overwrites_without_force(tmp_path):
    assert run(tmp_path, "staging", *ARGS).returncode == 0
    before = snapshot(tmp_path)
    again = run(tmp_path, "staging", *ARGS)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr
    assert snapshot(tmp_path) == before
    changed = [*ARGS, "--region", "eu-west-1"]
    refused = run(tmp_path, "staging", *changed)
    assert refused.returncode == 1
    assert "FORCE=1" in refused.stderr and "vars.yml" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert snapshot(tmp_path) == before
    forced = run(tmp_path, "staging", *changed, "--force")
    assert forced.returncode == 0, forced.stderr
    after = snapshot(tmp_path)
    assert b"aws_region: eu-west-1" in after["inv/staging/group_vars/staging/vars.yml"]
    # The key and the vault password are never replaced.
    for secret in ("home/staging/deploy_ed25519", "home/staging/deploy_ed25519.pub", "home/staging/vault-pass"):
        assert after[secret] == before[secret]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--contact-sender", "noreply@example.com"], "--contact-sender"),
        (["--ssh-cidr", "10.0.0.300/8"], "--ssh-cidr"),
        (["--project-name", "Cloud_Site"], "--project-name"),
        (["--project-name", "a-project-name-of-24-chr"], "--project-name"),
        (["--domain-name", "me.dev"], "--hosted-zone-id"),
        (["--account-id", "12345"], "--account-id"),
    ],
)
def test_init_refuses_bad_answers_naming_the_flag(tmp_path, args, flag):
    merged = dict(zip(ARGS[::2], ARGS[1::2], strict=True))
    merged.update(dict(zip(args[::2], args[1::2], strict=True)))
    proc = run(tmp_path, "staging", *[x for kv in merged.items() for x in kv])
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and flag in proc.stderr, proc.stderr
    assert not (tmp_path / "inv").exists()


def test_init_without_a_terminal_names_the_missing_flag(tmp_path):
    proc = run(tmp_path, "staging", "--account-id", "123456789012", "--ssh-cidr", "203.0.113.7/32")
    assert proc.returncode == 1 and "--contact-sender is required" in proc.stderr


def test_local_is_not_an_environment_name(tmp_path):
    assert run(tmp_path, "local", *ARGS).returncode == 1


def make_n(*args: str) -> str:
    proc = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("target", ["deploy", "smoke", "rollback", "teardown"])
def test_real_environment_targets_start_nothing_local(target):
    out = make_n(target, "ENV=production", "CONFIRM=cloudsite")
    assert "bootstrap.sh venv" in out
    assert not re.search(r"bootstrap\.sh\s*$", out, re.M), "the full set-up (images, emulator) must not run"
    assert "envctl" not in out and "local.images" not in out and "LOCAL_AWS_PORT" not in out
    assert "-i inventories/production" in out
    assert ("docker info" in out) == (target == "deploy"), "only the deploy builds an image on the controller"


def test_real_environment_targets_refuse_a_missing_environment_in_one_line():
    proc = subprocess.run(["make", "smoke", "ENV=nosuchenv"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: no inventory inventories/nosuchenv: create it with make init ENV=nosuchenv" in proc.stderr
