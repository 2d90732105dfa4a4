"""playbooks/bootstrap-iam.yml against the private emulator: the roles, their trust and policies, converged."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import unquote

import pytest

from tests.conftest import RECAP, run_playbook

pytestmark = [pytest.mark.emulator]

EXTRA = {
    "iam_github_repository": "me/site",
    "iam_gitlab_project": "grp/site",
    "iam_environment": "production",
}


def bootstrap(moto_url: str, extra: dict) -> subprocess.CompletedProcess:
    return run_playbook(moto_url, "playbooks/bootstrap-iam.yml", "-e", json.dumps(extra), timeout=600)


def document(doc) -> dict:
    return json.loads(unquote(doc)) if isinstance(doc, str) else doc


def test_bootstrap_creates_the_scoped_roles_and_converges(moto_reset, aws_client):
    first = bootstrap(moto_reset, EXTRA)
    assert first.returncode == 0, first.stdout[-4000:]
    again = bootstrap(moto_reset, EXTRA)
    assert again.returncode == 0 and RECAP.search(again.stdout).group(2) == "0", again.stdout[-3000:]

    iam = aws_client("iam")
    trust = document(iam.get_role(RoleName="cloudsite-deploy")["Role"]["AssumeRolePolicyDocument"])
    subjects = {
        s["Principal"]["Federated"].rsplit("/", 1)[1]: {
            **s["Condition"].get("StringEquals", {}),
            **s["Condition"].get("StringLike", {}),
        }
        for s in trust["Statement"]
    }
    # GitHub: this repository AND this environment; GitLab: this project and production's ref (protected tags).
    assert subjects["token.actions.githubusercontent.com"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:me/site:environment:production",
    }
    assert subjects["gitlab.com"] == {
        "gitlab.com:aud": "sts.amazonaws.com",
        "gitlab.com:sub": "project_path:grp/site:ref_type:tag:ref:release-*",
    }
    attached = iam.list_attached_role_policies(RoleName="cloudsite-deploy")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == ["cloudsite-deploy", "cloudsite-deploy-host", "cloudsite-drift"]
    # The web instances' role (web_host_mode asg): EC2 only, in the instance profile of the same name.
    web_trust = document(iam.get_role(RoleName="cloudsite-web")["Role"]["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in web_trust["Statement"]] == [{"Service": "ec2.amazonaws.com"}]
    profile = iam.get_instance_profile(InstanceProfileName="cloudsite-web")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["cloudsite-web"]
    cfn_trust = document(iam.get_role(RoleName="cloudsite-cloudformation")["Role"]["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in cfn_trust["Statement"]] == [{"Service": "cloudformation.amazonaws.com"}]
    attached = iam.list_attached_role_policies(RoleName="cloudsite-cloudformation")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["cloudsite-cloudformation-role"]
    policies = {p["PolicyName"]: p for p in iam.list_policies(Scope="Local")["Policies"]}
    assert {"cloudsite-boundary", "cloudsite-cloudformation-role", "cloudsite-deploy"} <= policies.keys()
    deploy = iam.get_policy_version(PolicyArn=policies["cloudsite-deploy"]["Arn"], VersionId="v1")
    statements = document(deploy["PolicyVersion"]["Document"])["Statement"]
    pass_role = [s for s in statements if s.get("Sid") == "PassStackRole"]
    assert pass_role[0]["Resource"] == "arn:aws:iam::123456789012:role/cloudsite-cloudformation"


def test_bootstrap_without_anyone_to_trust_fails_naming_the_variables(moto_reset, aws_client):
    proc = bootstrap(moto_reset, {})
    assert proc.returncode != 0
    assert "iam_github_repository" in proc.stdout and "iam_trusted_principals" in proc.stdout
    assert aws_client("iam").list_roles()["Roles"] == []
