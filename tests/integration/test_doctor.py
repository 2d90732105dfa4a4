"""playbooks/doctor.yml against the private emulator: all OK on an account ready to deploy, and each FAIL.

Doctor is read-only: it runs on a reset emulator and is never followed by a deploy here (the full local
deploy after `make demo` is in the README's output).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, ansible_env, reset_moto

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def doctor(moto_url: str, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventories" / "local"), "playbooks/doctor.yml", *args],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


@pytest.fixture
def ready(moto_url, aws_client):
    """An account as the backend stage leaves SES: both addresses verified."""
    reset_moto(moto_url)
    for address in ("noreply@example.com", "owner@example.com"):
        aws_client("ses").verify_email_identity(EmailAddress=address)
    aws_client("s3").create_bucket(Bucket="cloudsite-local-site")


def test_doctor_reports_all_ok_on_a_ready_account(moto_url, ready):
    rc, out = doctor(moto_url)
    assert rc == 0, out[-4000:]
    for line in (
        "OK region us-east-1",
        "OK credentials account 123456789012",
        "-> contact form can deliver",
        "OK bucket cloudsite-local-site is owned by this account",
        "OK bucket cloudsite-local-artifacts is free (HeadBucket 404)",
        "OK ssh",
        "OK quota-eip 0 of 5 Elastic IPs in use (quota L-0263D0A3, service-quotas)",
        "OK quota-sg-rules ALB group 55 (prefix list MaxEntries), web group",
        "of 60 inbound rules per security group (quota L-0EA8095F, service-quotas)",
        "OK cors no backend stack cloudsite-backend-prod yet",
        "OK quota-cloudfront 0 of 200 CloudFront distributions (quota L-24B04930, service-quotas)",
    ):
        assert line in out, out[-4000:]
    assert "WARN " not in out and "FAIL " not in out, out[-4000:]


def test_doctor_fails_without_certificate_zone_or_ssh_path(moto_url, ready, aws_client):
    # The artifacts bucket's name is taken by another account (moto's account header; names are global).
    other = aws_client("s3")
    other.meta.events.register(
        "before-call.s3.*", lambda params, **_: params["headers"].update({"x-moto-account-id": "111122223333"})
    )
    other.create_bucket(Bucket="cloudsite-local-artifacts")
    rc, out = doctor(moto_url, "-e", "domain_name=cloudsite.test", "-e", "guard_ssh_access=true")
    assert rc != 0
    assert "FAIL certificate no ACM certificate for cloudsite.test in us-east-1" in out, out[-4000:]
    assert "FAIL hosted-zone no Route 53 hosted zone cloudsite.test" in out, out[-4000:]
    assert "FAIL bucket cloudsite-local-artifacts is owned by another account (HeadBucket 403)" in out, out[-4000:]
    assert "set artifacts_bucket_name" in out, out[-4000:]
    assert "FAIL ssh aws_network_ssh_allow_cidrs is empty" in out, out[-4000:]
    assert "doctor: certificate, hosted-zone, bucket, ssh failed" in out, out[-4000:]


def test_doctor_fails_on_an_unknown_region(moto_url, ready):
    rc, out = doctor(moto_url, "-e", "aws_region=us-east-9")
    assert rc != 0
    assert "FAIL region aws_region us-east-9 is not an AWS region" in out, out[-4000:]


def test_doctor_fails_without_working_credentials(moto_url, ready):
    # Nothing answers on port 9: the SDK cannot get an identity, as with missing or expired credentials.
    rc, out = doctor(moto_url, "-e", "aws_endpoint_url=http://127.0.0.1:9")
    assert rc != 0
    assert "FAIL credentials" in out and "configure AWS credentials" in out, out[-4000:]


def test_doctor_finds_no_quota_headroom(moto_url, ready, aws_client):
    # The account already holds its 5 Elastic IPs, and the SSH allow-list alone is over the 60-rule quota.
    for _ in range(5):
        aws_client("ec2").allocate_address(Domain="vpc")
    cidrs = json.dumps({"aws_network_ssh_allow_cidrs": [f"203.0.113.{i}/32" for i in range(60)]})
    rc, out = doctor(moto_url, "-e", cidrs)
    assert rc != 0
    assert "WARN quota-eip 5 of 5 Elastic IPs in use (quota L-0263D0A3, service-quotas): at the quota" in out, out[
        -4000:
    ]
    assert "FAIL quota-sg-rules ALB group 55 (prefix list MaxEntries), web group 62 of 60" in out, out[-4000:]
    assert "request an increase of L-0EA8095F" in out, out[-4000:]
    assert "doctor: quota-sg-rules failed" in out, out[-4000:]
