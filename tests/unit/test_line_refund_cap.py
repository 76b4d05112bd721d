"""The cap per line (issue 17.6): separate refunds for lines (returns, ops refunds by lines,
parcels refunded, short picks) never pay the same units twice. Per SKU, what they refund never
passes what was paid for it, and the whole never passes the capture (domain/refunds.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    LineRefund,
    OrderLine,
    OrderView,
    ParcelLine,
    PaymentView,
    PriceAdjustment,
    ReceivedLine,
    ReturnLine,
)
from domain.pricing import price_order
from domain.refunds import (
    add_line_refunds,
    allot,
    asked_for,
    cap_line_refunds,
    line_paid,
    parcel_refund,
    refund_cap,
    total_of,
)
from domain.resolution import NotApplicable, check_refund, refund_lines, refund_request
from domain.returns import refund_due, refund_due_lines

LINES = [
    OrderLine(sku="A", quantity=3, unit_price=Decimal("10.00")),
    OrderLine(sku="B", quantity=2, unit_price=Decimal("25.00")),
]
AT = datetime(2026, 12, 2, tzinfo=UTC)


def _order(refunded_lines: list[LineRefund] | None = None, refunded: str = "0.00") -> OrderView:
    pricing = price_order(
        LINES, ShippingSpeed.STANDARD, [PriceAdjustment(sku=None, amount=Decimal("-8.00"), reason="promo")]
    )
    totals = pricing.totals.model_copy(update={"refunded": Decimal(refunded)})
    return OrderView(
        order_id="o1",
        status="delivered",
        channel=Channel.WEB,
        customer=Customer(id="c1", email="a@example.com", name="A"),
        lines=LINES,
        currency="CNY",
        totals=totals,
        line_prices=pricing.lines,
        refunded_lines=refunded_lines or [],
        shipping_address=Address(
            name="A", line1="1 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN"
        ),
        shipping_speed=ShippingSpeed.STANDARD,
        priority=Priority.NORMAL,
        payment=PaymentView(
            method=PaymentMethod.CARD,
            amount=totals.grand_total,
            status=PaymentStatus.CAPTURED if refunded == "0.00" else PaymentStatus.PARTIALLY_REFUNDED,
            captured=totals.grand_total,
        ),
        created_at=AT,
        updated_at=AT,
        workflow_id="order-o1",
    )


def test_a_line_refunded_whole_has_nothing_left_for_a_second_refund() -> None:
    order = _order()
    paid_a = line_paid(order.lines, order.line_prices, "A")
    assert paid_a == Decimal("27.00"), "30.00 less its share (3.00) of the order's 8.00 off 80.00"
    first = cap_line_refunds(
        order.lines,
        order.line_prices,
        [],
        asked_for(order.lines, [ParcelLine(sku="A", quantity=3)], order.line_prices),
    )
    assert first == [LineRefund(sku="A", quantity=3, amount=Decimal("27.00"))]
    second = cap_line_refunds(
        order.lines,
        order.line_prices,
        first,
        asked_for(order.lines, [ParcelLine(sku="A", quantity=2)], order.line_prices),
    )
    assert second == [LineRefund(sku="A", quantity=0, amount=Decimal("0.00"))]


def test_a_second_refund_pays_only_what_is_left_of_the_line() -> None:
    order = _order()
    one = asked_for(order.lines, [ParcelLine(sku="A", quantity=1)], order.line_prices)
    assert one == [LineRefund(sku="A", quantity=1, amount=Decimal("9.00"))]
    refunded = add_line_refunds([], one)
    again = cap_line_refunds(
        order.lines,
        order.line_prices,
        refunded,
        asked_for(order.lines, [ParcelLine(sku="A", quantity=3)], order.line_prices),
    )
    assert again == [LineRefund(sku="A", quantity=2, amount=Decimal("18.00"))]
    assert add_line_refunds(refunded, again) == [LineRefund(sku="A", quantity=3, amount=Decimal("27.00"))]


def test_an_order_without_line_prices_caps_at_unit_price_times_quantity() -> None:
    refunded = [LineRefund(sku="B", quantity=1, amount=Decimal("25.00"))]
    asked = asked_for(LINES, [ParcelLine(sku="B", quantity=2)])
    assert cap_line_refunds(LINES, [], refunded, asked) == [
        LineRefund(sku="B", quantity=1, amount=Decimal("25.00"))
    ]
    assert line_paid(LINES, [], "GONE") == Decimal("0.00"), "a SKU the order does not have: nothing to refund"


def test_asked_for_adds_up_to_the_parcel_refund_and_merges_by_sku() -> None:
    order = _order()
    parcel = [
        ParcelLine(sku="A", quantity=1),
        ParcelLine(sku="B", quantity=1),
        ParcelLine(sku="A", quantity=1),
    ]
    asked = asked_for(order.lines, parcel, order.line_prices)
    assert [(line.sku, line.quantity) for line in asked] == [("A", 2), ("B", 1)]
    assert total_of(asked) == parcel_refund(order.lines, parcel, order.line_prices)


def test_what_the_capture_cap_cut_comes_off_the_last_lines_first() -> None:
    lines = [
        LineRefund(sku="A", quantity=1, amount=Decimal("9.00")),
        LineRefund(sku="B", quantity=1, amount=Decimal("23.00")),
    ]
    assert allot(Decimal("10.00"), lines) == [
        LineRefund(sku="A", quantity=1, amount=Decimal("9.00")),
        LineRefund(sku="B", quantity=1, amount=Decimal("1.00")),
    ]
    assert allot(Decimal("0.00"), lines)[1] == LineRefund(sku="B", quantity=0, amount=Decimal("0.00"))


def test_a_returns_refund_due_per_sku_adds_up_to_the_refund_due() -> None:
    lines = [
        ReturnLine(sku="A", quantity=3, unit_price=Decimal("10.00"), warehouse="W", paid=Decimal("20.00")),
        ReturnLine(sku="B", quantity=1, unit_price=Decimal("25.00"), warehouse="W"),
    ]
    received = [
        ReceivedLine(sku="A", quantity=1, condition=ItemCondition.RESELLABLE),
        ReceivedLine(sku="A", quantity=1, condition=ItemCondition.DAMAGED),
        ReceivedLine(sku="A", quantity=1, condition=ItemCondition.RESELLABLE),
        ReceivedLine(sku="B", quantity=1, condition=ItemCondition.RESELLABLE),
    ]
    due = refund_due_lines(lines, received, ReturnReason.NO_LONGER_NEEDED)
    assert due == [
        LineRefund(sku="A", quantity=2, amount=Decimal("13.33")),
        LineRefund(sku="B", quantity=1, amount=Decimal("25.00")),
    ]
    assert total_of(due) == refund_due(lines, received, ReturnReason.NO_LONGER_NEEDED) == Decimal("38.33")


def test_an_ops_refund_by_lines_already_refunded_is_refused_and_a_goodwill_amount_is_not_per_line() -> None:
    order = _order(
        refunded_lines=[LineRefund(sku="A", quantity=3, amount=Decimal("27.00"))], refunded="27.00"
    )
    with pytest.raises(NotApplicable, match="nothing is left to refund of those lines .*A 27.00"):
        check_refund(order, {"lines": [{"sku": "A", "quantity": 1}]})
    # What the cap leaves counts against the capture, not what the lines would cost.
    check_refund(order, {"lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}]})
    assert refund_lines(order, {"amount": "5.00"}) is None, "a goodwill amount is for no line"
    amount, _ = refund_request(order, {"amount": "5.00"})
    assert amount == Decimal("5.00")
    with pytest.raises(NotApplicable, match="more than is left to refund"):
        check_refund(order, {"amount": "100.00"})


def test_the_lines_left_to_refund_count_against_the_capture() -> None:
    # Captured 84.00 (80.00 - 8.00 + 12.00 shipping); 27.00 of A refunded as lines, 33.00 as
    # goodwill: 24.00 is left. A again and one B ask 49.50, of which the cap leaves B's 22.50.
    order = _order(
        refunded_lines=[LineRefund(sku="A", quantity=3, amount=Decimal("27.00"))], refunded="60.00"
    )
    check_refund(order, {"lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 1}]})
    with pytest.raises(NotApplicable, match="22.50 is more than is left to refund"):
        check_refund(
            order.model_copy(
                update={"totals": order.totals.model_copy(update={"refunded": Decimal("70.00")})}
            ),
            {"lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 1}]},
        )


_REFUND = st.one_of(
    # a refund for lines: some units of some SKUs, asked at what was paid or more, and shipping
    st.tuples(
        st.just("lines"),
        st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 4)), min_size=1, max_size=3),
        st.integers(0, 3000),
    ),
    # a goodwill refund: an amount for no line
    st.tuples(st.just("goodwill"), st.just([]), st.integers(1, 5000)),
)


@given(
    quantities=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    prices=st.lists(st.integers(1, 5000), min_size=3, max_size=3),
    off=st.integers(0, 3000),
    refunds=st.lists(_REFUND, max_size=12),
)
def test_for_any_sequence_of_line_refunds_per_sku_refunded_never_passes_paid_nor_the_sum_the_capture(
    quantities: list[int], prices: list[int], off: int, refunds: list[tuple[str, list[tuple[str, int]], int]]
) -> None:
    lines = [
        OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price) / 100)
        for sku, quantity, price in zip("ABC", quantities, prices, strict=True)
    ]
    items = sum(line.unit_price * line.quantity for line in lines)
    adjustments = (
        [PriceAdjustment(sku=None, amount=-min(Decimal(off) / 100, items), reason="promo")] if off else []
    )
    pricing = price_order(lines, ShippingSpeed.EXPRESS, adjustments)
    totals = pricing.totals
    captured = totals.grand_total
    refunded: list[LineRefund] = []
    for kind, units, extra_cents in refunds:
        extra = Decimal(extra_cents) / 100
        if kind == "goodwill":
            totals.refunded += refund_cap(extra, totals, captured)
            continue
        parcel = [ParcelLine(sku=sku, quantity=min(n, quantities["ABC".index(sku)])) for sku, n in units]
        asked = asked_for(lines, parcel, pricing.lines)
        capped = cap_line_refunds(lines, pricing.lines, refunded, asked)
        assert all(
            c.amount <= a.amount and c.quantity <= a.quantity for c, a in zip(capped, asked, strict=True)
        )
        paid_back = refund_cap(total_of(capped) + extra, totals, captured)
        totals.refunded += paid_back
        allotted = allot(paid_back, capped)
        assert total_of(allotted) <= paid_back
        refunded = add_line_refunds(refunded, allotted)
        for line in refunded:
            assert line.amount <= line_paid(lines, pricing.lines, line.sku), line.sku
            assert line.quantity <= quantities["ABC".index(line.sku)], line.sku
        assert total_of(refunded) <= totals.refunded <= captured
