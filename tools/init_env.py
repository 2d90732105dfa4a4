"""Create an environment's inventory for a real AWS account: ``make init ENV=<name>``.

    python -m tools.init_env <name> [--project-name N] [--region R] [--account-id ID]
        [--domain-name D --hosted-zone-id Z] --contact-sender A --contact-recipient B
        --ssh-cidr 203.0.113.7/32 [--ssh-cidr …] [--force]

Writes ``inventories/<name>/`` (hosts.yml, aws_ec2.yml, group_vars/<name>/vars.yml and an encrypted
vault.yml) and, outside git in ``$CLOUDSITE_HOME/<name>/`` (default ``~/.config/cloudsite/<name>/``,
mode 0700): an ed25519 deploy key (``deploy_ed25519``, 0600, and ``.pub``) and the vault password
(``vault-pass``, 0600). Bucket names are made globally unique with the account id (read with STS
when ``--account-id`` is not given). A missing answer is asked for on a terminal; without one (CI)
it is an error naming the flag.

Idempotent: an existing key and vault password are reused, never replaced; an existing inventory that
already says the same is left alone ("up to date"); one that differs is only overwritten with
``--force`` (``FORCE=1``).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENV_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
# 23 at most: '<project_name>-frontend' names the target group, which AWS limits to 32 characters.
PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,21}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@([a-z0-9-]+\.)+[a-z]{2,63}$", re.IGNORECASE)
CIDR = re.compile(r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)/(3[0-2]|[12]?\d)$")
DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")
ACCOUNT = re.compile(r"^\d{12}$")
PLACEHOLDER = re.compile(r"change-?me|replace-?me|example\.(com|net|org)", re.IGNORECASE)


class InitError(RuntimeError):
    """One line for the user, naming the flag or file."""


@dataclass
class Answers:
    env: str
    project_name: str
    region: str
    account_id: str
    contact_sender: str
    contact_recipient: str
    ssh_cidrs: list[str] = field(default_factory=list)
    domain_name: str = ""
    hosted_zone_id: str = ""

    @property
    def site_bucket(self) -> str:
        return f"{self.project_name}-site-{self.account_id}"

    @property
    def artifacts_bucket(self) -> str:
        return f"{self.project_name}-artifacts-{self.account_id}"


def validate(a: Answers) -> None:
    """Raise InitError naming the first flag whose value AWS or the guard would refuse."""
    checks = [
        ("ENV", a.env, ENV_NAME, "lowercase letters, digits and '_', starting with a letter (an Ansible group name)"),
        ("--project-name", a.project_name, PROJECT, "3-23 lowercase letters, digits and hyphens"),
        ("--region", a.region, REGION, "a region such as 'eu-west-1'"),
        ("--account-id", a.account_id, ACCOUNT, "12 digits"),
        ("--contact-sender", a.contact_sender, EMAIL, "an email address"),
        ("--contact-recipient", a.contact_recipient, EMAIL, "an email address"),
    ]
    if a.domain_name:
        checks += [
            ("--domain-name", a.domain_name, DOMAIN, "a lowercase DNS name such as 'me.dev'"),
            ("--hosted-zone-id", a.hosted_zone_id, ZONE, "the Route 53 zone id of --domain-name ('Z…')"),
        ]
    for flag, value, pattern, what in checks:
        if not pattern.match(value or ""):
            raise InitError(f"{flag} must be {what}; got {value!r}")
        if PLACEHOLDER.search(value):
            raise InitError(f"{flag} is an example placeholder ({value!r}): give a real value")
    if "--" in a.project_name:
        raise InitError(f"--project-name may not contain '--'; got {a.project_name!r}")
    if not a.ssh_cidrs:
        raise InitError("--ssh-cidr is required: the network(s) allowed to SSH to the web host, e.g. your IP/32")
    for cidr in a.ssh_cidrs:
        if not CIDR.match(cidr):
            raise InitError(f"--ssh-cidr must be an IPv4 CIDR such as '203.0.113.7/32'; got {cidr!r}")


def default_project_name(env: str) -> str:
    return "cloudsite" if env == "production" else f"cloudsite-{env.replace('_', '-')}"


def key_dir(env: str) -> Path:
    return Path(os.environ.get("CLOUDSITE_HOME", Path.home() / ".config" / "cloudsite")).expanduser() / env


def home_relative(path: Path) -> str:
    """``~/…`` for a path under the user's home (the inventory is committed; homes differ)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def render(a: Answers, secrets_dir: str = "~/.config/cloudsite/ENV") -> dict[str, str]:
    """The inventory's plain files (path relative to inventories/<env>/ → text) and the vault's plain text."""
    secrets_dir = secrets_dir.replace("ENV", a.env)
    key_path = f"{secrets_dir}/deploy_ed25519"
    cidrs = "".join(f"\n  - {c}" for c in a.ssh_cidrs)
    return {
        "hosts.yml": f"""---
# Environment '{a.env}' (created by `make init ENV={a.env}`). Group `{a.env}` holds its settings
# (group_vars/{a.env}/); the controller runs every AWS-facing play; `web` is filled by aws_ec2.yml.
{a.env}:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  children:
    web:
""",
        "aws_ec2.yml": """---
# The web hosts of this account. Deliberately broad (every region, any project): the host plays
# select this deployment's hosts by project_name and aws_region (group web_deploy, built by
# roles/guard/tasks/web_hosts.yml), so vars.yml is the one place that says which hosts a run deploys to.
plugin: amazon.aws.aws_ec2
filters:
  tag:role: web
  tag-key: project
  instance-state-name: running
hostnames:
  - instance-id
compose:
  ansible_host: public_ip_address
  ec2_instance_id: instance_id
  ec2_private_ip: private_ip_address
  ec2_region: placement.region
  ec2_tags: tags
groups:
  web: tags.role == 'web'
""",
        f"group_vars/{a.env}/vars.yml": f"""---
# Environment '{a.env}', created by `make init ENV={a.env}`. Secrets are in vault.yml (encrypted with
# the password in {secrets_dir}/vault-pass; the make targets pass it).
project_name: {a.project_name}
aws_region: {a.region}
site_bucket_name: {a.site_bucket}
artifacts_bucket_name: {a.artifacts_bucket}
domain_name: "{a.domain_name}"
hosted_zone_id: "{a.hosted_zone_id}"

contact_sender: "{{{{ vault_contact_sender }}}}"
contact_recipient: "{{{{ vault_contact_recipient }}}}"
# CloudFront's proof to the ALB (generated by make init). Rotation: docs/real-account.md.
origin_verify_secret: "{{{{ vault_origin_verify_secret }}}}"

# SSH to the web host: the deploy key (private half outside git; CI sets ANSIBLE_PRIVATE_KEY_FILE)
# and the admin networks allowed on port 22.
ec2_host_public_key: "{{{{ vault_ec2_host_public_key }}}}"
ansible_user: "{{{{ web_ssh_user }}}}"
# Host keys: trust on first use into known_hosts beside this inventory (keyed by instance id), then verify.
ansible_ssh_common_args: >-
  -o UserKnownHostsFile={{{{ inventory_dir }}}}/known_hosts -o StrictHostKeyChecking=accept-new
  -o HostKeyAlias={{{{ inventory_hostname }}}}
ansible_ssh_private_key_file: "{{{{ lookup('ansible.builtin.env', 'ANSIBLE_PRIVATE_KEY_FILE', default='') or '{key_path}' }}}}"
aws_network_ssh_allow_cidrs: "{{{{ vault_ssh_allow_cidrs }}}}"
# Node and container metrics on the web host, open to the allow-list above only (docs/monitoring.md).
# web_metrics_enabled: true

# The backend stacks deploy through this CloudFormation service role, and the function roles they
# create carry this boundary (both made by playbooks/bootstrap-iam.yml).
cloudformation_role_arn: arn:aws:iam::{a.account_id}:role/{a.project_name}-cloudformation
permissions_boundary_arn: arn:aws:iam::{a.account_id}:policy/{a.project_name}-boundary
""",
        "vault": f"""---
vault_contact_sender: "{a.contact_sender}"
vault_contact_recipient: "{a.contact_recipient}"
vault_ec2_host_public_key: "{{public_key}}"
vault_ssh_allow_cidrs:{cidrs}
vault_origin_verify_secret: "{{origin_verify_secret}}"
""",
    }


def ensure_secrets(env: str) -> tuple[Path, Path, str, list[str]]:
    """The deploy key and vault password outside git: created once (0600 in a 0700 directory), then reused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    made: list[str] = []
    home = key_dir(env)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    key, pub, password = home / "deploy_ed25519", home / "deploy_ed25519.pub", home / "vault-pass"
    if not key.exists():
        private = Ed25519PrivateKey.generate()
        _write_private(
            key,
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            ),
        )
        public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        pub.write_bytes(public + f" cloudsite-{env}-deploy\n".encode())
        made.append(str(key))
    elif not pub.exists():
        raise InitError(f"{key} exists without {pub.name}: restore it (ssh-keygen -y -f {key}) or remove both")
    if not password.exists():
        _write_private(password, (secrets.token_urlsafe(32) + "\n").encode())
        made.append(str(password))
    for path in (key, password):
        if path.stat().st_mode & 0o077:
            raise InitError(f"{path} is readable by others: chmod 600 {path}")
    return key, password, pub.read_text().strip(), made


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _vault(args: list[str], password: Path, data: str | None = None) -> str:
    tool = Path(sys.executable).parent / "ansible-vault"
    proc = subprocess.run(
        [str(tool), *args, "--vault-password-file", str(password)],
        input=data,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )
    if proc.returncode != 0:
        raise InitError(f"ansible-vault {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def account_id_from_sts(region: str) -> str:
    try:
        import boto3

        return boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    except Exception as e:  # any failure means: no usable credentials here
        raise InitError(
            f"--account-id is needed (no AWS credentials to read it with STS: {type(e).__name__}); "
            "log in first (see README 'Credentials') or pass ACCOUNT_ID=<12 digits>"
        ) from e


def write_inventory(a: Answers, inventories: Path, force: bool = False) -> list[str]:
    """Create or update inventories/<env>/; returns what changed. InitError when it differs without force."""
    _key, password, public_key, made = ensure_secrets(a.env)
    files = render(a, home_relative(key_dir(a.env)))
    target = inventories / a.env
    vault_path = target / "group_vars" / a.env / "vault.yml"
    # The origin secret is generated once and kept: a re-run must not rotate it.
    current = yaml.safe_load(_vault(["view", str(vault_path)], password)) if vault_path.exists() else None
    origin_secret = (current or {}).get("vault_origin_verify_secret") or secrets.token_hex(32)
    vault_text = files.pop("vault").replace("{public_key}", public_key).replace("{origin_verify_secret}", origin_secret)
    differs = [p for p, text in files.items() if not (target / p).exists() or (target / p).read_text() != text]
    if not vault_path.exists() or _vault(["view", str(vault_path)], password) != vault_text:
        differs.append(str(vault_path.relative_to(target)))
    if target.exists() and differs and not force:
        raise InitError(
            f"{target} exists and would change ({', '.join(sorted(differs))}): re-run with FORCE=1 to overwrite"
        )
    for p in differs:
        path = target / p
        path.parent.mkdir(parents=True, exist_ok=True)
        if path == vault_path:
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
                tmp.write(vault_text)
            _vault(["encrypt", tmp.name, "--encrypt-vault-id", "default"], password)
            os.replace(tmp.name, path)
        else:
            path.write_text(files[p])
    return made + [str(target / p) for p in sorted(differs)]


def _ask(value: str | None, flag: str, prompt: str, default: str = "") -> str:
    if value:
        return value
    if sys.stdin.isatty():
        answer = input(f"{prompt}{f' [{default}]' if default else ''}: ").strip()
        return answer or default
    if default:
        return default
    raise InitError(f"{flag} is required (no terminal to ask on)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="create inventories/<env>/ for a real AWS account")
    p.add_argument("env")
    p.add_argument("--project-name")
    p.add_argument("--region")
    p.add_argument("--account-id")
    p.add_argument("--domain-name", default=None)
    p.add_argument("--hosted-zone-id", default=None)
    p.add_argument("--contact-sender")
    p.add_argument("--contact-recipient")
    p.add_argument("--ssh-cidr", action="append", default=[])
    p.add_argument("--inventories", type=Path, default=ROOT / "inventories")
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    try:
        if not ENV_NAME.match(args.env) or args.env in ("local", "template"):
            raise InitError(
                f"ENV must be lowercase letters, digits and '_' (not 'local', the rehearsal); got {args.env!r}"
            )
        region = _ask(args.region, "--region", "AWS region", "us-east-1")
        domain = args.domain_name
        if domain is None:
            domain = input("Custom domain (empty: none): ").strip() if sys.stdin.isatty() else ""
        answers = Answers(
            env=args.env,
            project_name=_ask(args.project_name, "--project-name", "Project name", default_project_name(args.env)),
            region=region,
            account_id=args.account_id or account_id_from_sts(region),
            contact_sender=_ask(args.contact_sender, "--contact-sender", "Contact form sender (SES-verified)"),
            contact_recipient=_ask(args.contact_recipient, "--contact-recipient", "Contact form recipient"),
            ssh_cidrs=args.ssh_cidr
            or [c for c in _ask(None, "--ssh-cidr", "Your public IP as CIDR (x.x.x.x/32)").split(",") if c],
            domain_name=domain,
            hosted_zone_id=_ask(args.hosted_zone_id, "--hosted-zone-id", "Route 53 hosted zone id") if domain else "",
        )
        validate(answers)
        changed = write_inventory(answers, args.inventories, force=args.force)
    except InitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    home = key_dir(args.env)
    if changed:
        print("\n".join(f"wrote {c}" for c in changed))
    else:
        print(f"inventories/{args.env} is up to date")
    print(
        f"deploy key: {home}/deploy_ed25519; vault password: {home}/vault-pass (keep both out of git; back them up)\n"
        f"next: verify the SES sender, then `make deploy ENV={args.env}`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
