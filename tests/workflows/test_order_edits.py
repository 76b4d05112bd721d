"""Order edits (workflows/order/edits.py) on the time-skipping dev server with stub activities:
a higher total authorizes the difference, a lower one refunds it, a decline changes nothing, and
a picked parcel's lines can no longer change."""

import asyncio
from collections.abc import Awaitable
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import ids
from domain.enums import OpsActionKind, OrderStatus, ShipmentStatus
from domain.models import ContactChange, EditLine, LinesEdit, OrderView
from tests.conftest import eventually
from tests.workflows.driver import Orders, order_request
from workflows.order import OrderWorkflow


async def _edit(orders: Orders, order_id: str, *lines: tuple[str, int]) -> OrderView:
    return await orders.order(order_id).execute_update(
        OrderWorkflow.edit_lines,
        LinesEdit(lines=[EditLine(sku=sku, quantity=quantity) for sku, quantity in lines], actor="client-7"),
    )


def _refusal(error: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = error.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def _fulfilling(orders: Orders, *lines: tuple[str, int, str]) -> tuple[OrderView, str]:
    order = await orders.submit(order_request(*lines))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    return order, parcel


async def test_a_higher_total_authorizes_the_difference_and_rebuilds_the_parcel(orders: Orders) -> None:
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=5)
    stubs.add_item("LAMP", "50.00", WH_EAST=5)
    order, first = await _fulfilling(orders, ("DESK", 1, "99.00"))
    assert order.totals.grand_total == Decimal("111.00")

    edited = await _edit(orders, order.order_id, ("DESK", 2), ("LAMP", 1))

    assert [(line.sku, line.quantity, line.unit_price) for line in edited.lines] == [
        ("DESK", 2, Decimal("99.00")),
        ("LAMP", 1, Decimal("50.00")),  # the catalog price
    ]
    assert edited.totals.grand_total == Decimal("260.00") and edited.payment.amount == Decimal("260.00")
    authorized = [row for row in stubs.operations("authorize") if "edit1" in row.key]
    captured = [row for row in stubs.operations("capture") if "edit1" in row.key]
    assert [row.amount for row in authorized] == [Decimal("149.00")]
    assert [(row.payment_id, row.amount) for row in captured] == [(authorized[0].payment_id, Decimal("149.00"))]
    entry = edited.timeline[-1]
    assert (entry.event, entry.actor) == ("order.lines_edited", "client-7")
    assert entry.detail["difference"] == "149.00" and entry.detail["parcels"]["replaced"] == [first]
    assert (stubs.reserved("WH-EAST", "DESK"), stubs.reserved("WH-EAST", "LAMP")) == (2, 1), "one swap"

    second = ids.shipment_id(order.order_id, 2)
    assert (await orders.wait_parcel(first, ShipmentStatus.CANCELLED)).status is ShipmentStatus.CANCELLED
    rebuilt = await orders.wait_parcel(second, ShipmentStatus.PICKING)
    assert sorted((line.sku, line.quantity) for line in rebuilt.lines) == [("DESK", 2), ("LAMP", 1)]

    # Cancelled now, every payment goes back, each no more than it took.
    cancelled = await orders.cancel(order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    refunds = {row.payment_id: row.amount for row in stubs.operations("refund")}
    assert sum(refunds.values()) == Decimal("260.00")
    assert refunds[authorized[0].payment_id] == Decimal("149.00")
    assert (stubs.reserved("WH-EAST", "DESK"), stubs.reserved("WH-EAST", "LAMP")) == (0, 0)
    await orders.projected(order.order_id)


async def test_a_lower_total_refunds_the_difference(orders: Orders) -> None:
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=5)
    stubs.add_item("LAMP", "50.00", WH_EAST=5)
    order, _ = await _fulfilling(orders, ("DESK", 3, "99.00"), ("LAMP", 1, "50.00"))
    assert order.totals.grand_total == Decimal("347.00")  # free standard shipping from 299

    edited = await _edit(orders, order.order_id, ("DESK", 1))  # LAMP left out: cancelled

    assert [(line.sku, line.quantity) for line in edited.lines] == [("DESK", 1)]
    assert edited.totals.grand_total == Decimal("111.00")
    assert edited.totals.refunded == Decimal("0.00"), "the order costs less; nothing of it was refunded"
    assert [row.amount for row in stubs.operations("refund")] == [Decimal("236.00")]
    assert (stubs.reserved("WH-EAST", "DESK"), stubs.reserved("WH-EAST", "LAMP")) == (1, 0)
    assert edited.timeline[-1].detail["difference"] == "-236.00"

    second = ids.shipment_id(order.order_id, 2)
    await orders.pick(second)
    assert stubs.on_hand("WH-EAST", "DESK") == 4 and stubs.on_hand("WH-EAST", "LAMP") == 5
    await orders.projected(order.order_id)


async def test_a_declined_difference_changes_nothing(orders: Orders) -> None:
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=5)
    order, first = await _fulfilling(orders, ("DESK", 1, "99.00"))
    stubs.declining = True

    with pytest.raises(WorkflowUpdateFailedError) as declined:
        await _edit(orders, order.order_id, ("DESK", 4))

    assert _refusal(declined).type == "PaymentDeclined"
    after = await orders.state(order.order_id)
    assert [(line.sku, line.quantity) for line in after.lines] == [("DESK", 1)]
    assert after.totals == order.totals and len(after.shipments) == 1
    assert "order.lines_edited" not in [e.event for e in after.timeline]
    assert stubs.reserved("WH-EAST", "DESK") == 1
    assert stubs.operations("capture")[-1].amount == Decimal("111.00"), "nothing more captured"
    assert (await orders.parcel_state(first)).status is ShipmentStatus.PICKING
    await orders.pick(first)


async def test_no_stock_for_the_new_lines_voids_the_difference(orders: Orders) -> None:
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=2)
    order, _ = await _fulfilling(orders, ("DESK", 1, "99.00"))

    with pytest.raises(WorkflowUpdateFailedError) as short:
        await _edit(orders, order.order_id, ("DESK", 5))

    assert _refusal(short).type == "OutOfStock"
    voided = [row for row in stubs.operations("void") if "edit1" in row.key]
    assert len(voided) == 1, "the difference's authorization is voided"
    assert stubs.reserved("WH-EAST", "DESK") == 1
    assert (await orders.state(order.order_id)).lines[0].quantity == 1


async def test_a_picked_parcel_is_too_late_to_edit(orders: Orders) -> None:
    orders.stubs.add_item("DESK", "99.00", WH_EAST=5)
    order, first = await _fulfilling(orders, ("DESK", 1, "99.00"))
    await orders.pick(first)
    await orders.wait(order.order_id, lambda o: o.shipments[0].label_id is not None, "the order knows the label")

    with pytest.raises(WorkflowUpdateFailedError) as late:
        await _edit(orders, order.order_id, ("DESK", 2))

    refusal = _refusal(late)
    assert refusal.type == "TooLateToEdit"
    assert f"parcel {first} holding DESK is already picked" in refusal.message
    assert (await orders.state(order.order_id)).lines[0].quantity == 1


async def test_the_contact_changes_until_the_order_ends(orders: Orders) -> None:
    orders.stubs.add_item("DESK", "99.00", WH_EAST=5)
    order, _ = await _fulfilling(orders, ("DESK", 1, "99.00"))

    changed = await orders.order(order.order_id).execute_update(
        OrderWorkflow.edit_contact, ContactChange(email="new@example.com", actor="ops-9")
    )
    assert (changed.customer.email, changed.customer.phone) == ("new@example.com", order.customer.phone)
    assert (changed.timeline[-1].event, changed.timeline[-1].actor) == ("order.contact_changed", "ops-9")

    await orders.projected(order.order_id)


async def test_on_hold_only_the_lines_change_and_the_approved_order_pays_the_new_total(orders: Orders) -> None:
    stubs = orders.stubs
    stubs.add_item("TV", "6000.00", WH_EAST=2)
    stubs.add_item("CABLE", "20.00", WH_EAST=5)
    held = await orders.submit(order_request(("TV", 1, "6000.00")))
    assert held.status is OrderStatus.ON_HOLD

    edited = await _edit(orders, held.order_id, ("TV", 1), ("CABLE", 2))

    assert edited.status is OrderStatus.ON_HOLD
    assert edited.totals.grand_total == Decimal("6040.00")
    assert stubs.ledger == [] and stubs.calls["reserve_stock"] == 0, "nothing reserved or paid on hold"
    await orders.ops(held.order_id, OpsActionKind.APPROVE, note="known customer")
    going = await orders.wait_status(held.order_id, OrderStatus.FULFILLING)
    assert [(row.operation, row.amount) for row in stubs.ledger] == [
        ("authorize", Decimal("6040.00")),
        ("capture", Decimal("6040.00")),
    ]
    parcel = await orders.parcel_state(going.shipments[0].shipment_id)
    assert sorted((line.sku, line.quantity) for line in parcel.lines) == [("CABLE", 2), ("TV", 1)]


async def test_the_same_lines_again_change_nothing(orders: Orders) -> None:
    orders.stubs.add_item("DESK", "99.00", WH_EAST=5)
    order, _ = await _fulfilling(orders, ("DESK", 1, "99.00"))

    same = await _edit(orders, order.order_id, ("DESK", 1))

    assert "order.lines_edited" not in [e.event for e in same.timeline]
    assert len(same.shipments) == 1 and orders.stubs.calls["swap_reservations"] == 0


async def test_an_edit_never_pays_back_what_was_refunded_already(orders: Orders) -> None:
    """make fuzz (seed 20261201, orders 412 and 1309): ops refunded a line, then an edit took it
    off and refunded its price again (capped only by what was left of the capture): the customer
    had all 131.00 back and still got the mug. A refunded line can no longer be reduced, and no
    edit takes the total below what was refunded; an edit within that moves money exactly."""
    orders.stubs.add_item("VASE", WH_EAST=5)
    orders.stubs.add_item("MUG", "20.00", WH_EAST=5)
    order, _ = await _fulfilling(orders, ("VASE", 1, "99.00"), ("MUG", 1, "20.00"))  # 131.00 with shipping
    oid = order.order_id
    await orders.wait(oid, lambda o: OpsActionKind.REFUND in o.available_actions, "captured")
    await orders.ops(oid, OpsActionKind.REFUND, note="chipped", lines=[{"sku": "VASE", "quantity": 1}])

    with pytest.raises(WorkflowUpdateFailedError) as refunded_line:
        await _edit(orders, oid, ("MUG", 1))
    assert _refusal(refunded_line).type == "TooLateToEdit"
    assert "VASE was refunded 99.00" in str(_refusal(refunded_line).message)

    orders.stubs.add_item("LAMP", "10.00", WH_EAST=5)
    with pytest.raises(WorkflowUpdateFailedError) as below_refunded:
        await orders.ops(oid, OpsActionKind.REFUND, note="sorry", amount="20.00")  # 119.00 refunded now
        await _edit(orders, oid, ("VASE", 1), ("LAMP", 1))  # 99 + 10 + 12 = 121.00: still above
        await _edit(orders, oid, ("VASE", 1))  # 111.00: below the 119.00 refunded
    assert _refusal(below_refunded).type == "TooLateToEdit"
    assert "cannot go below" in str(_refusal(below_refunded).message)

    view = await orders.state(oid)
    captured = sum((r.amount for r in orders.stubs.operations("capture")), Decimal(0))
    refunded = sum((r.amount for r in orders.stubs.operations("refund")), Decimal(0))
    assert captured - refunded == view.totals.grand_total - view.totals.refunded
    assert [(line.sku, line.quantity) for line in view.lines] == [("VASE", 1), ("LAMP", 1)]
    await orders.projected(oid)


async def test_a_cancel_during_an_edit_waits_for_it_and_then_undoes_all_of_it(orders: Orders) -> None:
    """make fuzz (seed 20261201, order 441): a cancel came while an edit was reserving its new
    lines. The compensations ran beside the edit: they released the stock before the edit had
    reserved it, refunded before it captured its difference, and were done before its new parcel
    started, so that parcel ended `cancelled` without the order hearing (its own state still
    `pending`). Now the compensations wait for the edit, then undo it with the rest: every
    parcel cancelled on the order, nothing reserved, every cent captured refunded."""
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=5)
    stubs.add_item("LAMP", "50.00", WH_EAST=5)
    order, first = await _fulfilling(orders, ("DESK", 1, "99.00"))
    oid = order.order_id
    stubs.glitch("swap_reservations", 3)  # the edit sits in its reservation a few seconds
    edit = asyncio.create_task(_edit(orders, oid, ("DESK", 2), ("LAMP", 1)))
    await eventually(lambda: stubs.calls["swap_reservations"] >= 1)

    # Hang guards: before the fix the cancel answered, but its order never ended (the edit's
    # parcel was never folded in).
    cancelled = await asyncio.wait_for(orders.cancel(oid), timeout=60)
    edited = await asyncio.wait_for(edit, timeout=60)  # under way: it goes through, then is undone

    assert cancelled.status is OrderStatus.CANCELLED
    assert [(line.sku, line.quantity) for line in edited.lines] == [("DESK", 2), ("LAMP", 1)]
    view = await orders.projected(oid)
    second = ids.shipment_id(oid, 2)
    assert [(s.shipment_id, s.status) for s in view.shipments] == [
        (first, ShipmentStatus.CANCELLED),
        (second, ShipmentStatus.CANCELLED),
    ]
    assert (await orders.parcel_state(second)).status is ShipmentStatus.CANCELLED
    assert (stubs.reserved("WH-EAST", "DESK"), stubs.reserved("WH-EAST", "LAMP")) == (0, 0)
    captured = sum((r.amount for r in stubs.operations("capture")), Decimal(0))
    refunded = sum((r.amount for r in stubs.operations("refund")), Decimal(0))
    assert captured == Decimal("260.00") and refunded == captured, (captured, refunded)



async def test_refund_and_reship_are_refused_while_the_order_is_being_cancelled(orders: Orders) -> None:
    """Once the compensations have begun (here they wait for an edit under way), an ops refund or
    reship is refused with the reason: the compensations refund and release everything anyway,
    and one beside them would race their refund."""
    stubs = orders.stubs
    stubs.add_item("DESK", "99.00", WH_EAST=5)
    stubs.add_item("LAMP", "50.00", WH_EAST=5)
    order, first = await _fulfilling(orders, ("DESK", 1, "99.00"))
    oid = order.order_id
    stubs.glitch("swap_reservations", 5)  # the edit, and so the cancel, sit a few seconds
    edit = asyncio.create_task(_edit(orders, oid, ("DESK", 2), ("LAMP", 1)))
    await eventually(lambda: stubs.calls["swap_reservations"] >= 1)
    cancel = asyncio.create_task(orders.cancel(oid))

    async def refusal(kind: OpsActionKind, **params: object) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await orders.ops(oid, kind, note="goodwill", **params)
        return str(_refusal(refused))

    # Before the compensations begin, this refund is refused as too large; once they have, as
    # coming during a cancel. Neither changes anything.
    await eventually(lambda: _is_cancelling(refusal(OpsActionKind.REFUND, amount="99999.00")))
    assert "being cancelled" in await refusal(OpsActionKind.RESHIP, shipment_id=first)
    assert "being cancelled" in await refusal(OpsActionKind.REFUND, amount="1.00")

    assert (await asyncio.wait_for(cancel, timeout=60)).status is OrderStatus.CANCELLED
    await asyncio.wait_for(edit, timeout=60)
    refunds = stubs.operations("refund")
    captured = sum((r.amount for r in stubs.operations("capture")), Decimal(0))
    assert sum((r.amount for r in refunds), Decimal(0)) == captured, "the compensations' refunds only"
    assert not any("ops-" in r.key for r in refunds)


async def _is_cancelling(refusal: Awaitable[str]) -> bool:
    return "being cancelled" in await refusal
