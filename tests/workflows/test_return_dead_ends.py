"""Dead ends of returns (issue 16): a return step out of retries parks for ops instead of failing
the order; a receipt not in within the return SLA flags the order; an RMA never received expires
(rejected, "expired"), the customer is told, and the order closes."""

import asyncio
from datetime import timedelta

from domain import ids
from domain.enums import ItemCondition, OpsActionKind, OrderStatus, ReturnReason, ReturnStatus
from domain.models import OrderPolicy, ParcelLine, ReceivedLine, ReturnReceipt, ReturnRequest
from tests.workflows.driver import Orders, order_request

RECEIPT = ReturnReceipt(lines=[ReceivedLine(sku="BOOT", quantity=1, condition=ItemCondition.RESELLABLE)])


async def _delivered(orders: Orders, policy: OrderPolicy | None = None) -> str:
    orders.stubs.add_item("BOOT", WH_EAST=5)
    order = await orders.submit(order_request(("BOOT", 2, "99.00")), policy)
    await orders.deliver(order.order_id, ids.shipment_id(order.order_id, 1))
    await orders.wait_status(order.order_id, OrderStatus.DELIVERED)
    return order.order_id


async def _open(orders: Orders, order_id: str) -> str:
    view = await orders.request_return(
        order_id, ReturnRequest(lines=[ParcelLine(sku="BOOT", quantity=1)], reason=ReturnReason.NO_LONGER_NEEDED)
    )
    return view.rma_id


async def test_a_return_label_out_of_retries_parks_until_ops_retry(orders: Orders) -> None:
    order_id = await _delivered(orders, OrderPolicy(activity_attempts=2))
    orders.stubs.glitch("buy_label", 2)  # both attempts of the return label fail
    rma = await _open(orders, order_id)

    parked = await orders.wait(order_id, lambda o: o.needs_attention, "return parked")
    assert parked.status is OrderStatus.RETURNING, "the order goes on; it does not fail"
    assert parked.attention_reason is not None and parked.attention_reason.startswith(f"return {rma}: return label failed")
    assert parked.returns[0].parked and parked.returns[0].status is ReturnStatus.APPROVED
    assert OpsActionKind.RETRY in parked.available_actions

    await orders.ops(order_id, OpsActionKind.RETRY, note="carrier is back", rma_id=rma)
    await orders.receive_return(rma, RECEIPT)
    settled = await orders.wait(
        order_id, lambda o: o.returns[0].status is ReturnStatus.REFUNDED and o.status is OrderStatus.DELIVERED, "settled"
    )
    assert not settled.needs_attention and not settled.returns[0].parked
    assert OpsActionKind.RETRY not in settled.available_actions
    assert len(orders.stubs.operations("refund")) == 1
    await orders.projected(order_id)


async def test_a_stock_take_back_out_of_retries_parks_until_ops_retry(orders: Orders) -> None:
    order_id = await _delivered(orders, OrderPolicy(activity_attempts=2))
    rma = await _open(orders, order_id)
    orders.stubs.glitch("take_back_stock", 2)
    await orders.receive_return(rma, RECEIPT)

    parked = await orders.wait(order_id, lambda o: o.needs_attention, "return parked")
    assert "stock take-back of BOOT failed" in (parked.attention_reason or "")
    assert parked.returns[0].status is ReturnStatus.RECEIVED

    await orders.ops(order_id, OpsActionKind.RETRY)  # the only thing parked: no rma_id needed
    settled = await orders.wait(order_id, lambda o: o.returns[0].status is ReturnStatus.REFUNDED, "refunded")
    assert not settled.needs_attention
    assert orders.stubs.on_hand("WH-EAST", "BOOT") == 4
    await orders.projected(order_id)


async def test_a_return_not_received_within_its_sla_flags_the_order_until_it_comes(orders: Orders) -> None:
    order_id = await _delivered(orders)
    rma = await _open(orders, order_id)
    await orders.wait(order_id, lambda o: o.returns[0].status is ReturnStatus.IN_TRANSIT, "label bought")
    assert not (await orders.state(order_id)).needs_attention

    await orders.fast_forward(orders.rma(rma), timedelta(days=15))  # the SLA is 14 days
    late = await orders.wait(order_id, lambda o: o.needs_attention, "flagged")
    assert late.attention_reason == f"return {rma}: return not received within 14 days, 0:00:00"
    assert late.returns[0].status is ReturnStatus.IN_TRANSIT

    await orders.receive_return(rma, RECEIPT)
    settled = await orders.wait(order_id, lambda o: o.returns[0].status is ReturnStatus.REFUNDED, "refunded")
    assert not settled.needs_attention and settled.attention_reason is None
    await orders.projected(order_id)


async def test_a_return_never_received_expires_and_the_order_closes(orders: Orders) -> None:
    order_id = await _delivered(orders, OrderPolicy(return_expiry=timedelta(days=20)))
    rma = await _open(orders, order_id)
    await orders.wait(order_id, lambda o: o.returns[0].status is ReturnStatus.IN_TRANSIT, "label bought")

    await orders.fast_forward(orders.rma(rma), timedelta(days=21))
    expired = await orders.wait(order_id, lambda o: o.returns[0].status is ReturnStatus.REJECTED, "expired")
    view = expired.returns[0]
    assert (view.last_event, view.closed_reason) == ("expired", "expired")
    assert view.attention_reason is None, "the SLA flag goes with the return"
    await orders.sent(order_id, "return_rejected")
    settled = await orders.wait(order_id, lambda o: o.status is OrderStatus.DELIVERED, "nothing open")
    assert not settled.needs_attention

    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.returns[0].status is ReturnStatus.REJECTED
    assert orders.stubs.kinds(order_id).count("return_rejected") == 1
    assert orders.stubs.calls["refund_payment"] == 0


async def test_a_return_rejected_by_ops_is_told_to_the_customer_once(orders: Orders) -> None:
    order_id = await _delivered(orders)
    requested = await orders.request_return(
        order_id, ReturnRequest(lines=[ParcelLine(sku="BOOT", quantity=1)], reason=ReturnReason.OTHER)
    )
    await orders.wait(order_id, lambda o: o.needs_attention, "waits for approval")

    await orders.ops(order_id, OpsActionKind.REJECT, note="worn", rma_id=requested.rma_id)
    await orders.sent(order_id, "return_rejected")
    settled = await orders.wait(order_id, lambda o: o.status is OrderStatus.DELIVERED, "back to delivered")
    assert settled.returns[0].closed_reason == "rejected"
    told = [n for n in orders.stubs.notifications.values() if n.kind == "return_rejected"]
    assert len(told) == 1 and requested.rma_id in told[0].dedupe_key and "worn" in told[0].body
    await orders.projected(order_id)


async def test_the_order_does_not_close_before_a_finished_return_is_settled(orders: Orders) -> None:
    order_id = await _delivered(orders, OrderPolicy(activity_attempts=2, return_window=timedelta(days=2)))
    first, second = await _open(orders, order_id), await _open(orders, order_id)
    await orders.wait(
        order_id, lambda o: [r.status for r in o.returns] == [ReturnStatus.IN_TRANSIT] * 2, "labels bought"
    )
    await orders.wait(order_id, lambda o: orders.stubs.kinds(order_id).count("return_approved") == 2, "approvals told")

    # The second return's refund notice parks the order (both attempts fail) ...
    orders.stubs.glitch("send_notification", 2)
    await orders.receive_return(second, RECEIPT)
    await orders.wait(order_id, lambda o: "refunded notification" in (o.attention_reason or ""), "parked")
    # ... while the window ends and the first return finishes (the order's clock moves on with
    # its next workflow task: the first return's news).
    forward = asyncio.create_task(orders.fast_forward(orders.order(order_id), timedelta(days=3)))
    await orders.receive_return(first, RECEIPT)
    finished = await asyncio.wait_for(orders.rma(first).result(), timeout=20)
    assert finished.status is ReturnStatus.INSPECTED
    assert await asyncio.wait_for(forward, timeout=20)

    await orders.ops(order_id, OpsActionKind.RETRY)
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert [r.status for r in closed.returns] == [ReturnStatus.REFUNDED] * 2, "both refunded before closing"
    assert len(orders.stubs.operations("refund")) == 2
