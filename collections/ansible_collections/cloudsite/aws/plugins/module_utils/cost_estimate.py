"""Monthly cost estimate of the deployment from a price sheet (cost/price-sheet.yml): pure functions.

``estimate(sheet, deployment)`` returns one line per resource (always-on or usage-based, with the
quantity and unit price it used), the totals, and the biggest levers. ``deployment`` describes what the
deploy declares (instance type and count, volume, ALB zones, WAF rules, zone, stacks, alarms); the usage
assumed comes from the sheet's ``usage`` block, overridden by ``deployment["usage"]``.
"""

from __future__ import annotations

from typing import Any


class PriceSheetError(ValueError):
    """The price sheet lacks a price the deployment needs."""


def _price(sheet: dict[str, Any], name: str, key: str | None = None) -> float:
    prices = sheet.get("prices", {})
    if name not in prices:
        raise PriceSheetError(f"price sheet has no price '{name}'")
    value = prices[name]
    if key is not None:
        if not isinstance(value, dict) or key not in value:
            raise PriceSheetError(f"price sheet has no price '{name}' for '{key}' (add it or run make cost-refresh)")
        value = value[key]
    return float(value)


def estimate(sheet: dict[str, Any], deployment: dict[str, Any]) -> dict[str, Any]:
    hours = float(sheet.get("meta", {}).get("hours_per_month", 730))
    usage = dict(sheet.get("usage", {}))
    usage.update(deployment.get("usage") or {})
    p = lambda name, key=None: _price(sheet, name, key)  # noqa: E731
    lines: list[dict[str, Any]] = []

    def add(resource: str, kind: str, quantity: float, unit: str, price: float, group: str) -> None:
        lines.append(
            {
                "resource": resource,
                "kind": kind,
                "quantity": round(quantity, 6),
                "unit": unit,
                "unit_price": price,
                "monthly": round(quantity * price, 4),
                "group": group,
            }
        )

    count = int(deployment.get("ec2_count", 1))
    zones = int(deployment.get("alb_zones", 2))
    # Always on: billed by the hour or the month whatever the traffic.
    add("ALB hours", "always-on", hours, "ALB-hour", p("alb_hour"), "alb")
    add(f"ALB public IPv4 ({zones} AZs)", "always-on", zones * hours, "IPv4-hour", p("public_ipv4_hour"), "alb")
    itype = deployment.get("ec2_instance_type", "t3.micro")
    add(f"EC2 {count} x {itype}", "always-on", count * hours, "instance-hour", p("ec2_hour", itype), "ec2")
    add(f"EC2 public IPv4 ({count})", "always-on", count * hours, "IPv4-hour", p("public_ipv4_hour"), "ec2")
    vtype = deployment.get("ec2_volume_type", "gp3")
    volume = float(deployment.get("ec2_volume_gb", 8))
    add(
        f"EBS {vtype} {count} x {volume:g} GB", "always-on", count * volume, "GB-month", p("ebs_gb_month", vtype), "ec2"
    )
    if deployment.get("waf_enabled", True):
        add("WAF web ACL", "always-on", 1, "ACL-month", p("waf_acl_month"), "waf")
        rules = int(deployment.get("waf_rules", 2))
        add(f"WAF rules ({rules})", "always-on", rules, "rule-month", p("waf_rule_month"), "waf")
    if deployment.get("route53_zone", False):
        add("Route 53 hosted zone", "always-on", 1, "zone-month", p("route53_zone_month"), "dns")
    alarms = int(deployment.get("cloudwatch_alarms", 0))
    if alarms:
        add(
            f"CloudWatch alarms ({alarms})",
            "always-on",
            alarms,
            "alarm-month",
            p("cloudwatch_alarm_month"),
            "monitoring",
        )

    # Usage-based: the sheet's assumptions (shown with the line).
    requests = float(usage["page_views_month"]) * float(usage["requests_per_page_view"])
    add(
        f"ALB LCUs (average {usage['alb_lcu_average']})",
        "usage",
        float(usage["alb_lcu_average"]) * hours,
        "LCU-hour",
        p("alb_lcu_hour"),
        "alb",
    )
    paid_gb = max(0.0, float(usage["gb_out_month"]) - p("cloudfront_free_gb"))
    paid_mreq = max(0.0, requests / 1e6 - p("cloudfront_free_million_requests"))
    add(
        f"CloudFront data out ({usage['gb_out_month']} GB, free tier 1 TB)",
        "usage",
        paid_gb,
        "GB",
        p("cloudfront_gb"),
        "cdn",
    )
    add(
        f"CloudFront requests ({requests:,.0f}, free tier 10 M)",
        "usage",
        paid_mreq,
        "million requests",
        p("cloudfront_million_requests"),
        "cdn",
    )
    if deployment.get("waf_enabled", True):
        add("WAF requests", "usage", requests / 1e6, "million requests", p("waf_million_requests"), "waf")
    stacks = int(deployment.get("backend_stacks", 1))
    api = float(usage["api_requests_month"]) * stacks
    contact = float(usage["contact_messages_month"]) * stacks
    add(
        f"API Gateway ({api:,.0f} requests)",
        "usage",
        (api + contact) / 1e6,
        "million requests",
        p("apigw_million_requests"),
        "backend",
    )
    add("Lambda requests", "usage", (api + contact) / 1e6, "million requests", p("lambda_million_requests"), "backend")
    gb_seconds = (
        (api + contact)
        * float(usage["lambda_ms_average"])
        / 1000
        * float(deployment.get("lambda_memory_mb", 128))
        / 1024
    )
    add("Lambda compute", "usage", gb_seconds, "GB-second", p("lambda_gb_second"), "backend")
    add(
        "DynamoDB on-demand writes (counter)",
        "usage",
        api / 1e6,
        "million WRU",
        p("dynamodb_million_writes"),
        "backend",
    )
    add("DynamoDB on-demand reads", "usage", api / 1e6, "million RRU", p("dynamodb_million_reads"), "backend")
    add(
        f"SES ({contact:,.0f} messages)",
        "usage",
        contact / 1000,
        "thousand emails",
        p("ses_thousand_emails"),
        "backend",
    )
    add("S3 site storage", "usage", float(usage["site_storage_gb"]), "GB-month", p("s3_gb_month"), "s3")
    if deployment.get("s3_versioning", True):
        add(
            "S3 noncurrent versions", "usage", float(usage["noncurrent_storage_gb"]), "GB-month", p("s3_gb_month"), "s3"
        )
    add(
        "CloudWatch Logs ingest",
        "usage",
        float(usage["log_ingest_gb_month"]) * stacks,
        "GB",
        p("cloudwatch_logs_ingest_gb"),
        "monitoring",
    )
    add(
        "CloudWatch Logs storage",
        "usage",
        float(usage["log_storage_gb"]) * stacks,
        "GB-month",
        p("cloudwatch_logs_storage_gb_month"),
        "monitoring",
    )

    always = round(sum(line["monthly"] for line in lines if line["kind"] == "always-on"), 2)
    variable = round(sum(line["monthly"] for line in lines if line["kind"] == "usage"), 2)
    total = round(always + variable, 2)
    return {
        "lines": lines,
        "always_on": always,
        "usage_based": variable,
        "total": total,
        "levers": levers(lines, total),
        "usage": usage,
        "sheet_date": str(sheet.get("meta", {}).get("date", "")),
        "currency": sheet.get("meta", {}).get("currency", "USD"),
    }


LEVER_ADVICE = {
    "alb": "the ALB and its public addresses: CloudFront in front of S3 alone (or an instance origin) removes them",
    "ec2": "the EC2 host: a smaller or Graviton (t4g) type, or no host at all with the S3 origin",
    "waf": "the WAF: cloudfront_waf_enabled=false, or fewer rules",
    "backend": "the backend: API Gateway HTTP API instead of REST, fewer stacks (backend_deploy_test_stack)",
    "monitoring": "CloudWatch: shorter log retention, fewer alarms",
}


def levers(lines: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """Groups by monthly cost, biggest first, with their share of the total and what would cut them."""
    groups: dict[str, float] = {}
    for line in lines:
        groups[line["group"]] = groups.get(line["group"], 0.0) + line["monthly"]
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    return [
        {
            "group": group,
            "monthly": round(amount, 2),
            "share": round(amount / total, 3) if total else 0.0,
            "advice": LEVER_ADVICE.get(group, ""),
        }
        for group, amount in ranked
        if amount > 0
    ][:3]


def table(result: dict[str, Any]) -> list[str]:
    """The estimate as text lines (make cost, the summary)."""
    out = [f"{'resource':46} {'kind':9} {'quantity':>10} {'unit':16} {'monthly':>8}"]
    for line in result["lines"]:
        out.append(
            f"{line['resource'][:46]:46} {line['kind']:9} {line['quantity']:>10,.2f} {line['unit'][:16]:16}"
            f" {line['monthly']:>8.2f}"
        )
    out.append(
        f"always-on {result['always_on']:.2f} + usage-based {result['usage_based']:.2f} = "
        f"{result['total']:.2f} {result['currency']}/month (price sheet of {result['sheet_date']})"
    )
    for lever in result["levers"]:
        out.append(f"lever: {lever['group']} {lever['monthly']:.2f} ({lever['share']:.0%}): {lever['advice']}")
    return out
