"""Each fidelity patch in local/moto_patches: the behaviour AWS has, shown on the patched emulator, and
the gap shown on an unpatched moto of the same version (so the test fails without the patch, and tells
us when a moto upgrade makes a patch unnecessary)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.conftest import REGION, free_port
from tests.conftest import boto_client as client

pytestmark = pytest.mark.emulator


def _two_slot_target_group(url: str) -> tuple[object, str, str]:
    ec2, elb = client(url, "ec2"), client(url, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    tg = elb.create_target_group(Name=f"tg-{free_port()}", Protocol="HTTP", Port=8081, VpcId=vpc, TargetType="instance")
    return elb, tg["TargetGroups"][0]["TargetGroupArn"], instance


def _registered(elb, arn) -> set[tuple[str, int, str]]:
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"]) for h in health}


def elbv2_two_ports_behaviour(url: str) -> None:
    elb, arn, iid = _two_slot_target_group(url)
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid, "Port": 8081}, {"Id": iid, "Port": 8082}])
    assert _registered(elb, arn) == {(iid, 8081, "healthy"), (iid, 8082, "healthy")}
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": iid, "Port": 8081}])
    assert _registered(elb, arn) == {(iid, 8082, "healthy")}
    asked = elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": iid, "Port": 8081}])
    assert asked["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unused"
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid, "Port": 8081}])
    assert _registered(elb, arn) == {(iid, 8081, "healthy"), (iid, 8082, "healthy")}


def test_elbv2_targets_keyed_by_instance_and_port(moto_url):
    elbv2_two_ports_behaviour(moto_url)


def test_elbv2_gap_exists_unpatched(plain_moto_url):
    with pytest.raises(AssertionError):
        elbv2_two_ports_behaviour(plain_moto_url)


def _distribution_config(ref: str) -> dict:
    s3_domain = "site-bucket.s3.us-east-1.amazonaws.com"
    return {
        "CallerReference": ref,
        "Comment": "patch test",
        "Enabled": True,
        "Origins": {
            "Quantity": 2,
            "Items": [
                {
                    "Id": "alb",
                    "DomainName": "alb-123.us-east-1.elb.amazonaws.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "http-only",
                    },
                },
                {
                    "Id": "s3",
                    "DomainName": s3_domain,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": "E2OACTEST",
                },
            ],
        },
        "OriginGroups": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "alb-then-s3",
                    "FailoverCriteria": {"StatusCodes": {"Quantity": 4, "Items": [500, 502, 503, 504]}},
                    "Members": {"Quantity": 2, "Items": [{"OriginId": "alb"}, {"OriginId": "s3"}]},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "alb-then-s3",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }


def test_cloudfront_default_behaviour_on_origin_group(moto_url):
    cf = client(moto_url, "cloudfront")
    dist = cf.create_distribution(DistributionConfig=_distribution_config("og-1"))["Distribution"]
    config = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "alb-then-s3"
    assert [g["Id"] for g in config["OriginGroups"]["Items"]] == ["alb-then-s3"]


def test_cloudfront_origin_group_must_exist(moto_url):
    cf = client(moto_url, "cloudfront")
    config = _distribution_config("og-missing")
    config["DefaultCacheBehavior"]["TargetOriginId"] = "no-such-group"
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchOrigin"):
        cf.create_distribution(DistributionConfig=config)


def test_cloudfront_origin_group_gap_exists_unpatched(plain_moto_url):
    cf = client(plain_moto_url, "cloudfront")
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchOrigin"):
        cf.create_distribution(DistributionConfig=_distribution_config("og-plain"))


def s3_origin_of(url: str, ref: str) -> dict:
    cf = client(url, "cloudfront")
    config = _distribution_config(ref)
    config["DefaultCacheBehavior"]["TargetOriginId"] = "alb"  # works unpatched too
    dist = cf.create_distribution(DistributionConfig=config)["Distribution"]
    origins = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]["Origins"]["Items"]
    return next(o for o in origins if o["Id"] == "s3")


def test_cloudfront_keeps_s3_origin_config_and_oac(moto_url):
    origin = s3_origin_of(moto_url, "s3cfg-1")
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert origin["OriginAccessControlId"] == "E2OACTEST"


def test_cloudfront_s3_origin_config_gap_exists_unpatched(plain_moto_url):
    origin = s3_origin_of(plain_moto_url, "s3cfg-plain")
    assert "S3OriginConfig" not in origin


def invalidation_status(url: str, ref: str) -> str:
    cf = client(url, "cloudfront")
    config = _distribution_config(ref)
    config["DefaultCacheBehavior"]["TargetOriginId"] = "alb"
    dist = cf.create_distribution(DistributionConfig=config)["Distribution"]
    inv = cf.create_invalidation(
        DistributionId=dist["Id"], InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/"]}, "CallerReference": ref}
    )["Invalidation"]
    return cf.get_invalidation(DistributionId=dist["Id"], Id=inv["Id"])["Invalidation"]["Status"]


def test_cloudfront_invalidation_status_like_aws(moto_url):
    assert invalidation_status(moto_url, "inv-1") == "Completed"


def test_cloudfront_invalidation_status_gap_exists_unpatched(plain_moto_url):
    assert invalidation_status(plain_moto_url, "inv-plain") == "COMPLETED"


def repeated_invalidation(url: str, ref: str, second_paths: list[str]):
    """Two CreateInvalidation calls with one CallerReference: the two answers (or the second's error)."""
    cf = client(url, "cloudfront")
    config = _distribution_config(ref)
    config["DefaultCacheBehavior"]["TargetOriginId"] = "alb"
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    def create(paths: list[str]) -> dict:
        batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": ref}
        return cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)["Invalidation"]

    first = create(["/", "/index.html"])
    try:
        second = create(second_paths)
    except botocore.exceptions.ClientError as err:
        second = err.response["Error"]["Code"]
    count = len(cf.list_invalidations(DistributionId=dist_id)["InvalidationList"].get("Items") or [])
    return first, second, count


def test_cloudfront_repeated_caller_reference_like_aws(moto_url):
    first, second, count = repeated_invalidation(moto_url, "inv-rep", ["/index.html", "/"])
    assert (second["Id"], count) == (first["Id"], 1)
    _, refused, count = repeated_invalidation(moto_url, "inv-rep-other", ["/about.html"])
    assert (refused, count) == ("InvalidationBatchAlreadyExists", 1)


def test_cloudfront_repeated_caller_reference_gap_exists_unpatched(plain_moto_url):
    first, second, count = repeated_invalidation(plain_moto_url, "inv-rep-plain", ["/about.html"])
    assert second["Id"] != first["Id"] and count == 2


def prefix_list_rule(url: str) -> tuple[list, list, dict]:
    """A group admitting a prefix list with a description, the description then updated: what the
    group's permission, its rule and the update's answer say."""
    ec2 = client(url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=f"pl-{vpc}", Description="pl", VpcId=vpc)["GroupId"]
    plist = ec2.create_managed_prefix_list(PrefixListName=f"pl-{vpc}", MaxEntries=5, AddressFamily="IPv4")
    plist_id = plist["PrefixList"]["PrefixListId"]

    def permission(text: str) -> list[dict]:
        entry = {"PrefixListId": plist_id, "Description": text}
        return [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "PrefixListIds": [entry]}]

    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permission("CloudFront"))
    first = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"][0]["PrefixListIds"]
    answer = ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=permission("edge"))
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    return first, [r.get("Description") for r in rules if r.get("PrefixListId")], answer


def test_ec2_prefix_list_rule_keeps_its_description(moto_url):
    first, rules, answer = prefix_list_rule(moto_url)
    assert [p.get("Description") for p in first] == ["CloudFront"]
    assert rules == ["edge"] and answer["Return"] is True


def test_ec2_prefix_list_rule_description_gap_exists_unpatched(plain_moto_url):
    first, _, answer = prefix_list_rule(plain_moto_url)
    assert [p.get("Description") for p in first] == [None] and "Return" not in answer


def test_patches_refuse_other_moto_version(monkeypatch):
    import moto

    from local import moto_patches

    monkeypatch.setattr(moto, "__version__", "0.0.1")
    with pytest.raises(moto_patches.MotoVersionMismatch, match=r"written for moto 5\.2\.5"):
        moto_patches.apply_all()


def zone_ids(url: str, count: int) -> list[str]:
    r53 = client(url, "route53")
    return [
        r53.create_hosted_zone(Name=f"z{i}-{free_port()}.example.com", CallerReference=f"ref-{i}-{free_port()}")[
            "HostedZone"
        ]["Id"].rsplit("/", 1)[-1]
        for i in range(count)
    ]


def test_route53_zone_ids_look_like_aws(moto_url):
    assert all(z.startswith("Z") and len(z) == 21 for z in zone_ids(moto_url, 10))


def test_route53_zone_id_gap_exists_unpatched(plain_moto_url):
    assert not all(z.startswith("Z") for z in zone_ids(plain_moto_url, 10))


def fixed_response_rule(url: str, body: str) -> None:
    """Create a listener rule whose fixed response carries ``body`` (gap 13)."""
    ec2, elb = client(url, "ec2"), client(url, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.11.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    lb = elb.create_load_balancer(Name=f"lb-{free_port()}", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "501", "MessageBody": body}}],
    )


def test_elbv2_fixed_response_body_limited_like_aws(moto_url):
    fixed_response_rule(moto_url, "x" * 1024)
    with pytest.raises(botocore.exceptions.ClientError, match="less than or equal to 1024"):
        fixed_response_rule(moto_url, "x" * 1025)


def test_elbv2_fixed_response_body_gap_exists_unpatched(plain_moto_url):
    fixed_response_rule(plain_moto_url, "x" * 1025)


BAD_ALARMS = {
    "period 45": {"Period": 45},
    "action not an ARN": {"AlarmActions": ["recover"]},
    "recover ARN in another region": {"AlarmActions": ["arn:aws:automate:eu-west-1:ec2:recover"]},
    "recover on another metric": {
        "MetricName": "CPUUtilization",
        "AlarmActions": ["arn:aws:automate:us-east-1:ec2:recover"],
    },
    "EC2 action without InstanceId": {"Dimensions": [], "AlarmActions": ["arn:aws:automate:us-east-1:ec2:reboot"]},
}


def put_alarm(url: str, **overrides) -> None:
    params = {
        "AlarmName": f"a-{free_port()}",
        "Namespace": "AWS/EC2",
        "MetricName": "StatusCheckFailed_System",
        "Statistic": "Maximum",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": ["arn:aws:automate:us-east-1:ec2:recover", "arn:aws:sns:us-east-1:123456789012:alarms"],
    }
    params.update(overrides)
    client(url, "cloudwatch").put_metric_alarm(**params)


def test_cloudwatch_accepts_a_valid_recover_alarm(moto_url):
    put_alarm(moto_url)
    put_alarm(
        moto_url,
        Period=10,
        MetricName="StatusCheckFailed_Instance",
        AlarmActions=["arn:aws:automate:us-east-1:ec2:reboot"],
    )


@pytest.mark.parametrize("case", sorted(BAD_ALARMS))
def test_cloudwatch_refuses_alarms_aws_refuses(moto_url, case):
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationError"):
        put_alarm(moto_url, **BAD_ALARMS[case])


def test_cloudwatch_alarm_gap_exists_unpatched(plain_moto_url):
    for case in BAD_ALARMS.values():
        put_alarm(plain_moto_url, **case)


def _alarm_names(url: str, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    for name in names:
        put_alarm(url, AlarmName=name, AlarmActions=[])
    return names


def test_cloudwatch_describe_alarms_pages_and_limits_like_aws(moto_url):
    names = _alarm_names(moto_url, "paged", 120)
    cw = client(moto_url, "cloudwatch")
    first = cw.describe_alarms(AlarmNames=names[:100], MaxRecords=30)
    assert [a["AlarmName"] for a in first["MetricAlarms"]] == names[:30] and first["NextToken"]
    seen = [
        a["AlarmName"]
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix="paged-")
        for a in page["MetricAlarms"]
    ]
    assert seen == names  # pages of 50 without MaxRecords, each alarm once
    for bad in ({"AlarmNames": names[:101]}, {"MaxRecords": 101}, {"AlarmNames": names[:2], "AlarmNamePrefix": "p"}):
        with pytest.raises(botocore.exceptions.ClientError, match="ValidationError"):
            cw.describe_alarms(**bad)


def test_cloudwatch_describe_alarms_gap_exists_unpatched(plain_moto_url):
    names = _alarm_names(plain_moto_url, "unpaged", 101)
    answer = client(plain_moto_url, "cloudwatch").describe_alarms(AlarmNames=names, MaxRecords=30)
    assert len(answer["MetricAlarms"]) == 101 and "NextToken" not in answer


HEADERS_POLICY = {
    "Comment": "security headers",
    "SecurityHeadersConfig": {
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": "DENY", "Override": True},
        "StrictTransportSecurity": {"AccessControlMaxAgeSec": 31536000, "IncludeSubdomains": False, "Override": True},
    },
    "CustomHeadersConfig": {
        "Quantity": 1,
        "Items": [{"Header": "Permissions-Policy", "Value": "camera=()", "Override": True}],
    },
}


def test_cloudfront_response_headers_policies_like_aws(moto_url):
    """Gap 19: CRUD with ETags, unique names, in-use protection, and no unknown policy on a distribution."""
    cf = client(moto_url, "cloudfront")
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig={**HEADERS_POLICY, "Name": "rhp-1"})
    policy_id, etag = created["ResponseHeadersPolicy"]["Id"], created["ETag"]
    got = cf.get_response_headers_policy(Id=policy_id)
    assert got["ETag"] == etag
    config = got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]
    assert config["SecurityHeadersConfig"]["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert config["CustomHeadersConfig"]["Items"][0]["Header"] == "Permissions-Policy"
    listed = cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]["Items"]
    assert [p["ResponseHeadersPolicy"]["Id"] for p in listed] == [policy_id]
    with pytest.raises(botocore.exceptions.ClientError, match="ResponseHeadersPolicyAlreadyExists"):
        cf.create_response_headers_policy(ResponseHeadersPolicyConfig={**HEADERS_POLICY, "Name": "rhp-1"})
    with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
        cf.update_response_headers_policy(
            Id=policy_id, IfMatch="stale", ResponseHeadersPolicyConfig={**HEADERS_POLICY, "Name": "rhp-1"}
        )
    updated = cf.update_response_headers_policy(
        Id=policy_id, IfMatch=etag, ResponseHeadersPolicyConfig={**HEADERS_POLICY, "Name": "rhp-1", "Comment": "v2"}
    )
    assert updated["ETag"] != etag
    assert cf.get_response_headers_policy_config(Id=policy_id)["ResponseHeadersPolicyConfig"]["Comment"] == "v2"

    dist_config = _distribution_config("rhp-dist")
    dist_config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = "no-such-policy"
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchResponseHeadersPolicy"):
        cf.create_distribution(DistributionConfig=dist_config)
    dist_config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = policy_id
    dist = cf.create_distribution(DistributionConfig=dist_config)["Distribution"]
    held = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]["DefaultCacheBehavior"]
    assert held["ResponseHeadersPolicyId"] == policy_id
    with pytest.raises(botocore.exceptions.ClientError, match="ResponseHeadersPolicyInUse"):
        cf.delete_response_headers_policy(Id=policy_id, IfMatch=updated["ETag"])


def test_cloudfront_response_headers_policy_gap_exists_unpatched(plain_moto_url):
    cf = client(plain_moto_url, "cloudfront")
    with pytest.raises(botocore.exceptions.ClientError):
        cf.create_response_headers_policy(ResponseHeadersPolicyConfig={**HEADERS_POLICY, "Name": "rhp-plain"})
