"""Channel formats carry their discounts and shipping charge (issue 17) as our price adjustments
and shipping_charge, and problems with them are named in the shop's own terms."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.channels import ChannelFormat, ChannelFormatError, map_order, read_marketplace_csv
from domain.pricing import PricePolicy, adjustment_problems

DATA = Path(__file__).parents[1] / "data"


def _json(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return payload


def test_storefront_discounts_and_shipping_price_map_to_adjustments_and_the_charge() -> None:
    payload = _json("storefront_order.json")
    payload["line_items"][1]["total_discount"] = "4.00"
    payload["discount_codes"] = [{"code": "WINTER", "amount": "20.00", "type": "fixed_amount"}]
    request = map_order(ChannelFormat.STOREFRONT, payload).request
    assert [(a.sku, a.amount, a.code) for a in request.adjustments] == [
        ("SKU-MUG", Decimal("-4.00"), None),
        (None, Decimal("-20.00"), "WINTER"),
    ]
    assert request.shipping_charge == Decimal("12.00"), "the shop's Express charge, not our 25.00"


def test_storefront_without_prices_maps_as_before() -> None:
    payload = _json("storefront_order.json")
    payload["shipping_lines"][0].pop("price")
    request = map_order(ChannelFormat.STOREFRONT, payload).request
    assert request.adjustments == [] and request.shipping_charge is None


def test_storefront_price_problems_are_named_as_the_shop_names_them() -> None:
    payload = _json("storefront_order.json")
    payload["line_items"][0]["total_discount"] = "1.005"
    payload["discount_codes"] = [{"code": "WINTER", "amount": -3}]
    payload["shipping_lines"][0]["price"] = "-1.00"
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.STOREFRONT, payload)
    assert {p.field for p in error.value.problems} == {
        "line_items[0].total_discount",
        "discount_codes[0].amount",
        "shipping_lines[0].price",
    }
    payload = _json("storefront_order.json")
    payload["line_items"][1]["total_discount"] = "40.00"  # the mug is 39.00
    payload["discount_codes"] = [{"code": "SUMMER", "amount": "1.00"}]
    mapped = map_order(ChannelFormat.STOREFRONT, payload)
    problems = mapped.in_source_terms(adjustment_problems(mapped.request, PricePolicy(codes=frozenset({"WINTER"}))))
    assert {p.field for p in problems} == {
        "line_items[1].total_discount",  # below zero, and no code
        "discount_codes[0].code",
    }


def test_social_promotions_and_post_amount_map_in_fen() -> None:
    payload = _json("social_order.json")
    payload["sku_order_list"][0]["promotion_amount"] = 1234
    payload["post_amount"] = 800
    request = map_order(ChannelFormat.SOCIAL, payload).request
    assert [(a.sku, a.amount) for a in request.adjustments] == [("SKU-BOOK-ZH", Decimal("-12.34"))]
    assert request.shipping_charge == Decimal("8.00")


def test_marketplace_promotion_and_shipping_columns() -> None:
    header = (
        "order-id,buyer-email,buyer-name,sku,quantity-purchased,item-price,currency,recipient-name,"
        "ship-address-1,ship-city,ship-state,ship-postal-code,ship-country,payment-method,payment-token,"
        "item-promotion-discount,shipping-price,ship-promotion-discount"
    )
    address = "Wang Fang,88 Nanjing Road,Shanghai,SH,200001,CN,card,tok_visa"
    text = "\n".join(
        [
            header,
            f"MP-1,a@marketplace.example,Wang Fang,SKU-RED-M,2,198.00,CNY,{address},10.00,8.00,3.00",
            f"MP-1,a@marketplace.example,Wang Fang,SKU-LAMP,1,259.00,CNY,{address},,4.00,",
        ]
    )
    (group,) = read_marketplace_csv(text)
    assert group.order is not None, group.problems
    request = group.order.request
    assert [(a.sku, a.amount) for a in request.adjustments] == [("SKU-RED-M", Decimal("-10.00"))]
    assert request.shipping_charge == Decimal("9.00")  # 8.00 - 3.00 + 4.00
    bad = text.replace(",10.00,8.00,3.00", ",ten,8.00,3.00")
    (group,) = read_marketplace_csv(bad)
    assert group.order is None
    assert [p.field for p in group.problems] == ["row 2, item-promotion-discount"]
