"""The pure parts of the rehearsal's instance boot (local.ec2_boot, local.instance_env): the IMDSv2 token
rule, the credentials document, the /etc/hosts lines and the endpoint certificate's names."""

from __future__ import annotations

import base64
import datetime
import json

from cryptography import x509

from local import ec2_boot, instance_env

META = {"instance_id": "i-0123456789abcdef0", "region": "eu-west-1", "role": "cloudsite-web", "account_id": "123"}


def ask(method, path, headers=None, tokens=None, now=1000.0):
    tokens = {} if tokens is None else tokens
    return instance_env.answer(method, path, headers or {}, META, tokens, now)


def test_a_get_without_a_token_is_refused_as_with_http_tokens_required():
    assert ask("GET", "/latest/meta-data/instance-id") == (401, "")
    assert ask("GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "made-up"}) == (401, "")


def test_a_put_token_opens_the_metadata_until_it_expires():
    tokens: dict[str, float] = {}
    status, token = ask("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, tokens)
    assert status == 200 and token
    header = {"x-aws-ec2-metadata-token": token}  # header names are case-insensitive
    assert ask("GET", "/latest/meta-data/instance-id", header, tokens) == (200, META["instance_id"])
    assert ask("GET", "/latest/meta-data/placement/region", header, tokens) == (200, "eu-west-1")
    assert ask("GET", "/latest/meta-data/instance-id", header, tokens, now=1061.0)[0] == 401


def test_a_token_needs_a_put_and_a_valid_ttl():
    assert ask("GET", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 405
    assert ask("PUT", "/latest/api/token")[0] == 400
    assert ask("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21601"})[0] == 400


def test_role_credentials_and_identity_document_as_ec2_returns_them():
    tokens: dict[str, float] = {}
    _, token = ask("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"}, tokens)
    header = {"X-aws-ec2-metadata-token": token}
    assert ask("GET", "/latest/meta-data/iam/security-credentials/", header, tokens) == (200, "cloudsite-web")
    status, body = ask("GET", "/latest/meta-data/iam/security-credentials/cloudsite-web", header, tokens)
    creds = json.loads(body)
    assert status == 200 and creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
    assert {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "LastUpdated"} <= set(creds)
    expires = datetime.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    assert expires.timestamp() > 1000.0 + 3600
    status, body = ask("GET", "/latest/dynamic/instance-identity/document", header, tokens)
    assert status == 200 and json.loads(body)["instanceId"] == META["instance_id"]
    assert ask("GET", "/latest/meta-data/nothing-here", header, tokens)[0] == 404


def test_hosts_lines_send_endpoints_and_each_buckets_virtual_hosted_names_to_loopback():
    lines = ec2_boot.hosts_lines("us-east-1", ["cloudsite-artifacts"])
    names = {line.split()[1] for line in lines}
    assert all(line.startswith("127.0.0.1 ") for line in lines)
    assert {
        "s3.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "cloudsite-artifacts.s3.amazonaws.com",
        "cloudsite-artifacts.s3.us-east-1.amazonaws.com",
        "elasticloadbalancing.us-east-1.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
        "ec2.us-east-1.amazonaws.com",
    } <= names


def test_the_endpoint_certificate_covers_every_name_the_hosts_file_sends_to_it(tmp_path):
    ca, cert, _ = ec2_boot.ensure_certificates(tmp_path, "eu-west-1")
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    for line in ec2_boot.hosts_lines("eu-west-1", ["cloudsite-artifacts"]):
        name = line.split()[1]
        assert name in sans or "*." + name.split(".", 1)[1] in sans, name
    assert leaf.issuer == x509.load_pem_x509_certificate(ca.read_bytes()).subject
    # Generated once: a second call keeps the CA stand-ins already trust.
    assert ec2_boot.ensure_certificates(tmp_path, "eu-west-1")[0].read_bytes() == ca.read_bytes()


def test_user_data_is_decoded_from_what_moto_keeps():
    script = "#!/bin/bash\necho hi\n"
    encoded = base64.b64encode(script.encode()).decode()
    assert ec2_boot.decode_user_data(encoded) == script
    assert ec2_boot.decode_user_data(None) == ""
