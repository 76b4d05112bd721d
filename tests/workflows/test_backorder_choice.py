"""A backordered order asks its customer what to do (issue 17): wait, ship what is there, cancel
the missing lines, or take a substitute the catalog lists. Unanswered, the policy applies at the
timeout. The real OrderWorkflow on the time-skipping server, stub activities."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.enums import BackorderChoiceKind, OrderStatus
from domain.models import BackorderChoice, OrderView, StockArrival
from tests.conftest import eventually
from tests.workflows.driver import Orders, order_request
from workflows.order import OrderWorkflow


def stock_up(orders: Orders) -> None:
    """MUG is out of stock and may be replaced by CUP (dearer) or BOWL; PLATE is in stock."""
    orders.stubs.add_item("MUG", WH_EAST=0)
    orders.stubs.add_item("CUP", price="129.00", WH_EAST=5)
    orders.stubs.add_item("BOWL", WH_EAST=0)
    orders.stubs.add_item("PLATE", WH_EAST=5)
    orders.stubs.catalog["MUG"].substitutes = ["CUP", "BOWL"]


async def choose(orders: Orders, order_id: str, choice: str, **substitutes: str) -> OrderView:
    return await orders.order(order_id).execute_update(
        OrderWorkflow.backorder_choice,
        BackorderChoice(choice=BackorderChoiceKind(choice), substitutes=substitutes, actor="shop-key"),
    )


async def refused(orders: Orders, order_id: str, choice: str, **substitutes: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await choose(orders, order_id, choice, **substitutes)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def backordered(orders: Orders, *lines: tuple[str, int, str]) -> OrderView:
    order = await orders.submit(order_request(*lines))
    return await orders.wait(
        order.order_id,
        lambda o: o.status is OrderStatus.BACKORDERED and o.backorder is not None,
        "backordered, asking",
    )


def chosen(order: OrderView) -> list[tuple[str, dict[str, object]]]:
    return [(e.actor, e.detail) for e in order.timeline if e.event == "backorder.chosen"]


async def test_the_backordered_order_asks_with_the_substitutes_on_offer(orders: Orders) -> None:
    stock_up(orders)
    order = await backordered(orders, ("MUG", 2, "99.00"), ("PLATE", 1, "99.00"))

    ask = order.backorder
    assert ask is not None
    assert [(m.sku, m.quantity) for m in ask.missing] == [("MUG", 2)]
    assert [c.value for c in ask.choices] == ["wait", "ship_available", "cancel_missing", "substitute"]
    assert ask.substitutes == {"MUG": ["CUP", "BOWL"]}
    assert order.timeline[-1].event == "order.backordered"
    assert ask.until.isoformat() == order.timeline[-1].detail["until"]
    await orders.sent(order.order_id, "backordered")
    message = next(n for n in orders.stubs.notifications.values() if n.kind == "backordered")
    assert "MUG x2" in message.body and "substitute" in message.body and "CUP, BOWL" in message.body
    await orders.projected(order.order_id)


async def test_substitute_takes_the_missing_units_at_the_price_the_customer_agreed(orders: Orders) -> None:
    stock_up(orders)
    order = await backordered(orders, ("MUG", 2, "99.00"), ("PLATE", 1, "99.00"))
    total = order.totals.grand_total

    answered = await choose(orders, order.order_id, "substitute", MUG="CUP")

    assert answered.status is not OrderStatus.BACKORDERED and answered.backorder is None
    assert [(line.sku, line.quantity, line.unit_price) for line in answered.lines] == [
        ("PLATE", 1, Decimal("99.00")),
        ("CUP", 2, Decimal("99.00")),
    ], "CUP costs 129.00 in the catalog; the customer pays what they agreed for MUG"
    assert answered.totals.grand_total == total
    assert chosen(answered) == [("shop-key", {"choice": "substitute", "substitutes": {"MUG": "CUP"}})]
    filled = next(e for e in answered.timeline if e.event == "backorder.filled")
    assert filled.detail == {"substituted": {"MUG": "CUP"}}
    shipping = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [("authorize", total), ("capture", total)]
    assert orders.stubs.reserved("WH-EAST", "CUP") == 2 and orders.stubs.reserved("WH-EAST", "PLATE") == 1
    assert [line.sku for s in shipping.shipments for line in s.lines] == ["PLATE", "CUP"]
    await orders.projected(order.order_id)


async def test_a_substitute_out_of_stock_too_changes_nothing(orders: Orders) -> None:
    stock_up(orders)
    order = await backordered(orders, ("MUG", 2, "99.00"))

    refusal = await refused(orders, order.order_id, "substitute", MUG="BOWL")

    assert refusal.type == "OutOfStock"
    still = await orders.state(order.order_id)
    assert still.status is OrderStatus.BACKORDERED and still.backorder == order.backorder
    assert [(line.sku, line.quantity) for line in still.lines] == [("MUG", 2)]
    assert [e.event for e in still.timeline] == [e.event for e in order.timeline], "nothing recorded"
    assert orders.stubs.reserved("WH-EAST", "BOWL") == 0
    # Unanswered otherwise, the policy (cancel) applies at the timeout.
    await orders.fast_forward(orders.order(order.order_id), timedelta(days=15))
    cancelled = await orders.wait_status(order.order_id, OrderStatus.CANCELLED)
    assert cancelled.cancellation_reason == "backorder not filled in time"


async def test_answers_that_do_not_apply_are_refused_by_the_validator(orders: Orders) -> None:
    stock_up(orders)
    order = await backordered(orders, ("MUG", 2, "99.00"), ("PLATE", 1, "99.00"))

    not_listed = await refused(orders, order.order_id, "substitute", MUG="PLATE")
    assert not_listed.type == "InvalidOrder"
    assert not_listed.details[0] == [
        {"field": "substitutes.MUG", "message": "PLATE is not a listed substitute of MUG (listed: CUP, BOWL)"}
    ]
    not_missing = await refused(orders, order.order_id, "substitute", PLATE="CUP")
    assert [p["field"] for p in not_missing.details[0]] == ["substitutes.PLATE", "substitutes.MUG"]
    stray = await refused(orders, order.order_id, "wait", MUG="CUP")
    assert [p["field"] for p in stray.details[0]] == ["substitutes"]
    assert chosen(await orders.state(order.order_id)) == []

    in_stock = await orders.submit(order_request(("PLATE", 1, "99.00")))
    await orders.wait_status(in_stock.order_id, OrderStatus.FULFILLING)
    assert (await refused(orders, in_stock.order_id, "wait")).type == "ActionNotApplicable"


# One order per test where the projection is checked: the stubs' projection knows transitions by
# sequence number alone (tests/workflows/stubs.py).
LINES = (("MUG", 3, "99.00"), ("PLATE", 1, "99.00"), ("FORK", 1, "99.00"))


def short_stock(orders: Orders) -> None:
    """MUG: 1 of 3 in stock; PLATE in stock; FORK out of stock."""
    orders.stubs.add_item("MUG", WH_EAST=1)
    orders.stubs.add_item("PLATE", WH_EAST=5)
    orders.stubs.add_item("FORK", WH_EAST=0)


async def test_ship_available_ships_what_is_there_part_lines_included(orders: Orders) -> None:
    short_stock(orders)
    order = await backordered(orders, *LINES)
    assert order.backorder is not None
    assert [(m.sku, m.quantity) for m in order.backorder.missing] == [("MUG", 2), ("FORK", 1)]

    shipped = await choose(orders, order.order_id, "ship_available")

    assert [(line.sku, line.quantity) for line in shipped.lines] == [("MUG", 1), ("PLATE", 1)]
    reduced = next(e for e in shipped.timeline if e.event == "order.reduced")
    assert reduced.detail == {"removed": {"MUG": 2, "FORK": 1}}
    assert chosen(shipped) == [("shop-key", {"choice": "ship_available"})]
    charged = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    assert charged.payment.amount == Decimal("210.00"), "198.00 of items and 12.00 of shipping"
    await orders.projected(order.order_id)


async def test_cancel_missing_drops_every_line_not_wholly_in_stock(orders: Orders) -> None:
    short_stock(orders)
    order = await backordered(orders, *LINES)

    kept = await choose(orders, order.order_id, "cancel_missing")

    assert [(line.sku, line.quantity) for line in kept.lines] == [("PLATE", 1)], "MUG is short: dropped whole"
    assert kept.totals.grand_total == Decimal("111.00"), "99.00 of PLATE and 12.00 of shipping"
    assert chosen(kept) == [("shop-key", {"choice": "cancel_missing"})]
    charged = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", Decimal("111.00")),
        ("capture", Decimal("111.00")),
    ]
    assert orders.stubs.reserved("WH-EAST", "MUG") == 0
    assert charged.payment.amount == Decimal("111.00")
    await orders.projected(order.order_id)


async def test_cancel_missing_with_nothing_whole_in_stock_cancels_the_order(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=1)
    order = await backordered(orders, ("MUG", 3, "99.00"))

    answered = await choose(orders, order.order_id, "cancel_missing")

    assert answered.status is OrderStatus.CANCELLED
    assert answered.cancellation_reason == "nothing of the backordered order is in stock"
    assert orders.stubs.ledger == [], "nothing was ever charged"
    await orders.sent(order.order_id, "cancelled")


async def test_wait_keeps_waiting_until_stock_arrives_or_the_policy_at_the_timeout(orders: Orders) -> None:
    stock_up(orders)
    order = await backordered(orders, ("MUG", 1, "99.00"))

    waiting = await choose(orders, order.order_id, "wait")

    assert waiting.status is OrderStatus.BACKORDERED
    assert waiting.backorder is not None and waiting.backorder.chosen is BackorderChoiceKind.WAIT
    assert chosen(waiting) == [("shop-key", {"choice": "wait"})]
    await orders.fast_forward(orders.order(order.order_id), timedelta(days=13))
    assert (await orders.state(order.order_id)).status is OrderStatus.BACKORDERED
    await orders.fast_forward(orders.order(order.order_id), timedelta(days=2))
    cancelled = await orders.wait_status(order.order_id, OrderStatus.CANCELLED)
    assert cancelled.cancellation_reason == "backorder not filled in time"
    assert cancelled.backorder is None
    await orders.projected(order.order_id)


async def test_a_receipt_while_ship_available_is_carried_out_is_answered(orders: Orders) -> None:
    """make fuzz (seed 20261201, commit 840167d): three `POST /inventory/transfers` never answered.
    A transfer wakes each backordered order of its SKU (the stock_arrived update) and waits for the
    answer. One that came while the order carried out `ship_available` was queued, and the order
    went on to fulfilment without answering it: the update, and the transfer, waited for good. Now
    the order answers it as it leaves the backorder (reserved: it holds its stock)."""
    short_stock(orders)
    order = await backordered(orders, *LINES)
    order_id = order.order_id
    levels = orders.stubs.calls["stock_levels"]
    orders.stubs.glitch("stock_levels", 3)  # the partial shipment reads the stock levels a while
    shipping = asyncio.create_task(choose(orders, order_id, "ship_available"))
    await eventually(lambda: orders.stubs.calls["stock_levels"] > levels)

    answer = await asyncio.wait_for(
        orders.order(order_id).execute_update(
            OrderWorkflow.stock_arrived, StockArrival(sku="FORK", warehouse="WH-EAST", actor="ops-key")
        ),
        timeout=30,
    )

    assert answer.reserved and answer.status is OrderStatus.ALLOCATING, answer
    shipped = await asyncio.wait_for(shipping, timeout=30)
    assert [(line.sku, line.quantity) for line in shipped.lines] == [("MUG", 1), ("PLATE", 1)]
    await orders.wait_status(order_id, OrderStatus.FULFILLING)
    await orders.projected(order_id)
