"""A parcel the carrier reports lost or damaged ends there; the order replaces it from stock
under a reservation of its own, or refunds its lines when there is no stock (or when the policy
says damaged parcels are refunded)."""

import asyncio
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import ids
from domain.enums import (
    CarrierIssue,
    ClaimKind,
    DamagedPolicy,
    OpsActionKind,
    OrderStatus,
    PaymentStatus,
    TrackingStatus,
)
from domain.models import ClaimRequest, OrderPolicy, OrderView
from tests.conftest import eventually
from tests.workflows.driver import Orders, order_request
from workflows.order import OrderWorkflow


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


async def test_ops_cannot_resolve_a_lost_parcel_the_order_is_resolving_itself(orders: Orders) -> None:
    """make fuzz (seed 20261201, order 633): an ops refund naming a lost parcel came while the
    order was resolving that parcel itself. Both resolved it: the ledger refunded more than the
    order said, and the ops refund never answered. Now ops are told the order is on it (409), and
    the one resolution is the order's."""
    stubs = orders.stubs
    stubs.add_item("VASE", WH_EAST=1)  # the one unit ships: no stock to send it again
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id, parcel = order.order_id, ids.shipment_id(order.order_id, 1)
    await orders.hand_over(parcel)
    reservations = stubs.calls["reserve_stock"]
    stubs.glitch("reserve_stock", 4)  # the order's own resolution sits in its reservation a while
    await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.LOST.value)
    await eventually(lambda: stubs.calls["reserve_stock"] > reservations)
    lost = await orders.state(order_id)
    assert (lost.shipments[0].delivery_issue, lost.shipments[0].outcome) == ("lost", None)
    assert OpsActionKind.RESHIP not in lost.available_actions

    for kind, params in [
        (OpsActionKind.REFUND, {"shipment_id": parcel, "amount": "65.87"}),
        (OpsActionKind.REFUND, {"shipment_id": parcel}),
        (OpsActionKind.RESHIP, {"shipment_id": parcel}),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await orders.ops(order_id, kind, note="the carrier lost it", **params)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "ActionNotApplicable"
        assert f"resolving parcel {parcel} itself" in str(refused.value.cause), refused.value.cause

    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert [(row.operation, row.amount) for row in stubs.ledger] == [
        ("authorize", Decimal("111.00")),
        ("capture", Decimal("111.00")),
        ("refund", Decimal("99.00")),
    ]
    assert closed.totals.refunded == Decimal("99.00")
    assert closed.shipments[0].outcome == "refunded 99.00"
    await orders.projected(order_id)


@pytest.mark.parametrize("slow", ["the parcel's news", "the ops refund"])
async def test_a_parcel_ops_refunded_is_not_resolved_again_when_the_carrier_reports_it_lost(
    orders: Orders, slow: str
) -> None:
    """The other side of order 633: ops refund a parcel under a not_received claim while the
    carrier's `lost` is on its way to the order (the parcel's news is slow), or the carrier's
    `lost` comes while the refund is being paid (the refund is slow). The order then skipped
    nothing: it reshipped the parcel ops had just refunded. Now it waits for the refund, sees the
    parcel resolved and leaves it: one refund, no second parcel, and the order closes."""
    stubs = orders.stubs
    stubs.add_item("VASE", WH_EAST=3)  # stock to reship: a second resolution would reship
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id, parcel = order.order_id, ids.shipment_id(order.order_id, 1)
    await orders.hand_over(parcel)
    await orders.wait(order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")
    claim = await orders.order(order_id).execute_update(
        OrderWorkflow.file_claim, ClaimRequest(kind=ClaimKind.NOT_RECEIVED, shipment_id=parcel, comment="where?")
    )

    async def refund() -> OrderView:
        return await orders.ops(order_id, OpsActionKind.REFUND, note="never arrived", claim_id=claim.claim_id)

    if slow == "the parcel's news":
        records = stubs.calls["record_shipment"]
        stubs.glitch("record_shipment", 5)  # the parcel's `lost` reaches the order seconds later
        await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.LOST.value)
        await eventually(lambda: stubs.calls["record_shipment"] > records)
        refunded = await refund()
    else:
        refunds = stubs.calls["refund_payment"]
        stubs.glitch("refund_payment", 3)  # the refund is being paid for a few seconds
        paying = asyncio.create_task(refund())
        await eventually(lambda: stubs.calls["refund_payment"] > refunds)
        await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.LOST.value)
        refunded = await asyncio.wait_for(paying, timeout=60)

    assert refunded.shipments[0].outcome == "refunded 99.00"
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.shipments[0].delivery_issue == "lost", "the carrier's news did reach the order"
    assert [s.shipment_id for s in closed.shipments] == [parcel], "no second parcel"
    assert closed.shipments[0].outcome == "refunded 99.00"
    assert [(row.operation, row.amount) for row in stubs.operations("refund")] == [("refund", Decimal("99.00"))]
    assert stubs.calls["reserve_stock"] == 1, "nothing was reserved to send it again"
    assert closed.totals.refunded == Decimal("99.00")
    await orders.projected(order_id)
