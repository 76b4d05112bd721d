"""Channel prices (issue 17): discounts spread to the cent, the channel's shipping charge, the
policy checks of intake, and refunds that never pass what was paid for a line."""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.temporal_calls import request_hash
from domain.enums import (
    Channel,
    ItemCondition,
    PaymentMethod,
    PaymentStatus,
    Priority,
    ReturnReason,
    ShippingSpeed,
)
from domain.models import (
    Address,
    Customer,
    LinePrice,
    OrderLine,
    OrderRequest,
    OrderView,
    ParcelLine,
    PaymentView,
    PriceAdjustment,
    ReceivedLine,
    ReturnLine,
)
from domain.pricing import PricePolicy, adjustment_problems, price_order, spread
from domain.refunds import paid_for, parcel_refund, share_of
from domain.resolution import refund_request
from domain.returns import refund_due

LINES = [
    OrderLine(sku="A", quantity=3, unit_price=Decimal("10.00")),
    OrderLine(sku="B", quantity=1, unit_price=Decimal("20.00")),
    OrderLine(sku="C", quantity=1, unit_price=Decimal("0.01")),
]


def _adjust(amount: str, sku: str | None = None, code: str | None = None) -> PriceAdjustment:
    return PriceAdjustment(sku=sku, amount=Decimal(amount), reason="promo", code=code)


def _request(*adjustments: dict[str, object], shipping_charge: object = None) -> OrderRequest:
    body: dict[str, object] = {
        "channel": "web",
        "customer": {"id": "c1", "email": "a@example.com", "name": "A"},
        "lines": [line.model_dump(mode="json") for line in LINES],
        "currency": "CNY",
        "shipping_address": {
            "name": "A", "line1": "1 Road", "city": "Hangzhou", "region": "ZJ",
            "postal_code": "310000", "country": "CN",
        },
        "payment": {"method": "card", "token": "tok_visa"},
        "adjustments": list(adjustments),
    }
    if shipping_charge is not None:
        body["shipping_charge"] = shipping_charge
    return OrderRequest.model_validate(body)


# --- spreading ----------------------------------------------------------------------------


def test_an_order_discount_is_spread_pro_rata_to_the_cent_and_sums_exactly() -> None:
    pricing = price_order(LINES, ShippingSpeed.STANDARD, [_adjust("-10.00")])
    # 50.01 of items: A 30.00, B 20.00, C 0.01; 10.00 off pro rata is 5.9988.., 3.9992.., 0.0019..
    assert [line.discount for line in pricing.lines] == [Decimal("6.00"), Decimal("4.00"), Decimal("0.00")]
    assert [line.paid for line in pricing.lines] == [Decimal("24.00"), Decimal("16.00"), Decimal("0.01")]
    assert pricing.totals.discounts == Decimal("10.00")
    assert pricing.totals.items == Decimal("50.01")
    assert pricing.totals.grand_total == Decimal("52.01")  # 50.01 - 10.00 + 12.00 shipping


def test_a_line_discount_comes_off_its_line_and_the_order_discount_spreads_over_what_is_left() -> None:
    pricing = price_order(LINES, ShippingSpeed.STANDARD, [_adjust("-20.00", sku="B"), _adjust("-0.03")])
    paid = {line.sku: line.paid for line in pricing.lines}
    assert paid["B"] == Decimal("0.00")  # nothing of B is left to take the order discount
    assert paid["A"] + paid["C"] == Decimal("30.01") - Decimal("0.03")
    assert pricing.totals.discounts == Decimal("20.03")


def test_the_channels_shipping_charge_replaces_ours() -> None:
    ours = price_order(LINES, ShippingSpeed.EXPRESS)
    theirs = price_order(LINES, ShippingSpeed.EXPRESS, shipping_charge=Decimal("3.50"))
    assert ours.totals.shipping == Decimal("25.00")
    assert theirs.totals.shipping == Decimal("3.50")
    assert theirs.totals.grand_total == Decimal("53.51")
    free = price_order(LINES, ShippingSpeed.STANDARD, shipping_charge=Decimal("0.00"))
    assert free.totals.shipping == Decimal("0.00")


def test_no_adjustments_price_as_before_issue_17() -> None:
    pricing = price_order(LINES, ShippingSpeed.STANDARD)
    assert pricing.totals.discounts == Decimal("0.00")
    assert [line.paid for line in pricing.lines] == [Decimal("30.00"), Decimal("20.00"), Decimal("0.01")]


def test_discounts_shrink_with_what_is_removed_and_never_grow() -> None:
    sold = LINES
    adjustments = [_adjust("-9.00", sku="A"), _adjust("-10.00")]
    fewer = [OrderLine(sku="A", quantity=1, unit_price=Decimal("10.00")), LINES[1]]
    pricing = price_order(fewer, ShippingSpeed.STANDARD, adjustments, sold=sold)
    # A: a third of its 9.00; the order's 10.00 by the list value kept, 30.00 of 50.01
    assert pricing.lines[0].discount - Decimal("3.00") + pricing.lines[1].discount == Decimal("6.00")
    assert pricing.totals.discounts == Decimal("9.00")
    more = [
        OrderLine(sku="A", quantity=9, unit_price=Decimal("10.00")),
        LINES[1],
        LINES[2],
        OrderLine(sku="NEW", quantity=1, unit_price=Decimal("5.00")),
    ]
    grown = price_order(more, ShippingSpeed.STANDARD, adjustments, sold=sold)
    assert grown.totals.discounts == Decimal("19.00"), "more units and new lines take no more discount"
    same = price_order(LINES, ShippingSpeed.STANDARD, adjustments, sold=sold)
    assert same == price_order(LINES, ShippingSpeed.STANDARD, adjustments)


def test_lines_changed_later_are_never_priced_below_zero() -> None:
    """An order edit or a partial shipment reprices: an adjustment for a line that is gone drops out,
    and a discount never passes what is left."""
    fewer = [OrderLine(sku="A", quantity=1, unit_price=Decimal("10.00"))]
    pricing = price_order(fewer, ShippingSpeed.STANDARD, [_adjust("-15.00", sku="A"), _adjust("-5.00", sku="B")])
    assert pricing.lines[0].paid == Decimal("0.00")
    assert pricing.totals.discounts == Decimal("10.00")


@given(
    total=st.integers(min_value=0, max_value=10**7),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
)
def test_spread_sums_exactly_and_no_part_passes_its_weight(total: int, weights: list[int]) -> None:
    parts = spread(total, weights)
    assert sum(parts) == (min(total, sum(weights)) if sum(weights) else 0)
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))
    # pro rata: each part is within one unit of its exact share
    if sum(weights) and total <= sum(weights):
        assert all(abs(part * sum(weights) - total * weight) < sum(weights) for part, weight in zip(parts, weights, strict=True))


cents = st.integers(min_value=1, max_value=500_000).map(lambda c: Decimal(c) / 100)
line_lists = st.lists(
    st.tuples(st.integers(min_value=1, max_value=20), cents), min_size=1, max_size=8
).map(lambda items: [OrderLine(sku=f"S{i}", quantity=q, unit_price=p) for i, (q, p) in enumerate(items)])


@given(lines=line_lists, percent=st.integers(min_value=0, max_value=100), data=st.data())
def test_priced_lines_add_up_to_the_totals(lines: list[OrderLine], percent: int, data: st.DataObject) -> None:
    items = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    off = (items * percent / 100).quantize(Decimal("0.01"))
    adjustments = [_adjust(str(-off))] if off > 0 else []
    sku = data.draw(st.sampled_from([line.sku for line in lines]))
    adjustments.append(_adjust("-0.01", sku=sku))
    pricing = price_order(lines, ShippingSpeed.STANDARD, adjustments)
    assert sum((line.paid for line in pricing.lines), Decimal(0)) == pricing.totals.items - pricing.totals.discounts
    assert sum((line.discount for line in pricing.lines), Decimal(0)) == pricing.totals.discounts
    assert all(line.paid >= 0 for line in pricing.lines)
    assert pricing.totals.grand_total == pricing.totals.items - pricing.totals.discounts + pricing.totals.shipping


# --- the policy of intake -------------------------------------------------------------------


def test_the_model_refuses_positive_amounts_three_decimals_floats_and_a_negative_shipping_charge() -> None:
    with pytest.raises(ValidationError) as caught:
        _request(
            {"sku": None, "amount": "10.00", "reason": "promo"},
            {"sku": "A", "amount": "-1.005", "reason": "promo"},
            {"sku": "A", "amount": -1.5, "reason": "promo"},
            shipping_charge="-1.00",
        )
    fields = {tuple(error["loc"]) for error in caught.value.errors()}
    assert fields == {
        ("adjustments", 0, "amount"),
        ("adjustments", 1, "amount"),
        ("adjustments", 2, "amount"),
        ("shipping_charge",),
    }


def test_policy_problems_name_every_bad_field() -> None:
    request = _request(
        {"sku": "NOPE", "amount": "-1.00", "reason": "promo", "code": "SUMMER"},
        {"sku": "B", "amount": "-25.00", "reason": "promo", "code": "WHO"},
        {"sku": None, "amount": "-1.00", "reason": "promo"},
    )
    problems = adjustment_problems(request, PricePolicy(max_discount_percent=Decimal(10), codes=frozenset({"SUMMER"})))
    assert {p.field for p in problems} == {
        "adjustments[0].sku",
        "adjustments[1].code",
        "adjustments[1].amount",
        "adjustments[2].code",
        "adjustments",
    }


def test_an_order_discount_beyond_the_items_is_named() -> None:
    request = _request({"sku": None, "amount": "-60.00", "reason": "promo"})
    problems = adjustment_problems(request, PricePolicy(max_discount_percent=Decimal(100)))
    assert [p.field for p in problems] == ["adjustments[0].amount", "adjustments"]  # and past 100%


def test_within_policy_there_is_no_problem_and_empty_codes_accept_any_code() -> None:
    request = _request({"sku": "A", "amount": "-5.00", "reason": "promo", "code": "ANY"}, {"amount": "-5.00", "reason": "x"})
    assert adjustment_problems(request, PricePolicy(max_discount_percent=Decimal(20))) == []
    assert [p.field for p in adjustment_problems(request, PricePolicy(max_discount_percent=Decimal(19)))] == ["adjustments"]


# --- refunds never pass what was paid for a line --------------------------------------------


def test_a_parcel_of_a_discounted_line_is_refunded_at_what_was_paid() -> None:
    pricing = price_order(LINES, ShippingSpeed.STANDARD, [_adjust("-10.00")])
    lines = [ParcelLine(sku="A", quantity=3), ParcelLine(sku="B", quantity=1)]
    assert parcel_refund(LINES, lines) == Decimal("50.00")  # an order priced before issue 17
    assert parcel_refund(LINES, lines, pricing.lines) == Decimal("40.00")
    assert paid_for(LINES, pricing.lines, "A", 1) == Decimal("8.00")


@given(
    paid=st.integers(min_value=0, max_value=10**6),
    quantity=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_refunds_of_a_line_in_parts_never_pass_what_was_paid(paid: int, quantity: int, data: st.DataObject) -> None:
    amount = Decimal(paid) / 100
    line = LinePrice(sku="A", quantity=quantity, unit_price=Decimal("99.99"), paid=amount)
    parts = data.draw(st.lists(st.integers(min_value=1, max_value=quantity), max_size=10))
    refunded, units = Decimal(0), 0
    for part in parts:
        part = min(part, quantity - units)
        if part <= 0:
            break
        refunded += paid_for([], [line], "A", part)
        units += part
        assert refunded <= amount
    assert share_of(amount, quantity, quantity) == amount


def test_a_return_of_a_discounted_line_refunds_what_was_paid_never_the_list_price() -> None:
    lines = [ReturnLine(sku="A", quantity=3, unit_price=Decimal("10.00"), warehouse="WH", paid=Decimal("20.00"))]
    split = [
        ReceivedLine(sku="A", quantity=1, condition=ItemCondition.RESELLABLE),
        ReceivedLine(sku="A", quantity=2, condition=ItemCondition.RESELLABLE),
        ReceivedLine(sku="A", quantity=2, condition=ItemCondition.RESELLABLE),  # more than was asked
    ]
    assert refund_due(lines, split, ReturnReason.NO_LONGER_NEEDED) == Decimal("20.00")
    one = [ReceivedLine(sku="A", quantity=1, condition=ItemCondition.RESELLABLE)]
    assert refund_due(lines, one, ReturnReason.NO_LONGER_NEEDED) == Decimal("6.66")
    before = [line.model_copy(update={"paid": None}) for line in lines]
    assert refund_due(before, one, ReturnReason.NO_LONGER_NEEDED) == Decimal("10.00")


def test_an_ops_refund_by_lines_pays_what_was_paid_for_them() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    pricing = price_order(LINES, ShippingSpeed.STANDARD, [_adjust("-10.00")])
    order = OrderView(
        order_id="o1",
        status="delivered",
        channel=Channel.WEB,
        customer=Customer(id="c1", email="a@example.com", name="A"),
        lines=LINES,
        currency="CNY",
        totals=pricing.totals,
        line_prices=pricing.lines,
        shipping_address=Address(
            name="A", line1="1 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN"
        ),
        shipping_speed=ShippingSpeed.STANDARD,
        priority=Priority.NORMAL,
        payment=PaymentView(method=PaymentMethod.CARD, amount=pricing.totals.grand_total, status=PaymentStatus.CAPTURED),
        created_at=at,
        updated_at=at,
        workflow_id="order-o1",
    )
    amount, _ = refund_request(order, {"lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]})
    assert amount == Decimal("32.00"), "two thirds of A's 24.00 and B's 16.00, not 40.00 at list price"


def test_a_shipping_charge_the_total_cannot_hold_is_named_and_minus_zero_is_zero() -> None:
    huge = _request(shipping_charge="9999999999.99")
    assert [p.field for p in adjustment_problems(huge, PricePolicy())] == ["shipping_charge"]
    zero = _request(shipping_charge="-0")
    assert str(price_order(LINES, ShippingSpeed.STANDARD, shipping_charge=zero.shipping_charge).totals.shipping) == "0.00"


def test_a_submission_without_prices_hashes_as_before_them() -> None:
    """Repeating an order submitted before issue 17 must meet its stored hash, not a 409."""
    request = _request()
    before = request.model_dump(mode="json", exclude={"order_id", "adjustments", "shipping_charge"})
    digest = hashlib.sha256(json.dumps(before, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert request_hash(request) == digest
    assert request_hash(_request({"amount": "-1.00", "reason": "promo"})) != digest
    assert request_hash(_request(shipping_charge="0.00")) != digest
