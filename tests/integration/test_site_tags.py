"""Issue 4's read-back: `site.yml --tags infra,static,backend` against a private emulator creates the whole
cloud side; a second run and `--check` on the converged deploy report changed=0 for the whole play.

The build and runtime config go to a temporary directory so the run cannot disturb (or be disturbed by)
the checkout's own build.
"""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest

from local import envctl
from tests.conftest import RECAP_HOSTS, REGION, ROOT, ansible_env, reset_moto

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]


def recap(output: str) -> dict[str, tuple[int, int]]:
    """host -> (changed, failed) from the PLAY RECAP."""
    found = {m.group(1): (int(m.group(3)), int(m.group(5))) for m in RECAP_HOSTS.finditer(output)}
    assert found, output[-3000:]
    return found


def stack_parameters(moto_url: str) -> dict[str, dict[str, str]]:
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return {
        s["StackName"]: {p["ParameterKey"]: p["ParameterValue"] for p in s["Parameters"]}
        for s in cfn.describe_stacks()["Stacks"]
        if s["StackName"].startswith("cloudsite-backend-")
    }


@pytest.fixture(scope="module")
def deployed(moto_url, docker_engine, tmp_path_factory):
    reset_moto(moto_url)
    work = tmp_path_factory.mktemp("site")
    extra = ["-e", f"site_build_dir={work}/build", "-e", f"site_config_json={work}/config.json"]

    def run(*args: str, playbook: tuple[str, ...] = ("site.yml", "--tags", "infra,static,backend")) -> str:
        proc = subprocess.run(
            [str(ROOT / ".venv/bin/ansible-playbook"), *playbook, *extra, *args],
            cwd=ROOT,
            env=ansible_env(moto_url),
            capture_output=True,
            text=True,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        return out

    try:
        result = {"first": run(), "again": run(), "check": run("--check"), "work": work}
        result["params_full"] = stack_parameters(moto_url)
        # The backend stage alone: the cdn stage did not run, so the distribution's domain is not a fact.
        result["backend_alone"] = run(playbook=("playbooks/backend.yml",))
        result["params_alone"] = stack_parameters(moto_url)
        yield result
    finally:
        envctl.remove_standins(moto_url)


def test_second_run_and_check_report_no_change(deployed):
    assert any(changed for changed, _ in recap(deployed["first"]).values())
    for step in ("again", "check"):
        assert recap(deployed[step]) == {host: (0, 0) for host in recap(deployed[step])}, (
            step,
            deployed[step][-3000:],
        )


def test_backend_stage_alone_keeps_what_the_full_run_built(deployed, aws_client):
    """Issue 12 point 4: backend.yml alone set AllowedOrigin to https://<project>.invalid (the distribution's
    domain was known only when the cdn stage ran in the same run); it now finds the distribution in AWS."""
    assert recap(deployed["backend_alone"]) == {h: (0, 0) for h in recap(deployed["backend_alone"])}, deployed[
        "backend_alone"
    ][-3000:]
    assert deployed["params_alone"] == deployed["params_full"]
    (dist,) = aws_client("cloudfront").list_distributions()["DistributionList"]["Items"]
    origins = deployed["params_full"]["cloudsite-backend-prod"]["AllowedOrigin"].split(",")
    assert f"https://{dist['DomainName']}" in origins
    assert not any(o.endswith(".invalid") for o in origins)


def test_network_and_host(deployed, aws_client):
    ec2 = aws_client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:project", "Values": ["cloudsite"]}])["Vpcs"]
    assert len(vpcs) == 1
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    assert len(subnets) == 2 and len({s["AvailabilityZone"] for s in subnets}) == 2
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:project", "Values": ["cloudsite"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    assert len(instances) == 1
    assert instances[0]["MetadataOptions"]["HttpTokens"] == "required"


def test_target_group_health_check(deployed, aws_client):
    tg = aws_client("elbv2").describe_target_groups(Names=["cloudsite-frontend"])["TargetGroups"][0]
    assert tg["HealthCheckPath"] == "/healthz" and tg["TargetType"] == "instance"


def _distribution(aws_client) -> tuple[str, dict]:
    cf = aws_client("cloudfront")
    items = cf.list_distributions()["DistributionList"]["Items"]
    dist = next(d for d in items if d["Comment"] == "cloudsite site")
    return dist["ARN"], cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]


def test_distribution_fronts_alb_with_s3_failover_and_waf(deployed, aws_client):
    _, config = _distribution(aws_client)
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    assert len(origins) == 2
    groups = config["OriginGroups"]["Items"]
    assert len(groups) == 1
    members = [m["OriginId"] for m in groups[0]["Members"]["Items"]]
    assert "CustomOriginConfig" in origins[members[0]], "the ALB must be the primary member"
    assert origins[members[1]]["OriginAccessControlId"], "the S3 origin must use an OAC"
    assert sorted(groups[0]["FailoverCriteria"]["StatusCodes"]["Items"]) == [500, 502, 503, 504]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == groups[0]["Id"]
    assert config["WebACLId"].startswith("arn:aws:wafv2:")


def test_bucket_private_and_readable_only_by_the_distribution(deployed, aws_client):
    s3 = aws_client("s3")
    block = s3.get_public_access_block(Bucket="cloudsite-local-site")["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    arn, _ = _distribution(aws_client)
    policy = json.loads(s3.get_bucket_policy(Bucket="cloudsite-local-site")["Policy"])
    conditions = [s["Condition"]["StringEquals"]["AWS:SourceArn"] for s in policy["Statement"]]
    assert conditions == [arn]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="cloudsite-local-site")["Contents"]}
    assert {"index.html", "version.json", "config.json"} <= keys


def test_stack_outputs_and_config_json(deployed, aws_client):
    stack = aws_client("cloudformation").describe_stacks(StackName="cloudsite-backend-prod")["Stacks"][0]
    outputs = {o["OutputKey"] for o in stack["Outputs"]}
    assert {"ApiUrl", "TableName", "CounterFunctionName", "ContactFunctionName"} <= outputs
    built = json.loads((deployed["work"] / "build" / "config.json").read_text())
    assert built["apiBaseUrl"].endswith("/prod")
