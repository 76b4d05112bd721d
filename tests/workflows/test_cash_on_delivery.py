"""Cash on delivery (API.md "Changing an order"): authorized at order time, captured parcel by
parcel when the carrier reports each delivery; a parcel returned to sender voids its share, a
reship promises it anew. Nothing is refunded that was never collected."""

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain import events, ids
from domain.enums import (
    CarrierIssue,
    ClaimKind,
    OpsActionKind,
    OrderStatus,
    PaymentStatus,
    ShipmentStatus,
    TrackingStatus,
)
from domain.models import ClaimRequest, OrderRequest, PaymentRequest
from tests.workflows.driver import Orders, order_request
from workflows.order.workflow import OrderWorkflow


def _cod(*lines: tuple[str, int, str]) -> OrderRequest:
    return order_request(*lines, payment=PaymentRequest(method="cod"))


async def _return_to_sender(orders: Orders, order_id: str, parcel: str) -> None:
    await orders.hand_over(parcel)
    for _ in range(3):
        await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.FAILED_ATTEMPT.value)
    await orders.wait_parcel(parcel, ShipmentStatus.RETURNED_TO_SENDER)


async def test_cod_is_authorized_then_each_parcel_captured_at_delivery_or_voided_when_returned(
    orders: Orders,
) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3, WH_WEST=0)
    orders.stubs.add_item("LAMP", "50.00", WH_EAST=0, WH_WEST=3)
    order = await orders.submit(_cod(("VASE", 1, "99.00"), ("LAMP", 1, "50.00")))  # 149.00 + 12.00 shipping
    order_id = order.order_id
    placed = await orders.wait(order_id, lambda o: len(o.shipments) == 2, "two parcels")

    assert placed.payment.status is PaymentStatus.AUTHORIZED
    assert placed.payment.captured == Decimal("0.00")
    assert orders.stubs.operations("capture") == []
    assert OpsActionKind.REFUND not in placed.available_actions  # nothing captured yet
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await orders.ops(order_id, OpsActionKind.REFUND, note="goodwill", amount="5.00")
    assert "refund does not apply" in str(refused.value.cause)

    # The first parcel carries the shipping charge: the shares add up to the grand total.
    first, second = placed.shipments
    share = {first.shipment_id: Decimal("12.00"), second.shipment_id: Decimal("0.00")}
    for parcel in (first, second):
        share[parcel.shipment_id] += sum(
            (Decimal("99.00") if line.sku == "VASE" else Decimal("50.00")) * line.quantity for line in parcel.lines
        )
    assert sum(share.values()) == Decimal("161.00")

    await orders.deliver(order_id, first.shipment_id)
    collected = await orders.wait(
        order_id, lambda o: o.payment.status is PaymentStatus.CAPTURED, "the first parcel's cash captured"
    )
    assert collected.payment.captured == share[first.shipment_id]
    assert [(r.amount, r.key) for r in orders.stubs.operations("capture")] == [
        (share[first.shipment_id], ids.payment_key(order_id, f"capture-{first.shipment_id}"))
    ]

    await _return_to_sender(orders, order_id, second.shipment_id)
    # The order shows the share voided at once, then voids it at the PSP: wait for the event that
    # follows the void.
    returned = await orders.wait(
        order_id,
        lambda o: o.payment.voided > 0 and any(e.event == events.PAYMENT_VOIDED for e in o.timeline),
        "the second parcel's share voided",
    )
    assert [(r.amount, r.key) for r in orders.stubs.operations("void")] == [
        (share[second.shipment_id], ids.payment_key(order_id, f"void-{second.shipment_id}"))
    ]
    assert returned.payment.status is PaymentStatus.CAPTURED
    assert OpsActionKind.REFUND in returned.available_actions

    # Ops resolve the parcel by a refund: its cash was never collected, so nothing is paid back.
    resolved = await orders.ops(order_id, OpsActionKind.REFUND, note="customer refused it", shipment_id=second.shipment_id)
    assert resolved.shipments[1].outcome == f"voided {share[second.shipment_id]} (cash on delivery)"
    assert orders.stubs.operations("refund") == []
    assert resolved.totals.refunded == Decimal("0.00")

    # A goodwill refund pays back at most what was collected.
    with pytest.raises(WorkflowUpdateFailedError):
        await orders.ops(order_id, OpsActionKind.REFUND, note="too much", amount=str(share[first.shipment_id] + 1))
    goodwill = await orders.ops(order_id, OpsActionKind.REFUND, note="late", amount="10.00")
    assert goodwill.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert goodwill.payment.captured - goodwill.totals.refunded == share[first.shipment_id] - Decimal("10.00")

    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.payment.captured == share[first.shipment_id]
    assert closed.payment.voided == share[second.shipment_id]
    await orders.projected(order_id)


async def test_cod_parcel_returned_to_sender_voids_it_and_a_reship_collects_on_delivery(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(_cod(("VASE", 1, "99.00")))
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)

    await _return_to_sender(orders, order_id, first)
    # The order shows the share voided at once, then voids it at the PSP (then the event).
    voided = await orders.wait(
        order_id,
        lambda o: o.payment.status is PaymentStatus.VOIDED and any(e.event == events.PAYMENT_VOIDED for e in o.timeline),
        "voided",
    )
    assert voided.payment.voided == Decimal("111.00")
    assert orders.stubs.operations("capture") == []
    assert [(r.amount, r.key) for r in orders.stubs.operations("void")] == [
        (Decimal("111.00"), ids.payment_key(order_id, f"void-{first}"))
    ]

    reshipped = await orders.ops(order_id, OpsActionKind.RESHIP, note="customer is home now", shipment_id=first)
    assert reshipped.payment.status is PaymentStatus.AUTHORIZED  # promised anew, to the replacement
    assert reshipped.payment.voided == Decimal("0.00")

    await orders.deliver(order_id, second)
    delivered = await orders.wait(order_id, lambda o: o.payment.status is PaymentStatus.CAPTURED, "captured")
    assert delivered.payment.captured == Decimal("111.00")
    assert [(r.amount, r.key) for r in orders.stubs.operations("capture")] == [
        (Decimal("111.00"), ids.payment_key(order_id, f"capture-{second}"))
    ]


async def test_cod_cancelled_before_delivery_voids_the_promise(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(_cod(("VASE", 1, "99.00")))
    await orders.wait(order.order_id, lambda o: len(o.shipments) == 1, "a parcel")

    cancelled = await orders.cancel(order.order_id)

    assert cancelled.payment.status is PaymentStatus.VOIDED
    assert orders.stubs.operations("capture") == [] and orders.stubs.operations("refund") == []
    assert [r.key for r in orders.stubs.operations("void")] == [ids.payment_key(order.order_id, "void")]


@pytest.mark.parametrize("stock", [2, 1])
async def test_cod_parcel_lost_is_collected_by_its_replacement_or_voided_without_stock(
    orders: Orders, stock: int
) -> None:
    orders.stubs.add_item("VASE", WH_EAST=stock)
    order = await orders.submit(_cod(("VASE", 1, "99.00")))
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    await orders.hand_over(first)
    await orders.carrier(first, TrackingStatus.EXCEPTION, detail=CarrierIssue.LOST.value)

    if stock == 1:  # nothing to send again: the parcel is resolved, its cash never collected
        closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
        assert closed.payment.status is PaymentStatus.VOIDED
        assert closed.shipments[0].outcome == "voided 111.00 (cash on delivery)"
        assert orders.stubs.operations("refund") == [] and orders.stubs.operations("capture") == []
        assert [r.key for r in orders.stubs.operations("void")] == [ids.payment_key(order_id, f"void-{first}")]
        return
    await orders.wait(order_id, lambda o: len(o.shipments) == 2, "a replacement")
    await orders.deliver(order_id, second)
    collected = await orders.wait(order_id, lambda o: o.payment.status is PaymentStatus.CAPTURED, "captured")
    assert collected.payment.captured == Decimal("111.00")
    assert [r.key for r in orders.stubs.operations("capture")] == [ids.payment_key(order_id, f"capture-{second}")]
    assert orders.stubs.operations("void") == []


async def test_cod_not_received_claim_refunded_voids_the_parcels_share(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(_cod(("VASE", 1, "99.00")))
    order_id = order.order_id
    parcel = ids.shipment_id(order_id, 1)
    await orders.hand_over(parcel)
    # The parcel knows first; a claim is taken once the order has heard of the hand-over.
    await orders.wait(order_id, lambda o: o.shipments[0].handed_over, "the order knows the parcel is handed over")
    claim = await orders.order(order_id).execute_update(
        OrderWorkflow.file_claim, ClaimRequest(kind=ClaimKind.NOT_RECEIVED, shipment_id=parcel, comment="where?")
    )

    refunded = await orders.ops(order_id, OpsActionKind.REFUND, note="never came", claim_id=claim.claim_id)

    assert refunded.totals.refunded == Decimal("0.00") and orders.stubs.operations("refund") == []
    assert [(r.amount, r.key) for r in orders.stubs.operations("void")] == [
        (Decimal("111.00"), ids.payment_key(order_id, f"void-{parcel}"))
    ]
    assert refunded.payment.status is PaymentStatus.VOIDED
    assert refunded.shipments[0].outcome == "voided 111.00 (cash on delivery)"
    await orders.wait_status(order_id, OrderStatus.CLOSED)


async def test_cod_parcel_the_carrier_goes_silent_on_is_voided_by_ops_and_the_order_closes(
    orders: Orders,
) -> None:
    """The lifecycle fuzzer's seed 3, order 19: a cod parcel handed over, then the carrier goes
    silent. Past the delivery SLA the order needs attention; with nothing captured there was no
    `refund` and the parcel was not undeliverable, so only `note` applied. Now `refund` applies and
    voids the stalled parcel's share: the order stops waiting for it and closes."""
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(_cod(("VASE", 1, "99.00")))
    order_id = order.order_id
    parcel = ids.shipment_id(order_id, 1)
    await orders.hand_over(parcel)
    await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.FAILED_ATTEMPT.value)
    await orders.fast_forward(orders.parcel(parcel), timedelta(days=8))  # past the delivery SLA

    stuck = await orders.wait(order_id, lambda o: o.needs_attention, "the late parcel flagged")
    assert stuck.payment.captured == Decimal("0.00")
    assert OpsActionKind.REFUND in stuck.available_actions

    resolved = await orders.ops(order_id, OpsActionKind.REFUND, note="carrier lost track", shipment_id=parcel)
    assert resolved.shipments[0].outcome == "voided 111.00 (cash on delivery)"
    assert orders.stubs.operations("refund") == []
    assert [(r.amount, r.key) for r in orders.stubs.operations("void")] == [
        (Decimal("111.00"), ids.payment_key(order_id, f"void-{parcel}"))
    ]
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.payment.status is PaymentStatus.VOIDED
