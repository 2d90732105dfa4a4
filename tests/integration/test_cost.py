"""Cost estimate (`make cost`, playbooks/cost.yml) and the budget guard, with real ansible-playbook runs.

The estimate of the local deploy equals the figure computed here by hand from cost/price-sheet.yml;
a bigger instance type and the WAF turned off move it by exactly the sheet's amounts; a budget below
the estimate stops a deploy in the guard, before any AWS resource exists.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, ansible_env

pytestmark = [pytest.mark.emulator]
SHEET = yaml.safe_load((ROOT / "cost" / "price-sheet.yml").read_text())
P, U, H = SHEET["prices"], SHEET["usage"], SHEET["meta"]["hours_per_month"]


def estimate(moto_url: str, tmp_path, *extra: str) -> dict:
    report = tmp_path / f"cost-{len(list(tmp_path.iterdir()))}.json"
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/cost.yml", "-e", f"cost_report_file={report}", *extra],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads(report.read_text())


def hand_computed_local() -> tuple[float, float]:
    """The local inventory: 1 x t3.micro, 8 GB gp3, ALB in 2 AZs, WAF with 2 rules, no zone, 2 stacks."""
    always = (
        P["alb_hour"] * H
        + P["public_ipv4_hour"] * 2 * H
        + P["ec2_hour"]["t3.micro"] * H
        + P["public_ipv4_hour"] * H
        + P["ebs_gb_month"]["gp3"] * 8
        + P["waf_acl_month"]
        + P["waf_rule_month"] * 2
    )
    requests = U["page_views_month"] * U["requests_per_page_view"]
    calls = (U["api_requests_month"] + U["contact_messages_month"]) * 2
    usage = (
        P["alb_lcu_hour"] * U["alb_lcu_average"] * H
        + P["waf_million_requests"] * requests / 1e6
        + P["apigw_million_requests"] * calls / 1e6
        + P["lambda_million_requests"] * calls / 1e6
        + P["lambda_gb_second"] * calls * U["lambda_ms_average"] / 1000 * 128 / 1024
        + P["dynamodb_million_writes"] * U["api_requests_month"] * 2 / 1e6
        + P["dynamodb_million_reads"] * U["api_requests_month"] * 2 / 1e6
        + P["ses_thousand_emails"] * U["contact_messages_month"] * 2 / 1000
        + P["s3_gb_month"] * (U["site_storage_gb"] + U["noncurrent_storage_gb"])
        + P["cloudwatch_logs_ingest_gb"] * U["log_ingest_gb_month"] * 2
        + P["cloudwatch_logs_storage_gb_month"] * U["log_storage_gb"] * 2
    )  # CloudFront: inside the always-free tier (5 GB, 300 k requests)
    return always, usage


def test_local_estimate_matches_the_sheet_and_moves_by_the_sheets_amounts(moto_url, tmp_path):
    base = estimate(moto_url, tmp_path)
    always, usage = hand_computed_local()
    assert base["always_on"] == pytest.approx(always, abs=0.01)
    assert base["usage_based"] == pytest.approx(usage, abs=0.01)
    assert base["total"] == pytest.approx(always + usage, abs=0.01)
    # The biggest lever is the ALB with its addresses: more than half of the bill.
    assert base["levers"][0]["group"] == "alb" and base["levers"][0]["share"] > 0.5

    bigger = estimate(moto_url, tmp_path, "-e", "ec2_host_instance_type=t3.small")
    delta = (P["ec2_hour"]["t3.small"] - P["ec2_hour"]["t3.micro"]) * H
    assert bigger["total"] - base["total"] == pytest.approx(delta, abs=0.01)

    no_waf = estimate(moto_url, tmp_path, "-e", "cloudfront_waf_enabled=false")
    waf = P["waf_acl_month"] + 2 * P["waf_rule_month"] + P["waf_million_requests"] * 300000 / 1e6
    assert base["total"] - no_waf["total"] == pytest.approx(waf, abs=0.01)
    assert not any(line["resource"].startswith("WAF") for line in no_waf["lines"])


def test_unknown_instance_type_is_a_clear_error(moto_url, tmp_path):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/cost.yml", "-e", "ec2_host_instance_type=x9.huge"],
        cwd=ROOT,
        env=ansible_env(moto_url),
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "price sheet has no price 'ec2_hour' for 'x9.huge'" in proc.stdout + proc.stderr


def test_budget_guard_stops_the_deploy_before_any_aws_change(moto_reset, aws_client):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "playbooks/infra.yml", "-e", "cost_budget_usd=20"],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "cost_budget_usd is 20 but the monthly estimate is" in out
    assert "TASK [guard : Check the monthly cost estimate against cost_budget_usd]" in out
    # Stopped in the guard: no lock table, no network.
    assert aws_client("dynamodb").list_tables()["TableNames"] == []
    assert [v for v in aws_client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
    # A budget above the estimate lets the guard pass (a tag that selects no stage task).
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "playbooks/infra.yml",
            "-e",
            "cost_budget_usd=100",
            "--tags",
            "none",
        ],
        cwd=ROOT,
        env=ansible_env(moto_reset),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
