"""A parcel the carrier reports lost or damaged ends there; the order replaces it from stock
under a reservation of its own, or refunds its lines when there is no stock (or when the policy
says damaged parcels are refunded)."""

from decimal import Decimal

import pytest

from domain import ids
from domain.enums import CarrierIssue, DamagedPolicy, OrderStatus, PaymentStatus, TrackingStatus
from domain.models import OrderPolicy
from tests.workflows.driver import Orders, order_request


async def _reported(orders: Orders, issue: CarrierIssue, stock: int, policy: OrderPolicy | None = None) -> str:
    """An order of one 99.00 item whose parcel the carrier reports `issue`; its order id."""
    orders.stubs.add_item("VASE", WH_EAST=stock)
    order = await orders.submit(order_request(("VASE", 1, "99.00")), policy)
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.hand_over(parcel)
    await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=issue.value)
    return order.order_id


@pytest.mark.parametrize("issue", [CarrierIssue.LOST, CarrierIssue.DAMAGED])
async def test_a_lost_or_damaged_parcel_is_sent_again_from_stock(orders: Orders, issue: CarrierIssue) -> None:
    order_id = await _reported(orders, issue, stock=2)
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)

    resent = await orders.wait(order_id, lambda o: len(o.shipments) == 2, "a second parcel")
    assert resent.shipments[0].delivery_issue == issue.value
    assert resent.shipments[0].outcome == f"reshipped as {second}"
    reshipped = next(e for e in resent.timeline if e.event == "parcel.reshipped")
    assert reshipped.detail["reservation"] == ids.reship_reservation_key(order_id, 1)
    # The replacement is reserved under its own key, apart from the order's (already shipped) one.
    assert [(r.sku, r.quantity, r.status) for r in orders.stubs.reservations[ids.reship_reservation_key(order_id, 1)]] == [
        ("VASE", 1, "reserved")
    ]
    await orders.sent(order_id, "reshipped")

    delivered = await orders.deliver(order_id, second)
    assert delivered.status is OrderStatus.DELIVERED, "the replacement counts, the lost parcel does not"
    assert [s.shipment_id for s in delivered.shipments] == [first, second]
    assert delivered.payment.status is PaymentStatus.CAPTURED
    assert orders.stubs.calls["refund_payment"] == 0
    assert orders.stubs.on_hand("WH-EAST", "VASE") == 0, "two units left the warehouse"
    await orders.projected(order_id)


async def test_a_lost_parcel_without_stock_to_replace_it_is_refunded(orders: Orders) -> None:
    order_id = await _reported(orders, CarrierIssue.LOST, stock=1)

    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)

    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", Decimal("111.00")),
        ("capture", Decimal("111.00")),
        ("refund", Decimal("99.00")),  # the lines; the shipping was spent on the lost parcel
    ]
    assert orders.stubs.ledger[-1].key == ids.payment_key(order_id, f"refund-{ids.shipment_id(order_id, 1)}")
    assert closed.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert closed.totals.refunded == Decimal("99.00")
    assert closed.shipments[0].outcome == "refunded 99.00"
    assert closed.timeline[-1].detail == {"reason": "fully refunded"}
    assert not closed.needs_attention
    await orders.sent(order_id, "refunded")
    await orders.projected(order_id)


async def test_a_damaged_parcel_is_refunded_when_the_policy_says_refund(orders: Orders) -> None:
    order_id = await _reported(
        orders, CarrierIssue.DAMAGED, stock=5, policy=OrderPolicy(damaged_policy=DamagedPolicy.REFUND)
    )

    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)

    assert orders.stubs.calls["reserve_stock"] == 1, "no replacement is reserved, though there is stock"
    assert [(row.operation, row.amount) for row in orders.stubs.ledger][-1] == ("refund", Decimal("99.00"))
    assert len(orders.stubs.operations("refund")) == 1
    refunded = next(e for e in closed.timeline if e.event == "parcel.refunded")
    assert refunded.detail["reason"] == "parcel damaged"
    assert len(closed.shipments) == 1
    await orders.projected(order_id)
