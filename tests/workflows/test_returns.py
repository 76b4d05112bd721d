"""A return the policy does not approve by itself waits for ops through the order; approved, it
gets a return label, is received and inspected, and the order refunds what inspection found."""

from datetime import timedelta
from decimal import Decimal

from domain import ids
from domain.enums import ItemCondition, OpsActionKind, OrderStatus, PaymentStatus, ReturnReason, ReturnStatus
from domain.models import ParcelLine, ReceivedLine, ReturnReceipt, ReturnRequest
from tests.workflows.driver import Orders, order_request


async def _delivered(orders: Orders) -> str:
    orders.stubs.add_item("BOOT", WH_EAST=5)
    order = await orders.submit(order_request(("BOOT", 2, "99.00")))
    await orders.deliver(order.order_id, ids.shipment_id(order.order_id, 1))
    await orders.wait_status(order.order_id, OrderStatus.DELIVERED)
    return order.order_id


async def _awaiting_approval(orders: Orders, order_id: str) -> str:
    # "other" is not a reason the policy approves by itself.
    requested = await orders.request_return(
        order_id, ReturnRequest(lines=[ParcelLine(sku="BOOT", quantity=1)], reason=ReturnReason.OTHER)
    )
    assert requested.status is ReturnStatus.REQUESTED and requested.awaiting_approval
    waiting = await orders.wait(order_id, lambda o: o.needs_attention, "return waits for ops")
    assert waiting.status is OrderStatus.RETURNING
    assert waiting.attention_reason == f"return {requested.rma_id} waits for approval"
    assert {OpsActionKind.APPROVE, OpsActionKind.REJECT} <= set(waiting.available_actions)
    return requested.rma_id


async def test_an_approved_return_is_received_inspected_and_refunded(orders: Orders) -> None:
    order_id = await _delivered(orders)
    rma = await _awaiting_approval(orders, order_id)
    assert orders.stubs.calls["buy_label"] == 1, "no return label before approval"

    await orders.ops(order_id, OpsActionKind.APPROVE, note="good customer", rma_id=rma)
    await orders.sent(order_id, "return_approved")
    await orders.receive_return(
        rma, ReturnReceipt(lines=[ReceivedLine(sku="BOOT", quantity=1, condition=ItemCondition.RESELLABLE)])
    )
    label = orders.stubs.labels[ids.label_key(rma)]  # bought under the RMA's key once approved
    settled = await orders.wait(
        order_id, lambda o: o.returns[0].status is ReturnStatus.REFUNDED and o.status is OrderStatus.DELIVERED, "settled"
    )

    # Not the seller's fault: the item is refunded, the shipping is not.
    assert settled.returns[0].tracking_number == label.tracking_number
    assert settled.returns[0].refund_amount == Decimal("99.00")
    assert orders.stubs.operations("refund")[0].amount == Decimal("99.00")
    assert orders.stubs.operations("refund")[0].key == ids.payment_key(order_id, f"refund-{rma}")
    assert settled.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert settled.totals.refunded == Decimal("99.00")
    assert not settled.needs_attention
    assert orders.stubs.on_hand("WH-EAST", "BOOT") == 4, "the resellable unit is back on the shelf"
    events = [e.event for e in settled.timeline]
    assert events.index("return.requested") < events.index("ops.approve") < events.index("returns.settled")
    await orders.projected(order_id)

    # The window over and nothing open, the order closes.
    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert len(orders.stubs.operations("refund")) == 1
    assert closed.returns[0].status is ReturnStatus.REFUNDED


async def test_a_rejected_return_gets_no_label_and_no_refund(orders: Orders) -> None:
    order_id = await _delivered(orders)
    rma = await _awaiting_approval(orders, order_id)

    await orders.ops(order_id, OpsActionKind.REJECT, note="outside policy", rma_id=rma)
    settled = await orders.wait(order_id, lambda o: o.status is OrderStatus.DELIVERED, "back to delivered")

    assert settled.returns[0].status is ReturnStatus.REJECTED
    assert not settled.needs_attention
    assert orders.stubs.calls["buy_label"] == 1 and orders.stubs.calls["refund_payment"] == 0
    assert "return_approved" not in orders.stubs.kinds(order_id)
    await orders.projected(order_id)
