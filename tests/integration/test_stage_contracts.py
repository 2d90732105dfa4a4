"""Facts one stage publishes on the controller reach the next stage's roles on the web hosts."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, ansible_env

pytestmark = [pytest.mark.emulator]


def frontend_role_vars(playbook: str) -> dict:
    """The vars the stage playbook passes to the frontend role on the web hosts."""
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    (role,) = [r for play in plays for r in play.get("roles", []) if r.get("role") == "frontend"]
    return role["vars"]


@pytest.mark.parametrize("playbook", ["frontend.yml", "rollback.yml"])
def test_the_stage_playbooks_pass_the_target_group_of_the_deployment_state(playbook):
    expression = frontend_role_vars(playbook)["frontend_target_group_arn"]
    assert expression == "{{ hostvars['localhost'].cloudsite_state.target_group_arn }}"


def test_frontend_on_a_web_host_uses_the_alb_roles_target_group_arn(moto_reset, aws_client, tmp_path):
    # The group's name is not the one the frontend would look up: only the published ARN can find it.
    vpc = aws_client("ec2").create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    arn = aws_client("elbv2").create_target_group(
        Name="published-by-alb", Protocol="HTTP", Port=8081, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"localhost": {"ansible_connection": "local"}},
                    "children": {"web": {"hosts": {"web-1": {"ansible_connection": "local"}}}},
                    "vars": {"ansible_python_interpreter": str(ROOT / ".venv/bin/python")},
                }
            }
        )
    )
    playbook = tmp_path / "contract.yml"
    conn = {"region": "us-east-1", "endpoint_url": moto_reset, "access_key": "testing", "secret_key": "testing"}
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "Publish the target group as roles/deploy_state and the alb role do",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Set the fact",
                            "ansible.builtin.set_fact": {"cloudsite_state": {"target_group_arn": arn}},
                        },
                        # ec2_host refreshes the inventory between the two in the full run.
                        {"name": "Refresh the inventory", "ansible.builtin.meta": "refresh_inventory"},
                    ],
                },
                {
                    "name": "Resolve it on the web host as the frontend role does",
                    "hosts": "web",
                    "gather_facts": False,
                    "module_defaults": {"group/cloudsite.aws.aws": conn},
                    "vars": {
                        "frontend_target_group_name": "cloudsite-frontend",
                        "frontend_target_group_arn": frontend_role_vars("frontend.yml")["frontend_target_group_arn"],
                    },
                    "tasks": [
                        {
                            "name": "Resolve the target group",
                            "ansible.builtin.include_role": {"name": "frontend", "tasks_from": "target_group.yml"},
                        },
                        {"name": "Show it", "ansible.builtin.debug": {"var": "__frontend_tg_arn"}},
                    ],
                },
            ]
        )
    )
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=ROOT,
        env=ansible_env(moto_reset) | {"ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert arn in output
