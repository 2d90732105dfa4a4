"""cost/refresh.py reads the on-demand USD price out of a Price List API product (no AWS call here)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("cost_refresh", ROOT / "cost" / "refresh.py")
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)

# Shape of one GetProducts PriceList entry (trimmed), as the Price List API documents it.
PRODUCT = json.loads(
    """{"product": {"sku": "ABC", "attributes": {"instanceType": "t3.micro"}},
        "terms": {"OnDemand": {"ABC.JRTCKXETXF": {"priceDimensions": {
          "ABC.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0104000000"}}}}}}}"""
)


def test_on_demand_usd_reads_the_hourly_price():
    assert refresh.on_demand_usd(PRODUCT) == pytest.approx(0.0104)


def test_a_product_without_on_demand_price_is_an_error():
    with pytest.raises(ValueError, match="no on-demand USD price in product ABC"):
        refresh.on_demand_usd({"product": {"sku": "ABC"}, "terms": {"Reserved": {}}})
