"""iam/: the deploying principal cannot make itself an administrator, and every document fits AWS' limits.

Which actions the deploy really calls is tests/integration/test_real_env.py (recorded on the emulator).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import botocore.session
import jinja2
import pytest
import yaml

from tests.iam_actions import iam_actions

ROOT = Path(__file__).resolve().parents[2]
# The longest names the guard and make init allow: the documents must fit AWS' size limit with them.
VARS = {
    "project_name": "p" * 28,
    "account_id": "123456789012",
    "aws_region": "ap-southeast-7",
    "site_bucket_name": "p" * 28 + "-site-123456789012",
    "artifacts_bucket_name": "p" * 28 + "-artifacts-123456789012",
    "web_release_bucket": "p" * 28 + "-artifacts-123456789012",
    "web_release_prefix": "releases/frontend/",
}
# group_vars/all.yml's names map, rendered for that project_name: the documents name what the deploy names.
VARS["cloudsite_names"] = {
    key: jinja2.Template(value).render(**VARS) if isinstance(value, str) else value
    for key, value in yaml.safe_load((ROOT / "group_vars/all.yml").read_text())["cloudsite_names"].items()
}
MANAGED_POLICY_LIMIT = 6144  # IAM: characters of a managed policy document, whitespace not counted


def render(name: str) -> dict:
    text = jinja2.Template((ROOT / "iam" / name).read_text(), undefined=jinja2.StrictUndefined).render(**VARS)
    return json.loads(text)


def statements(policy: dict) -> list[dict]:
    return [
        s | {"Action": s["Action"] if isinstance(s["Action"], list) else [s["Action"]]} for s in policy["Statement"]
    ]


@pytest.mark.parametrize(
    "name",
    [
        "deploy-policy.json.j2",
        "cloudformation-role-policy.json.j2",
        "boundary-policy.json.j2",
        "drift-policy.json.j2",
        "deploy-host-policy.json.j2",
        "web-instance-policy.json.j2",
    ],
)
def test_each_policy_renders_and_fits_the_managed_policy_size_limit(name):
    policy = render(name)
    assert policy["Version"] == "2012-10-17"
    assert len("".join(json.dumps(policy).split())) <= MANAGED_POLICY_LIMIT


def test_the_deployer_has_no_iam_write_but_passing_the_stack_role_to_cloudformation():
    iam = [(a, s) for s in statements(render("deploy-policy.json.j2")) for a in s["Action"] if a.startswith("iam:")]
    assert sorted(a for a, _ in iam) == ["iam:CreateServiceLinkedRole", "iam:PassRole"]
    for action, s in iam:
        assert s["Effect"] == "Allow" and "*" not in action
        if action == "iam:PassRole":
            assert s["Resource"] == f"arn:aws:iam::123456789012:role/{VARS['project_name']}-cloudformation"
            assert s["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
        else:
            assert s["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}
    # No service wildcard anywhere ("s3:*", "*").
    assert not [
        a for s in statements(render("deploy-policy.json.j2")) for a in s["Action"] if a.endswith(":*") or a == "*"
    ]


def test_the_deployer_may_pass_only_the_web_role_and_only_to_ec2():
    """deploy-host: the web Auto Scaling group's rights; IAM only to read and pass the web instance profile."""
    policy = statements(render("deploy-host-policy.json.j2"))
    iam = {a: s for s in policy for a in s["Action"] if a.startswith("iam:")}
    assert sorted(iam) == ["iam:CreateServiceLinkedRole", "iam:GetInstanceProfile", "iam:PassRole"]
    assert iam["iam:PassRole"]["Resource"] == f"arn:aws:iam::123456789012:role/{VARS['project_name']}-web"
    assert iam["iam:PassRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    assert iam["iam:CreateServiceLinkedRole"]["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}
    }
    writes = [s for s in policy if any(a.startswith("autoscaling:") and "Describe" not in a for a in s["Action"])]
    assert [s["Resource"] for s in writes] == [
        f"arn:aws:autoscaling:ap-southeast-7:123456789012:autoScalingGroup:*:autoScalingGroupName/{VARS['project_name']}-web"
    ]
    assert not [a for s in policy for a in s["Action"] if a.endswith(":*") or a == "*"]


def test_the_web_instance_reads_only_the_release_and_registers_only_in_its_target_group():
    policy = statements(render("web-instance-policy.json.j2"))
    grants = {a: s["Resource"] for s in policy for a in s["Action"]}
    assert grants == {
        "s3:GetObject": f"arn:aws:s3:::{VARS['web_release_bucket']}/releases/frontend/*",
        "elasticloadbalancing:DescribeTargetGroups": "*",
        "elasticloadbalancing:RegisterTargets": (
            f"arn:aws:elasticloadbalancing:ap-southeast-7:123456789012:targetgroup/{VARS['cloudsite_names']['target_group']}/*"
        ),
    }


def test_the_stack_role_creates_roles_only_with_the_boundary_and_passes_them_only_to_lambda():
    boundary = f"arn:aws:iam::123456789012:policy/{VARS['project_name']}-boundary"
    role_arn = f"arn:aws:iam::123456789012:role/{VARS['project_name']}-backend-*"
    policy = statements(render("cloudformation-role-policy.json.j2"))
    grants = {a: s for s in policy if s["Effect"] == "Allow" for a in s["Action"] if a.startswith("iam:")}
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"):
        assert grants[action]["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}
        assert grants[action]["Resource"] == role_arn
    assert grants["iam:PassRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    assert grants["iam:PassRole"]["Resource"] == role_arn
    assert all(s["Resource"] == role_arn for a, s in grants.items())
    denied = {a for s in policy if s["Effect"] == "Deny" for a in s["Action"]}
    assert {"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary", "iam:CreatePolicyVersion"} <= denied


def test_the_boundary_allows_no_iam_and_nothing_outside_the_functions_needs():
    actions = {a for s in statements(render("boundary-policy.json.j2")) for a in s["Action"]}
    assert not [a for a in actions if a.startswith(("iam:", "sts:")) or "*" in a]


def test_the_oidc_providers_template_is_cfn_lint_clean():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "iam" / "oidc-providers.yml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_drift_policy_only_reads_the_backend_stacks_and_their_resources():
    """make drift (issue 17): DetectStackDrift reads each resource with the caller's rights; nothing writes.
    make doctor (issue 12) reads the three quotas of what the deploy creates, by quota ARN."""
    policy = statements(render("drift-policy.json.j2"))
    actions = [a for s in policy for a in s["Action"]]
    verbs = ("Get", "List", "Describe", "Detect")
    assert all(a.split(":")[1].startswith(verbs) or a == "apigateway:GET" for a in actions), actions
    assert all(s["Effect"] == "Allow" and "*" not in s["Action"] for s in policy)
    project = VARS["project_name"]
    for s in policy:
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if resources == ["*"]:
            # The one action without resource-level permissions: it takes a detection id, not a stack.
            assert s["Action"] == ["cloudformation:DescribeStackDriftDetectionStatus"], s
            continue
        quota = ":servicequotas:"
        assert all(f"{project}-backend-" in r or "/restapis" in r or quota in r for r in resources), resources
        assert all(quota not in r for r in resources) or s["Action"] == ["servicequotas:GetServiceQuota"], s


def test_the_deployer_may_make_every_call_of_cloudwatch_metric_alarms():
    """Issue 14.8: the operations the module's source calls, named as IAM names them (tests/iam_actions.py),
    are granted on every resource by the deploy policy (alarms can be in any region)."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    by_method = {botocore.xform_name(op): op for op in model.operation_names}
    source = (
        ROOT
        / "collections"
        / "ansible_collections"
        / "cloudsite"
        / "aws"
        / "plugins"
        / "modules"
        / "cloudwatch_metric_alarms.py"
    ).read_text()
    calls = {
        by_method[n.func.attr]
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in by_method
    }
    assert calls == {"DescribeAlarms", "PutMetricAlarm", "DeleteAlarms"}
    grants = [
        (a, s["Resource"])
        for s in statements(render("deploy-policy.json.j2"))
        if s["Effect"] == "Allow"
        for a in s["Action"]
    ]
    for op in sorted(calls):
        for action in iam_actions({"service": "monitoring", "operation": op, "method": "POST"}):
            assert any(fnmatch.fnmatchcase(action, a) and r == "*" for a, r in grants), action
