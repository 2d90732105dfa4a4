"""app/backend/template.yaml: offline SAM transform, least privilege, the stage contract, cfn-lint clean."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "app" / "backend" / "template.yaml"
PARAMS = {
    "Stage": "test",
    "AllowedOrigin": "https://site.example",
    "SenderEmail": "a@example.com",
    "RecipientEmail": "b@example.com",
}


class StaticPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict:
    # Plain YAML (long-form intrinsics): loadable by yaml.safe_load, Ansible's from_yaml and ansible-lint.
    return yaml.safe_load(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def transformed(source) -> dict:
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(source)
    for name in ("VisitorCounterFunction", "ContactFunction"):
        tpl["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": "artifacts", "Key": f"{name}.zip"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return transform(tpl, PARAMS, StaticPolicies())


def of_type(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_parameters_and_outputs_form_the_stage_contract(source):
    params = source["Parameters"]
    assert params["Stage"]["AllowedValues"] == ["prod", "test"]
    assert {"AllowedOrigin", "SenderEmail", "RecipientEmail"} <= params.keys()
    assert {"ApiUrl", "TableName", "CounterFunctionName", "ContactFunctionName"} <= source["Outputs"].keys()
    assert source["Transform"] == "AWS::Serverless-2016-10-31"


def test_physical_names_derive_from_the_stack_name(source):
    res = source["Resources"]
    for logical, prop in (
        ("CounterTable", "TableName"),
        ("Api", "Name"),
        ("VisitorCounterFunction", "FunctionName"),
        ("ContactFunction", "FunctionName"),
    ):
        assert "${AWS::StackName}" in res[logical]["Properties"][prop]["Fn::Sub"], logical


def test_transform_runs_offline_and_yields_plain_cloudformation(transformed):
    kinds = {v["Type"] for v in transformed["Resources"].values()}
    assert not any(k.startswith("AWS::Serverless::") for k in kinds)
    assert {"AWS::ApiGateway::RestApi", "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::IAM::Role"} <= kinds
    assert "Transform" not in transformed


def test_table_is_on_demand_with_pitr_and_sse(transformed):
    (table,) = of_type(transformed, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def inline_statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def statement(role: dict, sid: str) -> dict:
    (stmt,) = [s for s in inline_statements(role) if s.get("Sid") == sid]
    return stmt


def test_counter_may_only_get_put_and_update_its_own_items(transformed):
    role = transformed["Resources"]["VisitorCounterRole"]
    stmt = statement(role, "CounterItemsOnly")
    assert sorted(stmt["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert stmt["Resource"] == {"Fn::GetAtt": ["CounterTable", "Arn"]}
    # Issue 13 point 8: the statement named for the counter item covered the whole table.
    assert stmt["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["visitors", "smoke", "visit#*", "salt#*"]}
    }


def test_contact_may_only_send_from_the_sender_to_the_recipient(transformed):
    role = transformed["Resources"]["ContactRole"]
    stmt = statement(role, "SendFromTheSenderToTheRecipientOnly")
    assert stmt["Action"] == "ses:SendEmail"
    resources = json.dumps(stmt["Resource"])
    assert "identity/${SenderEmail}" in resources and "*" not in resources
    assert stmt["Condition"]["StringEquals"] == {"ses:FromAddress": {"Ref": "SenderEmail"}}
    # Issue 13 point 8: no recipient condition before.
    assert stmt["Condition"]["ForAllValues:StringEquals"] == {"ses:Recipients": [{"Ref": "RecipientEmail"}]}
    assert stmt["Condition"]["Null"] == {"ses:Recipients": "false"}
    guard = statement(role, "GuardItemsOnly")
    assert guard["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["contact#*", "contact-day#*", "salt#*"]}
    }
    for role in of_type(transformed, "AWS::IAM::Role").values():
        for s in inline_statements(role):
            assert "*" not in json.dumps(s["Action"]), s


def test_functions_write_logs_to_their_own_group_only(transformed):
    """Issue 13 point 8: AWSLambdaBasicExecutionRole granted logs on every resource."""
    res = transformed["Resources"]
    for function, role, group in (
        ("VisitorCounterFunction", "VisitorCounterRole", "VisitorCounterLogGroup"),
        ("ContactFunction", "ContactRole", "ContactLogGroup"),
    ):
        assert res[function]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        assert "ManagedPolicyArns" not in res[role]["Properties"]
        logs = statement(res[role], "OwnLogGroupOnly")
        assert sorted(logs["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert logs["Resource"] == {"Fn::Sub": f"${{{group}.Arn}}"}
        for s in inline_statements(res[role]):
            if s["Resource"] == "*":
                assert all(a.startswith("xray:") for a in s["Action"]), s  # X-Ray has no resource-level ARNs
    assert of_type(transformed, "AWS::IAM::Role").keys() == {"VisitorCounterRole", "ContactRole"}


def test_guard_items_expire_by_ttl(transformed):
    table = transformed["Resources"]["CounterTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}


def test_api_is_throttled_and_cors_is_limited_to_the_origin(transformed):
    (stage,) = of_type(transformed, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["MethodSettings"][0]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    body = json.dumps(api["Properties"]["Body"])
    assert "AllowedOrigin" not in body and "'*'" not in body
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths["/count"]) == {"get", "post", "options"}
    assert set(paths["/contact"]) == {"post", "options"}


def transform_with(source: dict, params: dict) -> dict:
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(source)
    for name in ("VisitorCounterFunction", "ContactFunction"):
        tpl["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": "artifacts", "Key": f"{name}.zip"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return transform(tpl, params, StaticPolicies())


def test_a_change_of_origins_reaches_the_preflight(source):
    """Issue 12 point 3: SAM's Cors preflight lived in the API body behind a deployment id that hashes the
    unresolved Fn::Sub, so a parameter-only origin change never redeployed the stage. The preflight is now
    the functions' own (aws_proxy, like GET/POST), reading the origins from their environment, which
    CloudFormation updates in place on a parameter change; the API body carries no origin at all."""
    lists = ["https://a.example", "https://b.example,https://www.b.example", "https://c.example"]
    results = [transform_with(source, {**PARAMS, "AllowedOrigin": origins}) for origins in lists]
    bodies = set()
    for tpl in results:
        (api,) = of_type(tpl, "AWS::ApiGateway::RestApi").values()
        body = api["Properties"]["Body"]
        bodies.add(json.dumps(body, sort_keys=True))
        for path, function in (("/count", "VisitorCounterFunction"), ("/contact", "ContactFunction")):
            integration = body["paths"][path]["options"]["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy", f"OPTIONS {path} is a {integration['type']} integration"
            assert function in json.dumps(integration["uri"])
            env = tpl["Resources"][function]["Properties"]["Environment"]["Variables"]
            assert env["ALLOWED_ORIGIN"] == {"Ref": "AllowedOrigin"}
            perms = [
                r
                for r in of_type(tpl, "AWS::Lambda::Permission").values()
                if r["Properties"]["FunctionName"] == {"Ref": function}
            ]
            assert any(f"{path}" in json.dumps(r["Properties"]["SourceArn"]) for r in perms)
    # The origins are not in the API at all: nothing there can be left stale by an old deployment.
    assert len(bodies) == 1 and "a.example" not in next(iter(bodies))


def test_allowed_origin_parameter_takes_the_list_of_site_names(source):
    import re

    pattern = re.compile(source["Parameters"]["AllowedOrigin"]["AllowedPattern"])
    assert pattern.match("https://example.com,https://www.example.com,https://d111abcdef8.cloudfront.net")
    assert pattern.match("https://d111abcdef8.cloudfront.net")
    assert not pattern.match("https://example.com/,https://www.example.com")
    assert not pattern.match("https://example.com, https://www.example.com")


def test_cfn_lint_is_clean():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_contact_route_has_its_own_low_throttle(source, transformed):
    """Issue 13 point 1: stage limits apply per method, so POST /contact alone admitted 10 rps (~860,000/day).

    API Gateway throttling cannot run on moto: this checks the method setting the stage deploys with.
    """
    (stage,) = of_type(transformed, "AWS::ApiGateway::Stage").values()
    (contact,) = [m for m in stage["Properties"]["MethodSettings"] if m["ResourcePath"] == "/~1contact"]
    assert contact["HttpMethod"] == "POST"
    assert contact["ThrottlingRateLimit"] == {"Ref": "ContactRateLimit"}
    assert contact["ThrottlingBurstLimit"] == {"Ref": "ContactBurstLimit"}
    params = source["Parameters"]
    assert params["ContactRateLimit"]["Default"] < params["ThrottlingRateLimit"]["Default"]
    assert params["ContactBurstLimit"]["Default"] < params["ThrottlingBurstLimit"]["Default"]
    assert params["ContactDailyLimit"]["Default"] <= 50 and params["ContactDailyLimit"]["MaxValue"] <= 1000
    env = transformed["Resources"]["ContactFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DAILY_LIMIT"] == {"Ref": "ContactDailyLimit"}
    assert env["COOLDOWN_SECONDS"] == {"Ref": "ContactCooldownSeconds"}


def test_api_gateway_validates_the_contact_body_against_a_model(transformed):
    (api,) = of_type(transformed, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    post = body["paths"]["/contact"]["post"]
    assert post["requestBody"]["required"] is True
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = body["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "email", "message"}
    assert schema["properties"]["message"]["maxLength"] == 2000
    assert schema["properties"]["website"]["maxLength"] == 0
    validator = body["x-amazon-apigateway-request-validators"][post["x-amazon-apigateway-request-validator"]]
    assert validator["validateRequestBody"] is True


@pytest.mark.parametrize("boundary", ["arn:aws:iam::123456789012:policy/cloudsite-boundary", ""])
def test_every_function_role_carries_the_permissions_boundary_when_given(source, boundary):
    """The CloudFormation service role may only create roles with the boundary (iam/)."""
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(source)
    for name in ("VisitorCounterFunction", "ContactFunction"):
        tpl["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": "artifacts", "Key": f"{name}.zip"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        out = transform(tpl, PARAMS | {"PermissionsBoundaryArn": boundary}, StaticPolicies())
    roles = of_type(out, "AWS::IAM::Role")
    assert len(roles) == 2
    for role in roles.values():
        assert role["Properties"]["PermissionsBoundary"] == {
            "Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]
        }
    assert out["Conditions"]["HasPermissionsBoundary"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PermissionsBoundaryArn"}, ""]}]
    }
