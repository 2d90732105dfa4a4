"""`make cost-refresh`: refresh cost/price-sheet.yml from the AWS Price List API (pricing:GetProducts).

Needs AWS credentials allowed pricing:GetProducts (the API answers in us-east-1 only). Rewrites the
prices it finds (the query table below), keeps the others, sets meta.date, and prints what changed.
Offline runs keep using the sheet as committed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import yaml

SHEET = Path(__file__).resolve().parent / "price-sheet.yml"
LOCATION = {"us-east-1": "US East (N. Virginia)"}

# sheet key (and sub-key) -> (service code, filters). Filters are TERM_MATCH on the product attributes.
QUERIES: dict[tuple[str, str | None], tuple[str, dict[str, str]]] = {
    ("alb_hour", None): ("AWSELB", {"productFamily": "Load Balancer-Application", "usagetype": "LoadBalancerUsage"}),
    ("alb_lcu_hour", None): ("AWSELB", {"productFamily": "Load Balancer-Application", "usagetype": "LCUUsage"}),
    ("public_ipv4_hour", None): (
        "AmazonVPC",
        {"group": "VPCPublicIPv4Address", "usagetype": "PublicIPv4:InUseAddress"},
    ),
    ("waf_acl_month", None): ("awswaf", {"usagetype": "USE1-WebACLV2"}),
    ("waf_rule_month", None): ("awswaf", {"usagetype": "USE1-RuleV2"}),
    ("route53_zone_month", None): ("AmazonRoute53", {"usagetype": "HostedZone"}),
}
EC2_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def on_demand_usd(price_item: dict[str, Any]) -> float:
    """The first non-zero on-demand USD price of one Price List product (the JSON string GetProducts returns)."""
    for term in price_item.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = float(dimension.get("pricePerUnit", {}).get("USD", "0") or 0)
            if usd > 0:
                return usd
    raise ValueError(f"no on-demand USD price in product {price_item.get('product', {}).get('sku', '?')}")


def query(client: Any, service: str, filters: dict[str, str], region: str) -> float:
    terms = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()]
    if service not in ("awswaf", "AmazonRoute53"):
        terms.append({"Type": "TERM_MATCH", "Field": "location", "Value": LOCATION[region]})
    items = client.get_products(ServiceCode=service, Filters=terms, MaxResults=10)["PriceList"]
    if not items:
        raise LookupError(f"no product for {service} {filters}")
    return on_demand_usd(json.loads(items[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", type=Path, default=SHEET)
    parser.add_argument("--dry-run", action="store_true", help="print the changes, do not write the sheet")
    args = parser.parse_args(argv)
    import boto3

    sheet = yaml.safe_load(args.sheet.read_text())
    region = sheet["meta"]["region"]
    if region not in LOCATION:
        print(f"error: no Price List location for region {region}", file=sys.stderr)
        return 1
    client = boto3.client("pricing", region_name="us-east-1")
    prices = sheet["prices"]
    changes = []
    for (key, _sub), (service, filters) in QUERIES.items():
        try:
            value = query(client, service, filters, region)
        except (LookupError, ValueError) as e:
            print(f"warning: {key}: {e}; kept {prices.get(key)}", file=sys.stderr)
            continue
        if prices.get(key) != value:
            changes.append(f"{key}: {prices.get(key)} -> {value}")
            prices[key] = value
    for itype in sorted(prices["ec2_hour"]):
        try:
            value = query(client, "AmazonEC2", {**EC2_FILTERS, "instanceType": itype}, region)
        except (LookupError, ValueError) as e:
            print(f"warning: ec2_hour.{itype}: {e}; kept", file=sys.stderr)
            continue
        if prices["ec2_hour"][itype] != value:
            changes.append(f"ec2_hour.{itype}: {prices['ec2_hour'][itype]} -> {value}")
            prices["ec2_hour"][itype] = value
    print("\n".join(changes) or "no price changed")
    if not args.dry_run:
        sheet["meta"]["date"] = datetime.date.today().isoformat()
        sheet["meta"]["source"] = (
            "AWS Price List API (pricing:GetProducts) via make cost-refresh, and the sheet before it"
        )
        args.sheet.write_text("---\n" + yaml.safe_dump(sheet, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
