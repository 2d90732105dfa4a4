"""local/moto_server.py records every signed API request (CLOUDSITE_RECORD_ACTIONS) as service + operation."""

from __future__ import annotations

import json

import boto3
import pytest

from local.moto_server import rest_operation
from tests.conftest import free_port, start_moto
from tests.iam_actions import iam_actions


@pytest.mark.parametrize(
    ("service", "method", "path", "query", "operation"),
    [
        ("cloudfront", "GET", "/2020-05-31/origin-access-control", "", "ListOriginAccessControls"),
        ("cloudfront", "GET", "/2020-05-31/distribution/E1/config", "", "GetDistributionConfig"),
        ("s3", "GET", "/", "", "ListBuckets"),
        ("s3", "GET", "/b", "list-type=2", "ListObjectsV2"),
        ("s3", "GET", "/b", "versions", "ListObjectVersions"),
        ("s3", "POST", "/b", "delete", "DeleteObjects"),
        ("s3", "HEAD", "/b/k/index.html", "", "HeadObject"),
        ("s3", "GET", "/b/k", "x-id=GetObject", "GetObject"),
        ("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", "", "ChangeResourceRecordSets"),
    ],
)
def test_rest_requests_resolve_to_their_operation(service, method, path, query, operation):
    assert rest_operation(service, method, path, query) == operation


def test_the_emulator_records_each_signed_request(tmp_path, monkeypatch):
    record = tmp_path / "actions.jsonl"
    port = free_port()
    monkeypatch.setenv("CLOUDSITE_RECORD_ACTIONS", str(record))
    proc = start_moto(port, log_path=tmp_path / "moto.log")
    try:
        kw = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        boto3.client("ec2", **kw).describe_vpcs()
        boto3.client("dynamodb", **kw).list_tables()
        s3 = boto3.client("s3", **kw)
        s3.create_bucket(Bucket="recorded")
        s3.put_object(Bucket="recorded", Key="k", Body=b"x")
        s3.list_objects_v2(Bucket="recorded")
        boto3.client("cloudfront", **kw).list_origin_access_controls()
        boto3.client("elbv2", **kw).describe_load_balancers()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["service"], e["operation"]) for e in entries] == [
        ("ec2", "DescribeVpcs"),
        ("dynamodb", "ListTables"),
        ("s3", "CreateBucket"),
        ("s3", "PutObject"),
        ("s3", "ListObjectsV2"),
        ("cloudfront", "ListOriginAccessControls"),
        ("elasticloadbalancing", "DescribeLoadBalancers"),
    ]
    assert [a for e in entries for a in iam_actions(e)] == [
        "ec2:DescribeVpcs",
        "dynamodb:ListTables",
        "s3:CreateBucket",
        "s3:PutObject",
        "s3:ListBucket",
        "cloudfront:ListOriginAccessControls",
        "elasticloadbalancing:DescribeLoadBalancers",
    ]
