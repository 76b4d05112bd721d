"""A discounted order shipped as available (backorder policy `ship_available`) is priced again
with its adjustments (domain.pricing.price_order): the discounts shrink with what was removed,
and the payment authorizes that total."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from domain.enums import BackorderPolicy, OrderStatus
from domain.models import OrderPolicy, PriceAdjustment
from tests.workflows.driver import Orders, order_request


async def test_ship_available_reprices_a_discounted_order_with_its_adjustments(orders: Orders) -> None:
    orders.stubs.add_item("CUP", WH_EAST=5)
    orders.stubs.add_item("BOWL", WH_EAST=1)
    request = order_request(
        ("CUP", 1, "99.00"),
        ("BOWL", 3, "99.00"),
        adjustments=[
            PriceAdjustment(sku="CUP", amount=Decimal("-9.00"), reason="price match"),
            PriceAdjustment(sku="BOWL", amount=Decimal("-150.00"), reason="bundle"),
            PriceAdjustment(sku=None, amount=Decimal("-10.00"), reason="promo", code="WINTER"),
        ],
        shipping_charge=Decimal("5.00"),
    )
    order = await orders.submit(request, OrderPolicy(backorder_policy=BackorderPolicy.SHIP_AVAILABLE))
    assert order.totals.grand_total == Decimal("232.00"), "396.00 - 169.00 + the channel's 5.00"
    await orders.wait_status(order.order_id, OrderStatus.BACKORDERED)

    forward = asyncio.create_task(orders.fast_forward(orders.order(order.order_id), timedelta(days=15)))
    try:
        shipping = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    finally:
        forward.cancel()

    # One bowl of three left: a third of its 150.00 (50.00); the cup keeps its 9.00; half of the
    # list value is kept, so half of the order's 10.00, spread over 90.00 : 49.00.
    assert [(line.sku, line.discount, line.paid) for line in shipping.line_prices] == [
        ("CUP", Decimal("12.24"), Decimal("86.76")),
        ("BOWL", Decimal("51.76"), Decimal("47.24")),
    ]
    assert shipping.totals.discounts == Decimal("64.00")
    assert shipping.totals.grand_total == Decimal("139.00"), "134.00 of items paid and the channel's 5.00"
    assert [(row.operation, row.amount) for row in orders.stubs.ledger] == [
        ("authorize", Decimal("139.00")),
        ("capture", Decimal("139.00")),
    ]
