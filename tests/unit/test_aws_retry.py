"""The project modules' AWS calls are retried when AWS throttles (issue 14.4).

amazon.aws's ``module.client(retry_decorator=...)`` wraps the client, but a call is retried only when it
passes ``aws_retry=True``. Here botocore's own retries are off (one attempt), so what retries is the
decorator: a throttled answer followed by a good one must succeed, and each stubbed answer is used.
"""

from __future__ import annotations

import ast
from pathlib import Path

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.cloudsite.aws.plugins.module_utils import site_bucket
from botocore.config import Config
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections" / "ansible_collections" / "cloudsite" / "aws"


class Module:
    """What SiteBucket asks of AnsibleAWSModule: params, and a client made with its retry decorator."""

    def __init__(self) -> None:
        self.params = {
            "bucket": "site",
            "prefix": "",
            "manifest_key": ".manifest.json",
            "pending_key": "",
            "max_concurrency": 2,
            "encryption": "none",
            "kms_key_id": "",
        }
        self.stubber: Stubber | None = None

    def client(self, service: str, retry_decorator=None, config=None):
        raw = boto3.client(
            service,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )
        self.stubber = Stubber(raw)
        self.stubber.activate()
        return RetryingBotoClientWrapper(raw, retry_decorator)


@pytest.fixture
def bucket(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda _seconds: None)
    return site_bucket.SiteBucket(Module())


@pytest.mark.parametrize("code", ["Throttling", "SlowDown", "ServiceUnavailable"])
def test_a_throttled_listing_is_retried(bucket, code):
    stub = bucket.module.stubber
    stub.add_client_error("list_objects_v2", service_error_code=code, http_status_code=503)
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "index.html", "ETag": '"0cc175b9c0f1b6a831c399e269772661"', "Size": 1}]},
    )
    assert list(bucket.list_objects()) == ["index.html"]
    stub.assert_no_pending_responses()


def test_a_throttled_write_is_retried(bucket):
    stub = bucket.module.stubber
    stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_response("put_object", {"ETag": '"x"', "VersionId": "v2"})
    assert bucket.write_manifest("{}") == "v2"
    stub.assert_no_pending_responses()


def test_other_errors_are_not_retried(bucket):
    stub = bucket.module.stubber
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(Exception, match="AccessDenied"):
        bucket.write_manifest("{}")


def test_every_call_on_a_retrying_client_asks_for_retries():
    """Static half: in modules that build a client with a retry decorator, no client call omits aws_retry."""
    skip = {"get_paginator", "can_paginate", "get_waiter", "exceptions"}
    missing = []
    checked = 0
    for path in sorted((COLLECTION / "plugins").glob("module*/*.py")):
        text = path.read_text()
        if "retry_decorator=" not in text:
            continue
        checked += 1
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if name in {"client", "cf", "cfn", "s3", "elbv2", "ec2"} and node.func.attr not in skip:
                if not any(k.arg == "aws_retry" for k in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}")
    assert checked > 10, "no module with a retrying client found: has the collection moved?"
    assert missing == []


@pytest.mark.parametrize(
    "value", ["2026-12-02T10:48:09.123Z", "2026-12-02T10:48:09Z", "Wed, 02 Dec 2026 10:48:09 GMT", "1796208489"]
)
def test_the_fast_timestamp_parser_gives_what_botocore_gives(value):
    from botocore.utils import parse_timestamp

    assert site_bucket.parse_timestamp(value) == parse_timestamp(value)
    assert site_bucket.parse_timestamp(value).utcoffset() is not None


def test_the_site_client_parses_timestamps_with_the_fast_parser(bucket):
    factory = bucket.client.client._endpoint._response_parser_factory
    assert factory.create_parser("rest-xml")._timestamp_parser is site_bucket.parse_timestamp
