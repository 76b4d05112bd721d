"""A risky order waits on hold for ops: approved it goes on, asked about it waits again for the
customer, left unanswered it is cancelled after the hold time, having reserved and charged nothing."""

from datetime import timedelta
from decimal import Decimal

from domain.enums import HoldReason, OpsActionKind, OrderStatus
from domain.models import OrderPolicy
from tests.workflows.driver import Orders, order_request

HIGH_VALUE = "6000.00"  # above the 5000.00 review threshold


async def test_a_held_order_waits_for_ops_and_goes_on_when_approved(orders: Orders) -> None:
    orders.stubs.add_item("TV", price=HIGH_VALUE, WH_EAST=2)
    held = await orders.submit(order_request(("TV", 1, HIGH_VALUE)))

    assert held.status is OrderStatus.ON_HOLD, "the submitter hears of the hold"
    assert held.hold is not None and held.hold.codes == [HoldReason.HIGH_VALUE]
    assert {OpsActionKind.APPROVE, OpsActionKind.REJECT, OpsActionKind.REQUEST_INFO} <= set(held.available_actions)
    assert orders.stubs.calls["reserve_stock"] == 0 and orders.stubs.ledger == [], "nothing is done before review"
    assert await orders.sent(held.order_id, "on_hold") == ["on_hold"]

    await orders.ops(held.order_id, OpsActionKind.APPROVE, note="known customer")
    going = await orders.wait_status(held.order_id, OrderStatus.FULFILLING)

    assert going.hold is None
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", Decimal(HIGH_VALUE)),
        ("capture", Decimal(HIGH_VALUE)),
    ]
    events = [e.event for e in going.timeline]
    assert events.index("order.held") < events.index("ops.approve") < events.index("order.accepted")
    await orders.projected(held.order_id)


async def test_request_info_tells_the_customer_and_gives_them_the_full_hold_time_again(orders: Orders) -> None:
    orders.stubs.add_item("TV", price=HIGH_VALUE, WH_EAST=2)
    held = await orders.submit(order_request(("TV", 1, HIGH_VALUE)), OrderPolicy(hold_timeout=timedelta(hours=48)))
    handle = orders.order(held.order_id)

    await orders.fast_forward(handle, timedelta(hours=30))
    asked = await orders.ops(held.order_id, OpsActionKind.REQUEST_INFO, note="please confirm the address")
    assert asked.status is OrderStatus.ON_HOLD
    assert asked.hold is not None and asked.hold.info_requested
    waiting = await orders.wait(
        held.order_id, lambda o: o.timeline[-1].event == "hold.waiting_for_customer", "waiting for the customer"
    )
    await orders.sent(held.order_id, "info_requested")
    message = next(n for n in orders.stubs.notifications.values() if n.kind == "info_requested")
    assert "please confirm the address" in message.body

    # 60 hours after the hold began, 30 after the request: past the first hold time, within the new one.
    await orders.fast_forward(handle, timedelta(hours=30))
    assert (await orders.state(held.order_id)).status is OrderStatus.ON_HOLD

    await orders.fast_forward(handle, timedelta(hours=19))
    cancelled = await orders.wait_status(held.order_id, OrderStatus.CANCELLED)
    assert cancelled.cancellation_reason == "hold timed out"
    assert orders.stubs.ledger == []
    assert waiting.hold is not None and waiting.hold.codes == [HoldReason.HIGH_VALUE]


async def test_an_unanswered_hold_cancels_after_the_hold_time_without_touching_stock_or_money(
    orders: Orders,
) -> None:
    orders.stubs.add_item("TV", price=HIGH_VALUE, WH_EAST=2)
    held = await orders.submit(order_request(("TV", 1, HIGH_VALUE)))

    await orders.fast_forward(orders.order(held.order_id), timedelta(hours=47))
    assert (await orders.state(held.order_id)).status is OrderStatus.ON_HOLD, "not before the 48 hours"
    await orders.fast_forward(orders.order(held.order_id), timedelta(hours=2))
    cancelled = await orders.wait_status(held.order_id, OrderStatus.CANCELLED)

    assert cancelled.cancellation_reason == "hold timed out"
    assert cancelled.timeline[-1].event == "order.cancelled"
    assert cancelled.timeline[-1].detail["codes"] == ["high_value"]
    assert cancelled.available_actions == []
    assert orders.stubs.ledger == []
    assert orders.stubs.calls["reserve_stock"] == 0 and orders.stubs.calls["release_stock"] == 0
    assert orders.stubs.reserved("WH-EAST", "TV") == 0
    assert await orders.sent(held.order_id, "cancelled") == ["on_hold", "cancelled"]
    await orders.projected(held.order_id)
