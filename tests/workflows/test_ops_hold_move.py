"""Ops hold, release and move (workflows/order/parcel_control.py): a held order's parcels are not
picked or labelled until release (a pick confirmed meanwhile is kept), its SLA does not flag them
late because of the hold; a parcel not yet picked moves to another warehouse with its stock."""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import ids
from domain.enums import OpsActionKind, OrderStatus, ShipmentStatus
from domain.models import PickConfirmation, StockArrival
from tests.workflows.driver import Orders, _until, order_request
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


def _refusal(error: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = error.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_pick_confirmed_during_a_hold_waits_for_release(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    assert OpsActionKind.HOLD in (await orders.state(order.order_id)).available_actions

    held = await orders.ops(order.order_id, OpsActionKind.HOLD, note="customer called: wrong colour?")

    assert held.status is OrderStatus.FULFILLING, "the status stays: on_hold is verification's"
    assert held.hold is not None
    assert (held.hold.reason, held.hold.by) == ("customer called: wrong colour?", "ops-tester")
    assert (
        OpsActionKind.RELEASE in held.available_actions and OpsActionKind.HOLD not in held.available_actions
    )
    assert (held.timeline[-1].event, held.timeline[-1].actor) == ("ops.hold", "ops-tester")

    await orders.parcel(parcel).signal(ShipmentWorkflow.pick_confirmed, PickConfirmation(picker="picker-7"))
    await orders.fast_forward(orders.parcel(parcel), timedelta(hours=25))  # past the 24 h pick SLA
    still = await orders.parcel_state(parcel)
    assert still.status is ShipmentStatus.PICKING, "a held parcel is not packed"
    assert still.attention_reason is None, "the hold does not make the parcel late"
    assert orders.stubs.labels == {}
    assert not (await orders.state(order.order_id)).needs_attention

    released = await orders.ops(order.order_id, OpsActionKind.RELEASE)
    assert released.hold is None
    assert (released.timeline[-1].event, released.timeline[-1].actor) == ("ops.release", "ops-tester")
    await orders.wait_parcel(parcel, ShipmentStatus.LABEL_CREATED)
    assert orders.stubs.on_hand("WH-EAST", "DESK") == 2, "the kept pick was applied: the stock shipped"
    await orders.projected(order.order_id)


async def test_hold_needs_a_note_and_release_needs_a_hold(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    await orders.wait_parcel(ids.shipment_id(order.order_id, 1), ShipmentStatus.PICKING)

    with pytest.raises(WorkflowUpdateFailedError) as no_note:
        await orders.ops(order.order_id, OpsActionKind.HOLD)
    assert _refusal(no_note).type == "ActionNotApplicable"
    with pytest.raises(WorkflowUpdateFailedError) as no_hold:
        await orders.ops(order.order_id, OpsActionKind.RELEASE)
    assert _refusal(no_hold).type == "ActionNotApplicable"
    assert [
        e.event for e in (await orders.state(order.order_id)).timeline if e.event.startswith("ops.")
    ] == []


async def test_a_hold_placed_while_backordered_keeps_the_parcels_from_picking(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=0)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    await orders.wait_status(order.order_id, OrderStatus.BACKORDERED)
    await orders.ops(order.order_id, OpsActionKind.HOLD, note="check the address first")

    orders.stubs.restock("WH-EAST", "DESK", 3)
    await orders.order(order.order_id).execute_update(
        OrderWorkflow.stock_arrived, StockArrival(sku="DESK", warehouse="WH-EAST")
    )
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    assert (await orders.parcel_state(parcel)).status is ShipmentStatus.PENDING, (
        "no pick task during the hold"
    )

    await orders.ops(order.order_id, OpsActionKind.RELEASE)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    await orders.pick(parcel)
    await orders.projected(order.order_id)


async def test_a_parcel_not_yet_picked_moves_to_a_warehouse_with_stock(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3, WH_WEST=2)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    assert OpsActionKind.MOVE in (await orders.state(order.order_id)).available_actions

    moved = await orders.ops(
        order.order_id, OpsActionKind.MOVE, note="east is flooded", shipment_id=parcel, warehouse="WH-WEST"
    )

    assert moved.shipments[0].warehouse == "WH-WEST"
    entry = moved.timeline[-1]
    assert (entry.event, entry.actor, entry.detail["from"]) == ("ops.move", "ops-tester", "WH-EAST")
    assert (orders.stubs.reserved("WH-EAST", "DESK"), orders.stubs.reserved("WH-WEST", "DESK")) == (0, 1)
    assert (orders.stubs.on_hand("WH-EAST", "DESK"), orders.stubs.on_hand("WH-WEST", "DESK")) == (3, 2)
    await _until_parcel_at(orders, parcel, "WH-WEST")

    await orders.pick(parcel)
    assert (orders.stubs.on_hand("WH-EAST", "DESK"), orders.stubs.on_hand("WH-WEST", "DESK")) == (3, 1)
    assert orders.stubs.reserved("WH-WEST", "DESK") == 0
    await orders.projected(order.order_id)


async def test_a_move_to_a_warehouse_without_the_stock_is_refused_and_changes_nothing(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3, WH_WEST=0)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await orders.ops(order.order_id, OpsActionKind.MOVE, shipment_id=parcel, warehouse="WH-WEST")

    assert _refusal(refused).type == "OutOfStock"
    after = await orders.state(order.order_id)
    assert after.shipments[0].warehouse == "WH-EAST"
    assert "ops.move" not in [e.event for e in after.timeline]
    assert (orders.stubs.reserved("WH-EAST", "DESK"), orders.stubs.reserved("WH-WEST", "DESK")) == (1, 0)
    assert (await orders.parcel_state(parcel)).warehouse == "WH-EAST"


async def _until_parcel_at(orders: Orders, parcel: str, warehouse: str) -> None:
    await _until(
        lambda: orders.parcel(parcel).query(ShipmentWorkflow.state),
        lambda view: view.warehouse == warehouse,
        f"{parcel} at {warehouse}",
    )


async def test_a_pick_gets_its_whole_sla_again_after_a_hold(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    await orders.ops(order.order_id, OpsActionKind.HOLD, note="fraud check")

    await orders.fast_forward(orders.parcel(parcel), timedelta(hours=25))  # the 24 h SLA passes, held
    passed = await _until(
        lambda: orders.parcel(parcel).query(ShipmentWorkflow.state),
        lambda view: "during an ops hold" in (view.last_event or ""),
        "the SLA passed during the hold",
    )
    assert passed.attention_reason is None
    await orders.ops(order.order_id, OpsActionKind.RELEASE)
    await orders.fast_forward(orders.parcel(parcel), timedelta(hours=23))
    assert (await orders.parcel_state(parcel)).attention_reason is None, "a whole SLA again from the release"

    await orders.fast_forward(orders.parcel(parcel), timedelta(hours=2))
    late = await orders.wait(order.order_id, lambda o: o.needs_attention, "flagged after the release")
    assert late.attention_reason == f"parcel {parcel}: picking over its SLA of 1 day, 0:00:00"
    await orders.pick(parcel)
    await orders.wait(order.order_id, lambda o: not o.needs_attention, "cleared by the pick")
