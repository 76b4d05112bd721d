"""An order the stock cannot cover waits `backordered`; when the backorder time runs out, the
policy decides: `cancel` cancels the whole order, `ship_available` ships what there is."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from domain.enums import BackorderPolicy, OrderStatus
from domain.models import OrderPolicy
from tests.workflows.driver import Orders, order_request


async def test_an_unfilled_backorder_is_cancelled_under_the_cancel_policy(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=1)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00")), OrderPolicy(backorder_policy=BackorderPolicy.CANCEL)
    )
    waiting = await orders.wait_status(order.order_id, OrderStatus.BACKORDERED)
    assert waiting.timeline[-1].event == "order.backordered"
    assert await orders.sent(order.order_id, "backordered") == ["accepted", "backordered"]
    assert orders.stubs.ledger == [], "no charge while waiting for stock"

    await orders.fast_forward(orders.order(order.order_id), timedelta(days=13))
    assert (await orders.state(order.order_id)).status is OrderStatus.BACKORDERED, "not before 14 days"
    await orders.fast_forward(orders.order(order.order_id), timedelta(days=2))
    cancelled = await orders.wait_status(order.order_id, OrderStatus.CANCELLED)

    assert cancelled.cancellation_reason == "backorder not filled in time"
    assert orders.stubs.ledger == []
    assert orders.stubs.calls["release_stock"] == 1, "the reservation attempt is undone once"
    assert orders.stubs.reserved("WH-EAST", "MUG") == 0 and orders.stubs.on_hand("WH-EAST", "MUG") == 1
    await orders.sent(order.order_id, "cancelled")
    await orders.projected(order.order_id)


async def test_ship_available_ships_the_lines_in_stock_and_charges_only_for_them(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=5)
    orders.stubs.add_item("PLATE", WH_EAST=1)
    order = await orders.submit(
        order_request(("MUG", 1, "99.00"), ("PLATE", 3, "99.00")),
        OrderPolicy(backorder_policy=BackorderPolicy.SHIP_AVAILABLE),
    )
    assert order.totals.grand_total == Decimal("396.00")
    await orders.wait_status(order.order_id, OrderStatus.BACKORDERED)

    # After the timeout the order goes on to fulfilment, whose parcel waits for its pick: the
    # fast-forward runs in the background until the order has moved on.
    forward = asyncio.create_task(orders.fast_forward(orders.order(order.order_id), timedelta(days=15)))
    try:
        shipping = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    finally:
        forward.cancel()

    assert [(line.sku, line.quantity) for line in shipping.lines] == [("MUG", 1), ("PLATE", 1)]
    assert shipping.totals.grand_total == Decimal("210.00"), "198.00 of items and 12.00 of shipping"
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", Decimal("210.00")),
        ("capture", Decimal("210.00")),
    ]
    reduced = next(e for e in shipping.timeline if e.event == "order.reduced")
    assert reduced.detail == {"removed": {"PLATE": 2}}
    assert (orders.stubs.reserved("WH-EAST", "MUG"), orders.stubs.reserved("WH-EAST", "PLATE")) == (1, 1)
    assert "partially_available" in await orders.sent(order.order_id, "partially_available")
    await orders.projected(order.order_id)
