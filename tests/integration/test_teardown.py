"""playbooks/teardown.yml against the private patched emulator.

Deploy (infra with a custom domain, backend with both stages, static site) → teardown without or with
a wrong confirm_teardown fails naming it and removes nothing → teardown with confirm_teardown →
boto3 finds no resource of the project → teardown again succeeds with nothing to remove.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3
import pytest

from local import envctl
from tests.conftest import RECAP, ROOT, reset_moto, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow, pytest.mark.docker]

INVENTORY = ROOT / "inventories" / "local"
PROJECT = "cloudsite"  # group_vars/all.yml
DOMAIN = "cloudsite.test"
SITE_BUCKET = "cloudsite-local-site"  # inventories/local/group_vars/local.yml
COMMENT = "cloudsite site"


def play(moto_url: str, playbook: Path, *args: str) -> subprocess.CompletedProcess:
    return run_playbook(moto_url, playbook, *args, inventory=INVENTORY)


def recap(proc: subprocess.CompletedProcess) -> tuple[int, int]:
    """(changed, failed) of localhost, asserting the run succeeded."""
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    match = RECAP.search(proc.stdout)
    assert match, proc.stdout[-3000:]
    return int(match.group(2)), int(match.group(4))


def boto(moto_url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# The deploy lock and audit table outlives teardown on purpose: it records the teardown itself
# (docs/day2.md). It is the one project resource a confirmed teardown leaves.
LOCK_TABLE = f"{PROJECT}-deploy-lock"


def project_resources(moto_url: str) -> dict[str, list[str]]:
    """Everything of the project the emulator holds, per service (empty lists: nothing left), but the
    deploy lock and audit table."""

    def client(service: str):
        return boto(moto_url, service)

    ec2, elbv2, s3, cfn = client("ec2"), client("elbv2"), client("s3"), client("cloudformation")
    cloudfront, wafv2, acm, route53 = client("cloudfront"), client("wafv2"), client("acm"), client("route53")
    tag = [{"Name": "tag:project", "Values": [PROJECT]}]
    live_instances = {
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    }
    tagged = [
        m["ResourceARN"]
        for m in client("resourcegroupstaggingapi").get_resources(TagFilters=[{"Key": "project", "Values": [PROJECT]}])[
            "ResourceTagMappingList"
        ]
    ]
    zones = route53.list_hosted_zones()["HostedZones"]
    records = [
        f"{r['Type']} {r['Name']}"
        for z in zones
        for r in route53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]
        if r["Type"] not in ("NS", "SOA")
    ]
    return {
        # A terminated instance keeps its tags for a while (on AWS too): only live ones count.
        "tagged": [
            a
            for a in tagged
            if not (":instance/" in a and a.rsplit("/", 1)[1] not in live_instances)
            and not a.endswith(f":table/{LOCK_TABLE}")
        ],
        "instances": sorted(live_instances),
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag)["Subnets"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=tag)["RouteTables"]],
        "internet_gateways": [
            g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tag)["InternetGateways"]
        ],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith(PROJECT)],
        "load_balancers": [lb["LoadBalancerName"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]],
        "target_groups": [tg["TargetGroupName"] for tg in elbv2.describe_target_groups()["TargetGroups"]],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "stacks": [s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"],
        "distributions": [
            d["Id"]
            for d in cloudfront.list_distributions()["DistributionList"].get("Items") or []
            if d["Comment"] == COMMENT
        ],
        "origin_access_controls": [
            o["Name"] for o in cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items") or []
        ],
        "response_headers_policies": [
            p["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]
            for p in cloudfront.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"].get("Items")
            or []
        ],
        "web_acls": [a["Name"] for a in wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]],
        "certificates": [c["DomainName"] for c in acm.list_certificates()["CertificateSummaryList"]],
        "dns_records": records,
        "ses_identities": client("ses").list_identities()["Identities"],
        "tables": [name for name in client("dynamodb").list_tables()["TableNames"] if name != LOCK_TABLE],
        "functions": [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
    }


def z_zone(route53) -> str:
    """A hosted zone for DOMAIN whose id starts with Z, as AWS ids do and the guard role checks.

    moto draws ids from [A-Z0-9]: create zones until one fits and delete the others."""
    for attempt in range(500):
        zone_id = route53.create_hosted_zone(Name=DOMAIN, CallerReference=f"teardown-{attempt}")["HostedZone"]["Id"]
        zone_id = zone_id.rsplit("/", 1)[-1]
        if zone_id.startswith("Z"):
            return zone_id
        route53.delete_hosted_zone(Id=zone_id)
    raise AssertionError("moto gave no Z-prefixed hosted zone id in 500 attempts")


@pytest.fixture(scope="module")
def deployed(moto_url, docker_engine, tmp_path_factory):
    """infra (with a custom domain) + backend (prod and test) + static, on a blank private emulator."""
    reset_moto(moto_url)
    zone = z_zone(boto(moto_url, "route53"))
    # One ansible-playbook run for the three stages. site.yml would also roll the frontend onto the
    # stand-in, which teardown does not need.
    deploy = tmp_path_factory.mktemp("teardown") / "deploy.yml"
    deploy.write_text(
        "---\n"
        + "".join(
            f"- name: Import the {stage} stage\n  ansible.builtin.import_playbook: {ROOT / 'playbooks' / stage}.yml\n"
            for stage in ("infra", "backend", "static")
        )
    )
    work = deploy.parent
    extra = ["-e", f"domain_name={DOMAIN}", "-e", f"hosted_zone_id={zone}"]
    # Its own build and runtime config: the repository's are shared with `make demo` and other runs.
    extra += ["-e", f"site_build_dir={work / 'build'}", "-e", f"site_config_json={work / 'config.json'}"]
    try:
        recap(play(moto_url, deploy, *extra))
        # A versioned bucket with an overwritten object and a delete marker: emptying must take them all.
        s3 = boto(moto_url, "s3")
        for body in (b"one", b"two"):
            s3.put_object(Bucket=SITE_BUCKET, Key="old/page.html", Body=body)
        s3.delete_object(Bucket=SITE_BUCKET, Key="old/page.html")
        versions = s3.list_object_versions(Bucket=SITE_BUCKET, Prefix="old/")
        assert len(versions.get("Versions", [])) == 2
        assert len(versions.get("DeleteMarkers", [])) == 1
        yield extra
    finally:
        envctl.remove_standins(moto_url)


@pytest.fixture(scope="module")
def torn_down(moto_url, deployed):
    """The output of one confirmed teardown."""
    proc = play(moto_url, ROOT / "playbooks" / "teardown.yml", *deployed, "-e", f"confirm_teardown={PROJECT}")
    changed, _ = recap(proc)
    return changed


def test_deploy_leaves_resources_in_every_category(moto_url, deployed):
    held = project_resources(moto_url)
    # The check below must see each kind of resource, or "nothing left" would prove nothing.
    assert {k for k, v in held.items() if not v} == set(), held
    assert set(held["stacks"]) == {f"{PROJECT}-backend-prod", f"{PROJECT}-backend-test"}


@pytest.mark.parametrize("confirm", [None, "", "other-project"])
def test_teardown_without_confirmation_fails_and_removes_nothing(moto_url, deployed, confirm):
    before = project_resources(moto_url)
    args = [] if confirm is None else ["-e", f"confirm_teardown={confirm}"]
    proc = play(moto_url, ROOT / "playbooks" / "teardown.yml", *deployed, *args)
    assert proc.returncode != 0
    assert "confirm_teardown" in proc.stdout
    # The guard play failed, so the teardown play never started.
    assert "PLAY [Remove everything the deploy created]" not in proc.stdout
    assert project_resources(moto_url) == before


def test_confirmed_teardown_leaves_no_project_resource(moto_url, torn_down):
    assert torn_down > 0
    assert project_resources(moto_url) == {k: [] for k in project_resources(moto_url)}
    # The audit log survives, with the teardown's own record, and no lock is left behind.
    dynamodb = boto(moto_url, "dynamodb")
    assert "Item" not in dynamodb.get_item(TableName=LOCK_TABLE, Key={"pk": {"S": "lock"}, "sk": {"S": "lock"}})
    records = dynamodb.query(
        TableName=LOCK_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "audit"}},
    )["Items"]
    assert any('"playbook": "playbooks/teardown.yml"' in r["record"]["S"] for r in records)
    # The stand-in of the terminated instance went with the inventory refresh at the end.
    names = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=cloudsite.endpoint={moto_url}"], capture_output=True, text=True
    ).stdout.split()
    assert names == []


def test_teardown_runs_again_with_nothing_to_remove(moto_url, deployed, torn_down):
    proc = play(moto_url, ROOT / "playbooks" / "teardown.yml", *deployed, "-e", f"confirm_teardown={PROJECT}")
    changed, failed = recap(proc)
    assert (changed, failed) == (0, 0)
    assert project_resources(moto_url) == {k: [] for k in project_resources(moto_url)}
