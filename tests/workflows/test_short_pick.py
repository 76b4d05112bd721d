"""Short picks (issue 17): the warehouse picks fewer units than a parcel asked for. The parcel
ships what was picked; the missing units are released at that warehouse and written off its
shelf; the order reallocates them to another warehouse, backorders or refunds them per
`OrderPolicy.short_pick_policy`, and tells the customer."""

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from domain import ids
from domain.enums import OrderStatus, ShipmentStatus, ShortPickPolicy, TrackingStatus
from domain.models import OrderPolicy, OrderView, ParcelLine, PaymentRequest, PickConfirmation
from tests.workflows.driver import Orders, order_request, stub_worker
from tests.workflows.stubs import Stubs
from workflows.shipment import ShipmentWorkflow


def _short(order: OrderView) -> list[dict[str, object]]:
    return [e.detail for e in order.timeline if e.event == "shipment.short_picked"]


async def _pick(orders: Orders, shipment_id: str, *lines: tuple[str, int]) -> None:
    await orders.wait_parcel(shipment_id, ShipmentStatus.PICKING)
    confirmation = PickConfirmation(lines=[ParcelLine(sku=s, quantity=q) for s, q in lines], picker="picker-7")
    await orders.parcel(shipment_id).signal(ShipmentWorkflow.pick_confirmed, confirmation)


async def _deliver(orders: Orders, order_id: str, shipment_id: str) -> None:
    """A parcel already labelled: scanned by the carrier and delivered."""
    await orders.carrier(shipment_id, TrackingStatus.IN_TRANSIT)
    await orders.wait_parcel(shipment_id, ShipmentStatus.IN_TRANSIT)
    await orders.carrier(shipment_id, TrackingStatus.DELIVERED)
    await orders.wait(
        order_id,
        lambda o: any(s.shipment_id == shipment_id and s.status is ShipmentStatus.DELIVERED for s in o.shipments),
        f"{shipment_id} delivered",
    )
    await orders.wait(order_id, lambda o: o.status is OrderStatus.DELIVERED, "delivered, the rest still open")


async def test_a_short_pick_is_reallocated_to_another_warehouse(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=3, WH_WEST=5)
    order = await orders.submit(order_request(("MUG", 3, "99.00")))
    first = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(first, ShipmentStatus.PICKING)
    assert (await orders.parcel_state(first)).warehouse == "WH-EAST"

    await _pick(orders, first, ("MUG", 1))
    shipped = await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    assert [(line.sku, line.quantity) for line in shipped.lines] == [("MUG", 1)], "the parcel ships what was picked"
    assert [(line.sku, line.quantity) for line in shipped.short_picked] == [("MUG", 2)]

    second = ids.shipment_id(order.order_id, 2)
    view = await orders.wait(order.order_id, lambda o: len(o.shipments) == 2, "a second parcel")
    assert view.shipments[1].warehouse == "WH-WEST", "never the warehouse whose shelf came up short"
    assert [(line.sku, line.quantity) for line in view.shipments[1].lines] == [("MUG", 2)]
    (detail,) = _short(view)
    assert detail["handling"] == "reallocated" and detail["new"] == second
    assert detail["missing"] == [{"sku": "MUG", "quantity": 2}]
    # East: 3 on hand; 2 written off (the shelf did not hold them), 1 shipped. West: 2 reserved.
    assert (orders.stubs.on_hand("WH-EAST", "MUG"), orders.stubs.reserved("WH-EAST", "MUG")) == (0, 0)
    assert (orders.stubs.on_hand("WH-WEST", "MUG"), orders.stubs.reserved("WH-WEST", "MUG")) == (5, 2)
    assert orders.stubs.operations("refund") == [], "nothing is refunded: it all ships"
    assert "short_picked" in await orders.sent(order.order_id, "short_picked")

    await orders.pick(second)
    assert (orders.stubs.on_hand("WH-WEST", "MUG"), orders.stubs.reserved("WH-WEST", "MUG")) == (3, 0)
    await orders.projected(order.order_id)


async def test_under_the_refund_policy_the_missing_lines_are_refunded_at_the_price_paid(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=5, WH_WEST=5)
    orders.stubs.add_item("PLATE", "40.00", WH_EAST=5)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00"), ("PLATE", 3, "40.00")),
        OrderPolicy(short_pick_policy=ShortPickPolicy.REFUND),
    )
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("PLATE", 1))  # MUG left out: none picked

    view = await orders.wait(order.order_id, lambda o: bool(_short(o)), "the short pick taken up")
    (detail,) = _short(view)
    assert detail["handling"] == "refunded"
    assert detail["amount"] == "278.00", "2 x 99.00 + 2 x 40.00"
    assert [(row.operation, row.amount, row.key) for row in orders.stubs.operations("refund")] == [
        ("refund", Decimal("278.00"), ids.payment_key(order.order_id, f"refund-short-{first}"))
    ]
    shipped = await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    assert [(line.sku, line.quantity) for line in shipped.lines] == [("PLATE", 1)]
    assert len(view.shipments) == 1, "no new parcel under the refund policy"
    assert view.totals.refunded == Decimal("278.00")
    assert (orders.stubs.on_hand("WH-EAST", "MUG"), orders.stubs.reserved("WH-EAST", "MUG")) == (3, 0)
    assert "short_picked" in await orders.sent(order.order_id, "short_picked")
    await orders.projected(order.order_id)


async def test_a_parcel_with_nothing_picked_is_cancelled_and_all_of_it_refunded(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=2)
    order = await orders.submit(order_request(("MUG", 2, "99.00")), OrderPolicy(short_pick_policy=ShortPickPolicy.REFUND))
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 0))

    cancelled = await orders.wait_parcel(first, ShipmentStatus.CANCELLED)
    assert cancelled.lines == [] and [(line.sku, line.quantity) for line in cancelled.short_picked] == [("MUG", 2)]
    closed = await orders.wait_status(order.order_id, OrderStatus.CLOSED)
    assert closed.totals.refunded == closed.totals.grand_total, "nothing ships: the shipping comes back too"
    assert orders.stubs.calls["buy_label"] == 0
    assert (orders.stubs.on_hand("WH-EAST", "MUG"), orders.stubs.reserved("WH-EAST", "MUG")) == (0, 0)
    await orders.projected(order.order_id)


async def test_reallocation_without_stock_elsewhere_backorders_then_refunds_at_the_deadline(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=3)
    order = await orders.submit(order_request(("MUG", 3, "99.00")), OrderPolicy(backorder_timeout=timedelta(days=2)))
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 2))
    view = await orders.wait(order.order_id, lambda o: bool(_short(o)), "the short pick taken up")
    (detail,) = _short(view)
    assert detail["handling"] == "backordered" and "until" in detail
    assert orders.stubs.operations("refund") == [], "not before the deadline"
    await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    # What was picked is delivered meanwhile (the order's clock moves on once its parcel has ended).
    await _deliver(orders, order.order_id, first)

    # The fast-forward runs in the background until the order has moved on (test_backorder.py).
    forward = asyncio.create_task(orders.fast_forward(orders.order(order.order_id), timedelta(days=3)))
    try:
        ended = await orders.wait(
            order.order_id, lambda o: any(e.event == "short_pick.backorder_ended" for e in o.timeline), "the deadline"
        )
    finally:
        forward.cancel()
    last = next(e for e in ended.timeline if e.event == "short_pick.backorder_ended")
    assert last.detail["handling"] == "refunded" and last.detail["amount"] == "99.00"
    assert [row.amount for row in orders.stubs.operations("refund")] == [Decimal("99.00")]
    assert len(ended.shipments) == 1
    told = await orders.wait(
        order.order_id,
        lambda o: orders.stubs.kinds(o.order_id).count("short_picked") == 2,
        "told of the backorder, then of the refund",
    )
    assert told.totals.refunded == Decimal("99.00")


async def test_a_backordered_short_pick_ships_when_stock_is_there_at_the_deadline(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=2)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00")),
        OrderPolicy(short_pick_policy=ShortPickPolicy.BACKORDER, backorder_timeout=timedelta(days=1)),
    )
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 1))
    await orders.wait(order.order_id, lambda o: bool(_short(o)), "the short pick taken up")
    orders.stubs.restock("WH-EAST", "MUG", 4)  # goods received meanwhile, at the same warehouse
    await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    await _deliver(orders, order.order_id, first)

    forward = asyncio.create_task(orders.fast_forward(orders.order(order.order_id), timedelta(days=2)))
    try:
        view = await orders.wait(order.order_id, lambda o: len(o.shipments) == 2, "the backorder filled")
    finally:
        forward.cancel()
    last = next(e for e in view.timeline if e.event == "short_pick.backorder_ended")
    assert last.detail["handling"] == "reallocated"
    assert view.shipments[1].warehouse == "WH-EAST"
    assert orders.stubs.operations("refund") == []


async def test_the_same_pick_twice_changes_nothing_more(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=4, WH_WEST=4)
    order = await orders.submit(order_request(("MUG", 4, "99.00")))
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 3))
    confirmation = PickConfirmation(lines=[ParcelLine(sku="MUG", quantity=3)], picker="picker-7")
    await orders.parcel(first).signal(ShipmentWorkflow.pick_confirmed, confirmation)
    await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    view = await orders.wait(order.order_id, lambda o: len(o.shipments) == 2, "the reallocation")
    await orders.parcel(first).signal(ShipmentWorkflow.pick_confirmed, confirmation)
    await asyncio.sleep(0)
    view = await orders.projected(order.order_id)

    assert len(_short(view)) == 1 and len(view.shipments) == 2
    assert orders.stubs.short_picked == {(first, "MUG"): 1}
    assert orders.stubs.on_hand("WH-EAST", "MUG") == 0, "3 shipped, 1 written off, once"
    assert (await orders.sent(order.order_id, "short_picked")).count("short_picked") == 1


async def test_a_cancelled_order_releases_the_reallocated_stock(orders: Orders) -> None:
    orders.stubs.add_item("MUG", WH_EAST=2, WH_WEST=2)
    order = await orders.submit(order_request(("MUG", 2, "99.00")))
    first = ids.shipment_id(order.order_id, 1)
    # Picked short while the order is held by nothing: the parcel goes on to its label; cancel
    # before that is racy, so cancel once the reallocated parcel waits for its own pick.
    await _pick(orders, first, ("MUG", 1))
    second = ids.shipment_id(order.order_id, 2)
    await orders.wait_parcel(second, ShipmentStatus.PICKING)
    await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    cancelled = await orders.cancel(order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert orders.stubs.reserved("WH-WEST", "MUG") == 0, "the reallocation's reservation is released"
    assert orders.stubs.reserved("WH-EAST", "MUG") == 0
    assert orders.stubs.on_hand("WH-EAST", "MUG") == 1, "the shipped unit back on the shelf, the missing one written off"


async def test_cash_on_delivery_picked_short_voids_what_cannot_be_collected(orders: Orders) -> None:
    """make fuzz (seed 20261201, order 491): a cod parcel picked short of everything left its share
    promised for good; the order closed neither collected nor voided. Now the missing lines'
    share is voided, nothing is refunded (nothing was collected), and the promise is settled."""
    orders.stubs.add_item("MUG", WH_EAST=2)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00"), payment=PaymentRequest(method="cod")),
        OrderPolicy(short_pick_policy=ShortPickPolicy.REFUND),
    )
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 0))

    closed = await orders.wait_status(order.order_id, OrderStatus.CLOSED)
    assert orders.stubs.operations("refund") == [] and orders.stubs.operations("capture") == []
    voids = orders.stubs.operations("void")
    assert sum((row.amount for row in voids), Decimal(0)) == Decimal("210.00"), "198.00 + 12.00 shipping"
    assert closed.payment.captured == Decimal("0.00") and closed.payment.voided == Decimal("210.00")
    await orders.projected(order.order_id)


async def test_cash_on_delivery_partly_picked_collects_only_what_ships(orders: Orders) -> None:
    """The parcel ships 1 mug of 2: its courier collects the mug and the shipping; the missing
    mug's share is voided rather than collected at the door and refunded from nothing."""
    orders.stubs.add_item("MUG", WH_EAST=2)
    order = await orders.submit(
        order_request(("MUG", 2, "99.00"), payment=PaymentRequest(method="cod")),
        OrderPolicy(short_pick_policy=ShortPickPolicy.REFUND),
    )
    first = ids.shipment_id(order.order_id, 1)
    await _pick(orders, first, ("MUG", 1))
    await orders.wait_parcel(first, ShipmentStatus.LABEL_CREATED)
    await _deliver(orders, order.order_id, first)

    delivered = await orders.wait(
        order.order_id, lambda o: o.payment.captured == Decimal("111.00"), "the mug and the shipping collected"
    )
    assert [row.amount for row in orders.stubs.operations("capture")] == [Decimal("111.00")]
    assert [row.amount for row in orders.stubs.operations("void")] == [Decimal("99.00")]
    assert orders.stubs.operations("refund") == []
    assert delivered.payment.voided == Decimal("99.00")
    await orders.projected(order.order_id)


class _SecondParcelStartsSlowly(Interceptor):
    """Holds the start of an order's second parcel for a few seconds (a durable timer in the
    workflow), so that a test can cancel the order while a short pick's reallocation starts it."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _HoldSecondParcel


class _HoldSecondParcel(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_HoldSecondParcelStart(outbound))


class _HoldSecondParcelStart(WorkflowOutboundInterceptor):
    async def start_child_workflow(self, input: StartChildWorkflowInput) -> workflow.ChildWorkflowHandle[Any, Any]:
        if input.id.endswith("-P2"):
            await workflow.sleep(timedelta(seconds=3))
        return await super().start_child_workflow(input)


async def test_a_cancel_while_a_reallocated_parcel_starts_folds_its_end_in(
    temporal_env: WorkflowEnvironment, stubs: Stubs
) -> None:
    """make fuzz (seed 20261201, order 313): nothing of the first parcel was picked (it ended
    `cancelled` at once), and the cancel came while the reallocation was starting the second.
    The compensations were done with the parcels they knew, the second started after them and was
    cancelled at once, and nobody folded its end in: the order kept it `pending` while the parcel
    said `cancelled`. Now the compensations fold in every parcel that started late."""
    task_queue = f"workflow-tests-{uuid.uuid4()}"
    orders = Orders(env=temporal_env, task_queue=task_queue, stubs=stubs)
    async with stub_worker(temporal_env, task_queue, stubs.activities(), [_SecondParcelStartsSlowly()]):
        try:
            stubs.add_item("MUG", WH_EAST=2, WH_WEST=2)
            order = await orders.submit(order_request(("MUG", 2, "99.00")))
            order_id = order.order_id
            first, second = ids.shipment_id(order_id, 1), ids.shipment_id(order_id, 2)
            await _pick(orders, first, ("MUG", 0))
            await orders.wait(
                order_id,
                lambda o: any(d.get("handling") == "reallocated" for d in _short(o)),
                "the reallocation under way, its parcel starting",
            )

            cancelled = await asyncio.wait_for(orders.cancel(order_id), timeout=60)

            assert cancelled.status is OrderStatus.CANCELLED
            assert (await orders.parcel_state(second)).status is ShipmentStatus.CANCELLED
            view = await orders.state(order_id)
            assert [(s.shipment_id, s.status) for s in view.shipments] == [
                (first, ShipmentStatus.CANCELLED),
                (second, ShipmentStatus.CANCELLED),
            ]
            assert (stubs.reserved("WH-EAST", "MUG"), stubs.reserved("WH-WEST", "MUG")) == (0, 0)
            captured = sum((r.amount for r in stubs.operations("capture")), Decimal(0))
            refunded = sum((r.amount for r in stubs.operations("refund")), Decimal(0))
            assert refunded == captured, (captured, refunded)
            await orders.projected(order_id)
        finally:
            await orders.terminate_started()
