"""A backordered short pick wakes on a receipt (short-pick-wakes-on-receipt-20261202): the order
lists the wait in `short_waits`, the stock_arrived update accepts it, and the missing lines try
their reservation again at once (any warehouse) instead of only at the backorder's deadline."""

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain import ids
from domain.enums import ShipmentStatus, ShortPickPolicy
from domain.models import OrderPolicy, OrderView, ParcelLine, PickConfirmation, StockArrival
from tests.workflows.driver import Orders, order_request
from workflows.order.workflow import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


def _ended(order: OrderView) -> list[dict[str, object]]:
    return [e.detail for e in order.timeline if e.event == "short_pick.backorder_ended"]


async def _short_pick_backordered(orders: Orders) -> OrderView:
    orders.stubs.add_item("MUG", WH_EAST=2, WH_WEST=0)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00")),
        OrderPolicy(short_pick_policy=ShortPickPolicy.BACKORDER, backorder_timeout=timedelta(days=5)),
    )
    first = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(first, ShipmentStatus.PICKING)
    picked = PickConfirmation(lines=[ParcelLine(sku="MUG", quantity=1)], picker="picker-7")
    await orders.parcel(first).signal(ShipmentWorkflow.pick_confirmed, picked)
    return await orders.wait(order.order_id, lambda o: bool(o.short_waits), "the shortfall waits")


async def test_a_receipt_elsewhere_ships_the_backordered_shortfall_before_the_deadline(
    orders: Orders,
) -> None:
    view = await _short_pick_backordered(orders)
    (wait,) = view.short_waits
    assert wait.shipment_id == ids.shipment_id(view.order_id, 1)
    assert [(line.sku, line.quantity) for line in wait.missing] == [("MUG", 1)]

    orders.stubs.restock("WH-WEST", "MUG", 3)
    attempt = await orders.order(view.order_id).execute_update(
        OrderWorkflow.stock_arrived, StockArrival(sku="MUG", warehouse="WH-WEST")
    )
    assert attempt.reserved

    shipped = await orders.wait(
        view.order_id, lambda o: len(o.shipments) == 2, "the shortfall as a new parcel"
    )
    second = shipped.shipments[1]
    assert second.shipment_id == ids.shipment_id(view.order_id, 2) and second.warehouse == "WH-WEST"
    assert [(line.sku, line.quantity) for line in second.lines] == [("MUG", 1)]
    assert shipped.short_waits == []
    (ended,) = _ended(shipped)
    assert ended["handling"] == "reallocated" and ended["new"] == second.shipment_id
    entry = next(e for e in shipped.timeline if e.event == "short_pick.backorder_ended")
    assert entry.at < wait.until, "before the deadline"
    assert orders.stubs.reserved("WH-WEST", "MUG") == 1
    assert orders.stubs.operations("refund") == []
    await orders.wait(
        view.order_id,
        lambda o: orders.stubs.kinds(o.order_id).count("short_picked") == 2,
        "told of the backorder, then that it ships",
    )


async def test_a_receipt_too_small_keeps_the_shortfall_waiting(orders: Orders) -> None:
    view = await _short_pick_backordered(orders)
    handle = orders.order(view.order_id)
    with pytest.raises(WorkflowUpdateFailedError):  # not a SKU the order waits for
        await handle.execute_update(
            OrderWorkflow.stock_arrived, StockArrival(sku="LAMP", warehouse="WH-WEST")
        )

    attempt = await handle.execute_update(
        OrderWorkflow.stock_arrived, StockArrival(sku="MUG", warehouse="WH-WEST")
    )
    assert not attempt.reserved, "nothing arrived after all"
    still = await orders.wait(view.order_id, lambda o: bool(o.short_waits), "still waiting")
    assert len(still.shipments) == 1 and _ended(still) == []

    orders.stubs.restock("WH-WEST", "MUG", 1)
    attempt = await handle.execute_update(
        OrderWorkflow.stock_arrived, StockArrival(sku="MUG", warehouse="WH-WEST")
    )
    assert attempt.reserved
    shipped = await orders.wait(view.order_id, lambda o: len(o.shipments) == 2, "the next receipt ships it")
    assert shipped.short_waits == []
