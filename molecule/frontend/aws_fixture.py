"""Create what the frontend roll needs in a private emulator: VPC, subnet, one instance, one target group.

    python aws_fixture.py --endpoint URL --target-group-name NAME

Prints JSON: {"instance_id", "target_group_arn"}. Run once per scenario (prepare).
"""

from __future__ import annotations

import argparse
import json

import boto3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--target-group-name", required=True)
    args = parser.parse_args(argv)
    kwargs = {
        "endpoint_url": args.endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    ec2 = boto3.client("ec2", **kwargs)
    elbv2 = boto3.client("elbv2", **kwargs)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet["SubnetId"]
    )["Instances"][0]["InstanceId"]
    group = elbv2.create_target_group(
        Name=args.target_group_name,
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckPath="/healthz",
        HealthCheckIntervalSeconds=5,
        HealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=group, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}]
    )
    print(json.dumps({"instance_id": instance, "target_group_arn": group}))


if __name__ == "__main__":
    main()
