"""Each channel format on its sample file, and bad payloads named in the channel's own terms."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.channels import ChannelFormat, ChannelFormatError, map_order, read_marketplace_csv
from domain.models import Problem
from tests.data.marketplace_orders import marketplace_csv

DATA = Path(__file__).parents[1] / "data"


def _json(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return payload


def _fields(error: pytest.ExceptionInfo[ChannelFormatError]) -> set[str]:
    return {p.field for p in error.value.problems}


def test_storefront_sample_maps_to_an_order() -> None:
    mapped = map_order(ChannelFormat.STOREFRONT, _json("storefront_order.json"))
    order = mapped.request
    assert order.channel.value == "web" and order.channel_order_id == "5012345678901"
    assert order.customer.id == "shop-207119551" and order.customer.name == "Lei Li"
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("SKU-RED-M", 2, Decimal("99.00")),
        ("SKU-MUG", 1, Decimal("39.00")),
    ]
    address = order.shipping_address
    assert (address.line1, address.line2, address.region, address.postal_code) == ("1 Wensan Road", "Floor 3", "ZJ", "310000")
    assert order.shipping_speed.value == "express" and order.priority.value == "expedited"
    assert (order.payment.method.value, order.payment.token) == ("card", "tok_visa")
    assert order.notes == "Please leave at the front desk"


def test_storefront_problems_name_the_storefront_fields() -> None:
    payload = _json("storefront_order.json")
    payload["line_items"][1]["quantity"] = 0
    payload["shipping_address"]["zip"] = "31"
    payload["shipping_address"].pop("address1")
    payload["email"] = "nobody"
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.STOREFRONT, payload)
    assert _fields(error) == {"line_items[1].quantity", "shipping_address.address1", "shipping_address.zip", "email"}
    # A field only our model checks is still named as the storefront calls it.
    payload = _json("storefront_order.json")
    payload["line_items"][1]["sku"] = "SKU-RED-M"  # our model: one line per SKU
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.STOREFRONT, payload)
    assert _fields(error) == {"line_items"}


def test_storefront_gateways_map_to_payment_methods() -> None:
    payload = _json("storefront_order.json")
    payload["gateway"] = "cash_on_delivery"
    assert map_order(ChannelFormat.STOREFRONT, payload).request.payment.method.value == "cod"
    payload["gateway"] = "alipay"
    assert map_order(ChannelFormat.STOREFRONT, payload).request.payment.method.value == "wallet"


def test_social_sample_maps_to_an_order() -> None:
    order = map_order(ChannelFormat.SOCIAL, _json("social_order.json")).request
    assert order.channel.value == "social" and order.channel_order_id == "6919234567890123456"
    assert order.customer.id == "social-dy_7a1b2c3d4e"
    # No e-mail from the platform: a reserved .invalid address, never delivered.
    assert order.customer.email == "dy_7a1b2c3d4e@social.invalid"
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("SKU-BOOK-ZH", 3, Decimal("59.00")),
        ("SKU-MUG", 1, Decimal("39.00")),
    ]
    assert order.currency == "CNY" and order.shipping_address.region == "浙江省"
    assert order.shipping_address.line1 == "西湖区 文三路 1 号" and order.shipping_address.postal_code == "310012"
    assert (order.payment.method.value, order.payment.token) == ("wallet", "tok_wallet")


def test_social_problems_name_the_social_fields() -> None:
    payload = _json("social_order.json")
    payload["sku_order_list"][0]["sku_price"] = "59.00"  # fen are whole numbers
    payload["pay_type"] = 7
    del payload["post_addr"]["city"]
    payload["buyer"]["open_id"] = "has spaces"
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.SOCIAL, payload)
    assert _fields(error) == {"sku_order_list[0].sku_price", "pay_type", "post_addr.city", "buyer.open_id"}
    payload = _json("social_order.json")
    payload["sku_order_list"][1]["out_sku_id"] = "SKU-BOOK-ZH"  # our model: one line per SKU
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.SOCIAL, payload)
    assert _fields(error) == {"sku_order_list"}


def test_marketplace_sample_groups_rows_into_orders() -> None:
    groups = read_marketplace_csv((DATA / "marketplace_orders.csv").read_text(encoding="utf-8"))
    assert [(g.channel_order_id, g.rows, g.problems) for g in groups] == [
        ("113-0000001-0000001", (2, 3), ()),
        ("113-0000002-0000002", (4,), ()),
        ("113-0000003-0000003", (5,), ()),
    ]
    first, second, third = (g.order.request for g in groups if g.order is not None)
    assert [(line.sku, line.quantity, line.unit_price) for line in first.lines] == [
        ("SKU-RED-M", 2, Decimal("99.00")),
        ("SKU-LAMP", 1, Decimal("259.00")),
    ]
    assert first.customer.email == "a1b2c3@marketplace.example" and first.shipping_address.line2 == "Apt 5"
    assert second.shipping_speed.value == "overnight" and second.shipping_address.line1 == "3 Zhongguancun St, Bldg 2"
    assert second.customer.phone is None and second.payment.method.value == "wallet"
    # item-price is the line's total: 3 books for 177.00 are 59.00 each.
    assert third.lines[0].unit_price == Decimal("59.00") and third.payment.method.value == "cod"
    assert third.payment.token is None and third.shipping_speed.value == "express"


def test_one_bad_row_rejects_its_whole_order_and_only_that_order() -> None:
    text = (DATA / "marketplace_orders.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[2] = lines[2].replace(",SKU-LAMP,1,259.00,", ",SKU-LAMP,x,259.00,")  # row 3: order 1's second line
    groups = read_marketplace_csv("\n".join(lines))
    first = groups[0]
    assert first.order is None and first.rows == (2, 3)
    assert first.problems == (Problem(field="row 3, quantity-purchased", message=first.problems[0].message),)
    assert all(g.order is not None for g in groups[1:])


def test_rows_of_one_order_must_agree_on_the_order_columns() -> None:
    text = (DATA / "marketplace_orders.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[2] = lines[2].replace("88 Nanjing Road", "99 Other Road")
    groups = read_marketplace_csv("\n".join(lines))
    assert groups[0].order is None
    assert [p.field for p in groups[0].problems] == ["row 3, ship-address-1"]
    assert "differs from row 2" in groups[0].problems[0].message


def test_marketplace_file_and_cell_problems() -> None:
    with pytest.raises(ChannelFormatError) as error:
        read_marketplace_csv("order-id,sku\nA,SKU-MUG\n")
    assert "column buyer-email" in _fields(error) and "column order-id" not in _fields(error)
    header = (DATA / "marketplace_orders.csv").read_text(encoding="utf-8").splitlines()[0]
    row = "X-1,1,,b@m.example,B,,SKU-MUG,3,100.00,CNY,,B,1 Rd,,City,ST,310000,CN,,card,tok_visa"
    (group,) = read_marketplace_csv(f"{header}\n{row}\n")
    assert [p.field for p in group.problems] == ["row 2, item-price"]  # 100.00 / 3 is no price in cents
    (group,) = read_marketplace_csv(f"{header}\n{row.replace('X-1,', ',', 1)}\n")
    assert group.channel_order_id == "" and "row 2, order-id" in {p.field for p in group.problems}
    (group,) = read_marketplace_csv(f"{header}\n{row},extra\n")
    assert [p.field for p in group.problems] == ["row 2"]


def test_generated_export_breaks_exactly_the_rows_it_says() -> None:
    text, broken = marketplace_csv(60, skus=[("SKU-MUG", "39.00")], prefix="GEN", bad=3)
    groups = read_marketplace_csv(text)
    assert len(groups) == 60
    rejected = {g.rows[0]: {p.field for p in g.problems} for g in groups if g.order is None}
    assert rejected == {row: {f"row {row}, {column}"} for row, column in broken.items()}


def test_marketplace_body_must_hold_one_order() -> None:
    text = (DATA / "marketplace_orders.csv").read_text(encoding="utf-8")
    with pytest.raises(ChannelFormatError) as error:
        map_order(ChannelFormat.MARKETPLACE, text)
    assert _fields(error) == {"order-id"}
    one = "\n".join(text.splitlines()[:1] + text.splitlines()[3:4])
    assert map_order(ChannelFormat.MARKETPLACE, one).request.channel_order_id == "113-0000002-0000002"
    # The same rows map to the same request, so a re-import is recognised as a repeat.
    assert map_order(ChannelFormat.MARKETPLACE, one) == map_order(ChannelFormat.MARKETPLACE, one + "\n")
