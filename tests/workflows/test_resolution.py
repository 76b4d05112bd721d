"""Resolving by hand (ops `refund` and `reship`): a parcel back at the sender no longer leaves the
order waiting with only a note; ops reship it (stock reserved anew) or refund it, and the order
closes once every parcel is delivered or resolved and the return window is over. Refunds never
pass what is left of the capture."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain import ids
from domain.enums import (
    CarrierIssue,
    ClaimKind,
    ClaimStatus,
    ItemCondition,
    OpsActionKind,
    OrderStatus,
    PaymentStatus,
    ReturnReason,
    ReturnResolution,
    ReturnStatus,
    ShipmentStatus,
    TrackingStatus,
)
from domain.models import (
    ClaimRequest,
    ClaimView,
    ParcelLine,
    PaymentRequest,
    ReceivedLine,
    ReturnReceipt,
    ReturnRequest,
)
from tests.workflows.driver import Orders, order_request
from workflows.order.workflow import OrderWorkflow
from workflows.returns import ReturnWorkflow


async def _returned_to_sender(orders: Orders, stock: int = 3) -> str:
    """An order of one 99.00 vase (111.00 with shipping) whose parcel failed three delivery attempts."""
    orders.stubs.add_item("VASE", WH_EAST=stock)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.hand_over(parcel)
    for _ in range(3):
        await orders.carrier(parcel, TrackingStatus.EXCEPTION, detail=CarrierIssue.FAILED_ATTEMPT.value)
    await orders.wait(
        order.order_id,
        lambda o: (
            o.shipments[0].status is ShipmentStatus.RETURNED_TO_SENDER
            and OpsActionKind.RESHIP in o.available_actions
        ),
        "the parcel back at the sender, reship offered",
    )
    return order.order_id


async def test_a_parcel_returned_to_sender_is_reshipped_by_ops_and_the_order_closes(orders: Orders) -> None:
    order_id = await _returned_to_sender(orders)
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    stuck = await orders.state(order_id)
    assert stuck.needs_attention
    assert {OpsActionKind.RESHIP, OpsActionKind.REFUND} <= set(stuck.available_actions)

    reshipped = await orders.ops(
        order_id, OpsActionKind.RESHIP, note="customer is home now", shipment_id=first
    )

    assert [s.shipment_id for s in reshipped.shipments] == [first, second]
    assert reshipped.shipments[0].outcome == f"reshipped as {second}"
    assert not reshipped.needs_attention
    assert OpsActionKind.RESHIP not in reshipped.available_actions
    key = ids.reship_reservation_key(order_id, 1)
    assert [(r.sku, r.quantity) for r in orders.stubs.reservations[key]] == [("VASE", 1)]
    events = [e.event for e in reshipped.timeline]
    assert events.index("ops.reship") < events.index("parcel.reshipped")
    await orders.sent(order_id, "reshipped")

    delivered = await orders.deliver(order_id, second)
    delivered = await orders.wait_status(order_id, OrderStatus.DELIVERED)
    assert delivered.payment.status is PaymentStatus.CAPTURED
    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert not closed.needs_attention
    await orders.projected(order_id)


async def test_a_parcel_returned_to_sender_is_refunded_by_ops_and_the_order_closes(orders: Orders) -> None:
    order_id = await _returned_to_sender(orders)
    first = ids.shipment_id(order_id, 1)

    await orders.ops(order_id, OpsActionKind.REFUND, note="customer gave up", shipment_id=first)

    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    refunds = orders.stubs.operations("refund")
    assert [(r.amount, r.key) for r in refunds] == [
        (Decimal("99.00"), ids.payment_key(order_id, "refund-ops-1"))
    ]
    assert closed.totals.refunded == Decimal("99.00")
    assert closed.shipments[0].outcome == "refunded 99.00"
    assert closed.timeline[-1].detail == {"reason": "fully refunded"}
    await orders.sent(order_id, "refunded")


async def test_a_reship_without_stock_is_refused_and_changes_nothing(orders: Orders) -> None:
    order_id = await _returned_to_sender(orders, stock=1)
    first = ids.shipment_id(order_id, 1)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await orders.ops(order_id, OpsActionKind.RESHIP, shipment_id=first)

    assert "no stock" in str(refused.value.cause)
    after = await orders.state(order_id)
    assert len(after.shipments) == 1 and after.shipments[0].outcome is None
    assert after.needs_attention and OpsActionKind.REFUND in after.available_actions


async def test_a_refund_beyond_the_capture_is_refused_and_a_goodwill_refund_is_paid(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    await orders.wait(order_id, lambda o: OpsActionKind.REFUND in o.available_actions, "captured")

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await orders.ops(order_id, OpsActionKind.REFUND, note="too much", amount="111.01")
    assert "more than is left" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError):
        await orders.ops(order_id, OpsActionKind.REFUND, amount="5.00")  # no note
    assert orders.stubs.operations("refund") == []

    first = await orders.ops(order_id, OpsActionKind.REFUND, note="late, sorry", amount="11.00")
    second = await orders.ops(
        order_id, OpsActionKind.REFUND, note="one vase", lines=[{"sku": "VASE", "quantity": 1}]
    )

    assert first.totals.refunded == Decimal("11.00")
    assert second.totals.refunded == Decimal("110.00")
    assert second.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert [(r.amount, r.key) for r in orders.stubs.operations("refund")] == [
        (Decimal("11.00"), ids.payment_key(order_id, "refund-ops-1")),
        (Decimal("99.00"), ids.payment_key(order_id, "refund-ops-2")),
    ]
    with pytest.raises(WorkflowUpdateFailedError):
        await orders.ops(order_id, OpsActionKind.REFUND, note="again", amount="1.01")
    assert [e.actor for e in second.timeline if e.event == "order.refunded"] == ["ops-tester", "ops-tester"]


async def _file(orders: Orders, order_id: str, kind: ClaimKind, shipment_id: str) -> ClaimView:
    return await orders.order(order_id).execute_update(
        OrderWorkflow.file_claim, ClaimRequest(kind=kind, shipment_id=shipment_id, comment="where is it?")
    )


async def test_a_claim_before_hand_over_or_twice_is_refused(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait(order.order_id, lambda o: len(o.shipments) == 1, "a parcel")
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await _file(orders, order.order_id, ClaimKind.NOT_RECEIVED, parcel)
    assert "not in the carrier's hands" in str(early.value.cause)

    await orders.hand_over(parcel)
    await orders.wait(order.order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")
    claim = await _file(orders, order.order_id, ClaimKind.NOT_RECEIVED, parcel)
    assert claim.status is ClaimStatus.OPEN and claim.lines[0].sku == "VASE"
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await _file(orders, order.order_id, ClaimKind.DAMAGED, parcel)
    assert "already open" in str(twice.value.cause)
    state = await orders.state(order.order_id)
    assert state.needs_attention
    assert {OpsActionKind.RESHIP, OpsActionKind.REFUND, OpsActionKind.REJECT_CLAIM} <= set(
        state.available_actions
    )


async def test_a_claim_after_delivery_keeps_the_order_open_until_it_is_rejected(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    parcel = ids.shipment_id(order_id, 1)
    await orders.deliver(order_id, parcel)
    await orders.wait_status(order_id, OrderStatus.DELIVERED)
    claim = await _file(orders, order_id, ClaimKind.DAMAGED, parcel)

    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    still = await orders.state(order_id)
    assert still.status is OrderStatus.DELIVERED, "an open claim keeps the order from closing"
    with pytest.raises(WorkflowUpdateFailedError):
        await orders.ops(order_id, OpsActionKind.REJECT_CLAIM, claim_id=claim.claim_id)  # no note

    await orders.ops(
        order_id, OpsActionKind.REJECT_CLAIM, note="photos show no damage", claim_id=claim.claim_id
    )

    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.claims[0].status is ClaimStatus.REJECTED
    assert closed.claims[0].note == "photos show no damage"
    assert orders.stubs.operations("refund") == []
    await orders.sent(order_id, "claim_rejected")


async def test_a_not_received_claim_is_answered_with_a_reship(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    await orders.hand_over(first)
    await orders.wait(order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")
    claim = await _file(orders, order_id, ClaimKind.NOT_RECEIVED, first)

    answered = await orders.ops(
        order_id, OpsActionKind.RESHIP, note="sending another", claim_id=claim.claim_id
    )

    assert answered.claims[0].status is ClaimStatus.RESHIPPED
    assert answered.shipments[0].outcome == f"reshipped as {second}"
    assert not answered.needs_attention
    assert OpsActionKind.REJECT_CLAIM not in answered.available_actions


async def test_a_parcel_the_carrier_never_delivers_is_reshipped_on_a_claim_and_the_order_closes(
    orders: Orders,
) -> None:
    """The carrier goes silent on a parcel in transit: after a not_received claim answered by a
    reship, the first parcel is no longer awaited (it would otherwise poll the carrier forever and
    the order could never close), and its outcome survives its last news."""
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    await orders.hand_over(first)
    await orders.wait(order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")
    claim = await _file(orders, order_id, ClaimKind.NOT_RECEIVED, first)
    await orders.ops(order_id, OpsActionKind.RESHIP, note="sending another", claim_id=claim.claim_id)

    await orders.deliver(order_id, second)
    await orders.wait_status(order_id, OrderStatus.DELIVERED)
    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)

    assert closed.shipments[0].status is ShipmentStatus.IN_TRANSIT
    assert closed.shipments[0].outcome == f"reshipped as {second}"
    assert closed.shipments[0].last_event == f"no longer awaited: reshipped as {second}"
    assert not closed.needs_attention


async def test_a_parcel_the_carrier_never_delivers_is_refunded_on_a_claim_and_the_order_closes(
    orders: Orders,
) -> None:
    """Refunding a not_received claim resolves its parcel as well: the order stops waiting for it."""
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first = ids.shipment_id(order_id, 1)
    await orders.hand_over(first)
    await orders.wait(order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")
    claim = await _file(orders, order_id, ClaimKind.NOT_RECEIVED, first)

    refunded = await orders.ops(
        order_id, OpsActionKind.REFUND, note="never arrived", claim_id=claim.claim_id
    )

    assert refunded.shipments[0].outcome == "refunded 99.00"
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.shipments[0].last_event == "no longer awaited: refunded 99.00"
    assert not closed.needs_attention


async def test_a_wrong_item_ships_the_right_one_at_once(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first = ids.shipment_id(order_id, 1)
    await orders.deliver(order_id, first)

    claim = await _file(orders, order_id, ClaimKind.WRONG_ITEM, first)

    assert claim.status is ClaimStatus.RESHIPPED
    after = await orders.state(order_id)
    assert len(after.shipments) == 2
    assert after.shipments[0].status is ShipmentStatus.DELIVERED and after.shipments[0].outcome is None


async def test_a_wrong_item_claim_opens_a_return_that_restocks_refunds_nothing_and_lets_the_order_close(
    orders: Orders,
) -> None:
    """The right vase ships at once and the order itself opens the return of the wrong one,
    approved at once (its label bought, the customer told): the order is returning while it is
    open; its receipt puts the unit back on hand and pays nothing, the claim having made it good;
    the order closes once the window is over."""
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    await orders.deliver(order_id, first)
    await orders.wait_status(order_id, OrderStatus.DELIVERED)

    claim = await _file(orders, order_id, ClaimKind.WRONG_ITEM, first)

    rma = ids.rma_id(order_id, 1)
    assert claim.status is ClaimStatus.RESHIPPED and claim.rma_id == rma
    opened = await orders.wait(
        order_id, lambda o: o.returns and o.returns[0].status is ReturnStatus.IN_TRANSIT, "the claim's return labelled"
    )
    view = opened.returns[0]
    assert (view.reason, view.resolution, view.awaiting_approval) == (
        ReturnReason.WRONG_ITEM,
        ReturnResolution.CLAIM,
        False,
    )
    assert [(line.sku, line.quantity) for line in view.lines] == [("VASE", 1)]
    assert view.tracking_number == orders.stubs.labels[ids.label_key(rma)].tracking_number
    await orders.sent(order_id, "return_approved")

    await orders.deliver(order_id, second)
    returning = await orders.wait_status(order_id, OrderStatus.RETURNING)
    assert returning.returns[0].rma_id == rma

    await orders.receive_return(
        rma, ReturnReceipt(lines=[ReceivedLine(sku="VASE", quantity=1, condition=ItemCondition.RESELLABLE)])
    )

    await orders.wait(
        order_id,
        lambda o: o.status is OrderStatus.DELIVERED and o.returns[0].status is ReturnStatus.INSPECTED,
        "the claim's return settled",
    )
    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.returns[0].status is ReturnStatus.INSPECTED
    assert closed.returns[0].refund_due == Decimal("0.00") and closed.returns[0].refund_amount == Decimal("0.00")
    assert orders.stubs.operations("refund") == [] and closed.totals.refunded == Decimal("0.00")
    assert closed.payment.status is PaymentStatus.CAPTURED
    assert orders.stubs.on_hand("WH-EAST", "VASE") == 2, "the wrong vase is back on the shelf"
    assert closed.claims[0].rma_id == rma and not closed.needs_attention
    events = [e.event for e in closed.timeline]
    assert events.index("parcel.reshipped") < events.index("return.requested") < events.index("return.claim_settled")
    assert [e.detail for e in closed.timeline if e.event == "return.claim_settled"] == [{"rma_id": rma}]
    assert events[-1] == "order.closed"
    await orders.projected(order_id)


async def test_a_return_requested_while_a_wrong_items_replacement_ships_answers_at_once(orders: Orders) -> None:
    """make fuzz (seed 20261201, order 937): a wrong_item claim and a return of another line,
    filed together right after delivery, while the order was still folding in the delivered
    parcel (here its cash-on-delivery capture is slow). The claim's right item ships at once, so
    the order stays in fulfilment until it is delivered; the return's answer waited that long,
    since only the closing loop started returns. Now its child starts from the request: both
    answer, both returns run while the replacement is on its way, and the order settles them
    and closes once it is delivered."""
    orders.stubs.add_item("VASE", WH_EAST=3)
    orders.stubs.add_item("MUG", "20.00", WH_EAST=3)
    order = await orders.submit(
        order_request(("VASE", 1, "99.00"), ("MUG", 1, "20.00"), payment=PaymentRequest(method="cod"))
    )
    order_id = order.order_id
    first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
    orders.stubs.glitch("capture_payment", 4)  # the order sits on the delivered parcel's capture
    await orders.deliver(order_id, first)
    await orders.wait_status(order_id, OrderStatus.DELIVERED)
    orders.stubs.glitch("reserve_stock", 2)  # the right vase's reservation takes a while

    claim, ret = await asyncio.wait_for(
        asyncio.gather(
            orders.order(order_id).execute_update(
                OrderWorkflow.file_claim,
                ClaimRequest(kind=ClaimKind.WRONG_ITEM, shipment_id=first, lines=[ParcelLine(sku="VASE", quantity=1)]),
            ),
            orders.request_return(
                order_id, ReturnRequest(lines=[ParcelLine(sku="MUG", quantity=1)], reason=ReturnReason.NO_LONGER_NEEDED)
            ),
        ),
        timeout=90,  # a hang guard: before the fix the return answered only after the next delivery
    )

    assert claim.status is ClaimStatus.RESHIPPED
    during = await orders.wait(order_id, lambda o: len(o.returns) == 2, "both returns on the order")
    assert during.shipments[1].shipment_id == second and during.shipments[1].status is not ShipmentStatus.DELIVERED
    claim_rma = claim.rma_id
    assert claim_rma is not None and {r.rma_id for r in during.returns} == {ret.rma_id, claim_rma}
    for rma in (ret.rma_id, claim_rma):  # each return's child runs already
        assert (await orders.rma(rma).query(ReturnWorkflow.state)).rma_id == rma

    await orders.deliver(order_id, second)
    await orders.wait_status(order_id, OrderStatus.RETURNING)
    approved = await orders.state(order_id)
    if any(r.awaiting_approval for r in approved.returns):
        await orders.ops(order_id, OpsActionKind.APPROVE, note="fine", rma_id=ret.rma_id)
    await orders.receive_return(
        claim_rma, ReturnReceipt(lines=[ReceivedLine(sku="VASE", quantity=1, condition=ItemCondition.RESELLABLE)])
    )
    await orders.receive_return(
        ret.rma_id, ReturnReceipt(lines=[ReceivedLine(sku="MUG", quantity=1, condition=ItemCondition.RESELLABLE)])
    )
    await orders.wait(
        order_id,
        lambda o: o.status is OrderStatus.DELIVERED and {r.rma_id: r.status for r in o.returns}
        == {claim_rma: ReturnStatus.INSPECTED, ret.rma_id: ReturnStatus.REFUNDED},
        "both returns settled",
    )
    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert closed.totals.refunded == Decimal("20.00"), "the mug is refunded, the wrong vase is not"
    assert not closed.needs_attention
    await orders.projected(order_id)


async def test_a_wrong_item_claim_on_a_parcel_not_yet_delivered_is_refused(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    first = ids.shipment_id(order.order_id, 1)
    await orders.hand_over(first)
    await orders.wait(order.order_id, lambda o: o.shipments[0].handed_over, "the order sees the hand-over")

    with pytest.raises(WorkflowUpdateFailedError) as early:
        await _file(orders, order.order_id, ClaimKind.WRONG_ITEM, first)

    assert "not delivered yet" in str(early.value.cause)
    after = await orders.state(order.order_id)
    assert after.claims == [] and len(after.shipments) == 1 and after.returns == []


async def test_a_wrong_item_claim_refunded_after_the_window_opens_a_return_the_order_waits_for(
    orders: Orders,
) -> None:
    """No stock for the right vase: the claim waits for ops past the return window, and ops refund
    it; the return of the wrong one opens then, late as it is: the order is returning, not closed,
    until its receipt (damaged: written off), which pays nothing more."""
    orders.stubs.add_item("VASE", WH_EAST=1)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    first = ids.shipment_id(order_id, 1)
    await orders.deliver(order_id, first)
    await orders.wait_status(order_id, OrderStatus.DELIVERED)
    claim = await _file(orders, order_id, ClaimKind.WRONG_ITEM, first)
    assert claim.status is ClaimStatus.OPEN and claim.rma_id is None

    await orders.fast_forward(orders.order(order_id), timedelta(days=31))
    assert (await orders.state(order_id)).status is OrderStatus.DELIVERED, "the open claim holds the order"

    refunded = await orders.ops(order_id, OpsActionKind.REFUND, note="none left", claim_id=claim.claim_id)

    rma = ids.rma_id(order_id, 1)
    assert refunded.claims[0].status is ClaimStatus.REFUNDED and refunded.claims[0].rma_id == rma
    assert refunded.returns[0].resolution is ReturnResolution.CLAIM
    returning = await orders.wait(
        order_id,
        lambda o: o.status is OrderStatus.RETURNING and o.returns[0].status is ReturnStatus.IN_TRANSIT,
        "the late claim's return under way",
    )
    assert not returning.needs_attention
    await orders.receive_return(
        rma, ReturnReceipt(lines=[ReceivedLine(sku="VASE", quantity=1, condition=ItemCondition.DAMAGED)])
    )
    closed = await orders.wait_status(order_id, OrderStatus.CLOSED)
    assert [r.amount for r in orders.stubs.operations("refund")] == [Decimal("99.00")]
    assert closed.totals.refunded == Decimal("99.00")
    assert closed.returns[0].status is ReturnStatus.INSPECTED
    assert orders.stubs.on_hand("WH-EAST", "VASE") == 0, "the damaged wrong vase is written off"


async def test_a_cancel_after_a_goodwill_refund_refunds_only_the_rest(orders: Orders) -> None:
    orders.stubs.add_item("VASE", WH_EAST=3)
    order = await orders.submit(order_request(("VASE", 1, "99.00")))
    order_id = order.order_id
    await orders.wait(order_id, lambda o: OpsActionKind.REFUND in o.available_actions, "captured")
    await orders.ops(order_id, OpsActionKind.REFUND, note="sorry for the wait", amount="11.00")

    cancelled = await orders.cancel(order_id)

    assert cancelled.status is OrderStatus.CANCELLED
    assert [r.amount for r in orders.stubs.operations("refund")] == [Decimal("11.00"), Decimal("100.00")]
    assert cancelled.totals.refunded == Decimal("111.00")
    assert cancelled.payment.status is PaymentStatus.REFUNDED
