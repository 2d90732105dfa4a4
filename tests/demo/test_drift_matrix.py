"""The whole-deployment drift matrix on the deploy `make demo` left running: `make drift-check` (issue 17.1).

Not part of `make test` (marker ``demo``): it needs the emulator, the local API and the stand-in hosts
`make demo` leaves running, and it changes them. In order: `make drift` on the converged deploy exits 0;
eight console-style edits (boto3 against the emulator, `docker` inside the stand-in host); `make drift`
exits 2 and its JSON report names each edit by resource and attribute; the deploy (site.yml, as
`make demo` runs it) repairs them all; `make drift` exits 0 again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import pytest

from tests.conftest import BIN, ROOT

pytestmark = pytest.mark.demo

PROJECT = "cloudsite"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # managed policy; the deploy declares CachingOptimized
STOPPED_SLOT, REPLACED_SLOT = 8081, 8082


def env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=1800)
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def drift(report) -> tuple[int, str, dict]:
    proc = subprocess.run(
        [sys.executable, "drift/run.py", "-i", "inventories/local", "site.yml"],
        cwd=ROOT,
        env=env() | {"DRIFT_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return proc.returncode, proc.stdout + proc.stderr, json.loads(report.read_text()) if report.exists() else {}


def drifted(report: dict) -> list[dict]:
    return [e for e in report["resources"] if e["status"] != "IN_SYNC"]


def named(entries: list[dict], resource: str, attribute: str) -> list[dict]:
    """The report's entries whose resource (task name and item) contains `resource` and that name an
    attribute containing `attribute`."""
    return [
        e for e in entries if resource in e["resource"] and any(attribute in c["attribute"] for c in e["attributes"])
    ]


@pytest.fixture(scope="module")
def aws():
    endpoint = run(str(BIN / "python"), "-m", "local.envctl", "endpoint").stdout.strip()

    def client(service: str, region: str = "us-east-1"):
        return boto3.client(
            service, endpoint_url=endpoint, region_name=region, aws_access_key_id="t", aws_secret_access_key="t"
        )

    return client


def standin(aws) -> str:
    """The stand-in container of the demo's web host (named by instance id)."""
    reservations = aws("ec2").describe_instances(
        Filters=[{"Name": "tag:project", "Values": [PROJECT]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    return instance["InstanceId"]


def on_host(host: str, *args: str) -> str:
    proc = subprocess.run(["docker", "exec", host, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def edit_everything(aws, bucket: str, host: str) -> None:
    """The eight console-style edits of issue 17.1."""
    ec2, s3, cloudfront = aws("ec2"), aws("s3"), aws("cloudfront")
    # 1 A security group rule added: SSH from anywhere on the web group.
    [group] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{PROJECT}-web"]}])[
        "SecurityGroups"
    ]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[ssh])
    # 3 Block Public Access off (first: AWS refuses a public policy while BlockPublicPolicy is on).
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    # 2 The bucket policy replaced: anyone may read.
    public = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    policy = {"Version": "2012-10-17", "Statement": [public | {"Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    # 4 The distribution's cache policy changed.
    [dist] = [
        d for d in cloudfront.list_distributions()["DistributionList"]["Items"] if d["Comment"] == f"{PROJECT} site"
    ]
    current = cloudfront.get_distribution_config(Id=dist["Id"])
    config = current["DistributionConfig"]
    config["DefaultCacheBehavior"]["CachePolicyId"] = CACHING_DISABLED
    cloudfront.update_distribution(Id=dist["Id"], IfMatch=current["ETag"], DistributionConfig=config)
    # 5 A WAF rule removed from the web ACL.
    waf = aws("wafv2")
    [summary] = [a for a in waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"] if a["Name"] == f"{PROJECT}-cloudfront"]
    acl = waf.get_web_acl(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])
    rules = [r for r in acl["WebACL"]["Rules"] if r["Name"] != "RateLimitPerIp"]
    assert len(rules) == len(acl["WebACL"]["Rules"]) - 1
    waf.update_web_acl(
        Name=summary["Name"],
        Scope="CLOUDFRONT",
        Id=summary["Id"],
        DefaultAction=acl["WebACL"]["DefaultAction"],
        Description=acl["WebACL"].get("Description", ""),
        Rules=rules,
        VisibilityConfig=acl["WebACL"]["VisibilityConfig"],
        LockToken=acl["LockToken"],
    )
    # 6 A Lambda environment variable changed.
    function = counter_function(aws)
    variables = function["Environment"]["Variables"] | {"TABLE_NAME": "console-table"}
    aws("lambda").update_function_configuration(
        FunctionName=function["FunctionName"], Environment={"Variables": variables}
    )
    # 7 A container stopped on the host.
    on_host(host, "docker", "stop", f"frontend-{STOPPED_SLOT}")
    # 8 A container replaced by another image (a hand-built "hotfix" of the deployed one).
    image = on_host(host, "docker", "inspect", "-f", "{{.Config.Image}}", f"frontend-{REPLACED_SLOT}").strip()
    on_host(host, "sh", "-c", f"printf 'FROM {image}\\nLABEL hotfix=console\\n' | docker build -q -t hotfix:console -")
    on_host(host, "docker", "rm", "-f", f"frontend-{REPLACED_SLOT}")
    on_host(
        host,
        "docker",
        "run",
        "-d",
        "--name",
        f"frontend-{REPLACED_SLOT}",
        "-p",
        f"{REPLACED_SLOT}:80",
        "hotfix:console",
    )


def counter_function(aws) -> dict:
    functions = aws("lambda").list_functions()["Functions"]
    [function] = [
        f
        for f in functions
        if f["FunctionName"].startswith(f"{PROJECT}-backend-prod-") and f["FunctionName"].endswith("-counter")
    ]
    return function


def site_bucket(aws) -> str:
    """The bucket of the distribution's S3 origin (<bucket>.s3.<region>.amazonaws.com)."""
    cloudfront = aws("cloudfront")
    [dist] = [
        d for d in cloudfront.list_distributions()["DistributionList"]["Items"] if d["Comment"] == f"{PROJECT} site"
    ]
    domains = {o["DomainName"] for o in dist["Origins"]["Items"] if ".s3." in o["DomainName"]}
    [bucket] = {d.split(".s3.")[0] for d in domains}
    return bucket


def test_every_console_edit_is_reported_and_the_deploy_repairs_it(aws, tmp_path):
    timings: dict[str, float] = {}
    started = time.monotonic()
    rc, out, report = drift(tmp_path / "converged.json")
    timings["drift converged"] = time.monotonic() - started
    assert rc == 0, "\n".join(out.splitlines()[-60:])
    assert report["status"] == "in_sync", drifted(report)

    bucket, host = site_bucket(aws), standin(aws)
    edit_everything(aws, bucket, host)

    started = time.monotonic()
    rc, out, report = drift(tmp_path / "drifted.json")
    timings["drift drifted"] = time.monotonic() - started
    assert rc == 2, "\n".join(out.splitlines()[-80:])
    entries = drifted(report)
    expected = {
        "1 security group rule": ("the web security group", "ip_permissions"),
        "2 bucket policy": ("distribution-only policy on bucket", "policy"),
        "3 Block Public Access": ("distribution-only policy on bucket", "public_access_block.block_public_policy"),
        "4 cache policy": ("Ensure the distribution", "DefaultCacheBehavior.CachePolicyId"),
        "5 WAF rule": ("CloudFront web ACL is present", "rules"),
        "6 Lambda environment": ("Detect the drift of the stack", "CounterFunction/Environment/Variables/TABLE_NAME"),
        "7 container stopped": (f"slot {STOPPED_SLOT}", "running"),
        "8 container image": (f"slot {REPLACED_SLOT}", "image"),
    }
    missing = {edit: want for edit, want in expected.items() if not named(entries, *want)}
    assert not missing, f"not reported: {missing}\nreported: {json.dumps(entries, indent=1)[:6000]}"

    started = time.monotonic()
    run(str(BIN / "ansible-playbook"), "-i", "inventories/local", "site.yml")
    timings["deploy (repair)"] = time.monotonic() - started
    started = time.monotonic()
    rc, out, report = drift(tmp_path / "repaired.json")
    timings["drift repaired"] = time.monotonic() - started
    assert rc == 0, json.dumps(drifted(report), indent=1)[:6000] + "\n".join(out.splitlines()[-40:])
    assert counter_function(aws)["Environment"]["Variables"]["TABLE_NAME"] != "console-table"
    print("\ndrift-check timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
