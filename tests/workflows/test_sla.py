"""A step past its SLA goes on, but the order needs attention (ops hear of it once) until the
step finishes; then the flag clears by itself. Order steps and parcel steps alike."""

from datetime import timedelta

from domain import ids
from domain.enums import OpsActionKind, OrderStatus, ShipmentStatus
from domain.models import OrderPolicy, PickConfirmation, StockArrival
from tests.workflows.driver import Orders, order_request
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


async def test_an_allocation_past_its_sla_flags_the_order_until_stock_arrives(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=0)
    order = await orders.submit(order_request(("DESK", 1, "99.00")), OrderPolicy())
    await orders.wait_status(order.order_id, OrderStatus.BACKORDERED)
    assert not (await orders.state(order.order_id)).needs_attention, "waiting for stock is not yet a problem"

    await orders.fast_forward(orders.order(order.order_id), timedelta(hours=2))  # the SLA is one hour
    late = await orders.wait(order.order_id, lambda o: o.needs_attention, "flagged")

    assert late.status is OrderStatus.BACKORDERED
    assert late.attention_reason == "allocating over its SLA of 1:00:00"
    breached = late.timeline[-1]
    assert (breached.event, breached.detail) == ("sla.breached", {"step": "allocating", "sla": "1:00:00"})
    alerts = [n for n in orders.stubs.notifications.values() if n.kind == "ops_attention"]
    assert len(alerts) == 1 and "allocating over its SLA" in alerts[0].body

    orders.stubs.restock("WH-EAST", "DESK", 3)
    attempt = await orders.order(order.order_id).execute_update(
        OrderWorkflow.stock_arrived, StockArrival(sku="DESK", warehouse="WH-EAST")
    )
    assert attempt.reserved
    cleared = await orders.wait(order.order_id, lambda o: "sla.recovered" in [e.event for e in o.timeline], "cleared")
    assert not cleared.needs_attention and cleared.attention_reason is None
    events = [e.event for e in cleared.timeline]
    assert events.index("sla.breached") < events.index("backorder.filled") < events.index("sla.recovered")
    going = await orders.wait_status(order.order_id, OrderStatus.FULFILLING)
    assert not going.needs_attention
    assert len([n for n in orders.stubs.notifications.values() if n.kind == "ops_attention"]) == 1
    await orders.projected(order.order_id)


async def test_a_pick_past_its_sla_flags_the_order_until_the_pick_is_confirmed(orders: Orders) -> None:
    orders.stubs.add_item("DESK", WH_EAST=3)
    order = await orders.submit(order_request(("DESK", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    assert OpsActionKind.SKIP not in (await orders.state(order.order_id)).available_actions

    await orders.fast_forward(orders.parcel(parcel), timedelta(hours=25))  # the SLA is 24 hours
    late = await orders.wait(order.order_id, lambda o: o.needs_attention, "flagged")

    assert late.attention_reason == f"parcel {parcel}: picking over its SLA of 1 day, 0:00:00"
    assert OpsActionKind.SKIP in late.available_actions, "ops may confirm the pick themselves"
    assert late.status is OrderStatus.FULFILLING

    await orders.parcel(parcel).signal(ShipmentWorkflow.pick_confirmed, PickConfirmation(picker="late picker"))
    cleared = await orders.wait(order.order_id, lambda o: not o.needs_attention, "cleared")

    labelled = await orders.wait_parcel(parcel, ShipmentStatus.LABEL_CREATED)
    assert labelled.attention_reason is None
    assert cleared.attention_reason is None
    assert OpsActionKind.SKIP not in cleared.available_actions
    await orders.projected(order.order_id)
