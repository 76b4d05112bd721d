"""Issue 17.6: a refund never exceeds what was paid for its line, across separate refunds. A line
returned and refunded, then refunded again by an ops refund by lines, pays only what is left of
it; once nothing is left, the ops refund is refused and nothing changes. A goodwill amount is for
no line: only the capture caps it. A short pick refunds what was paid for the missing units, and
that counts against the line too. What was refunded per SKU survives an order edit's repricing;
an exchange refunded for want of stock counts against its line."""

from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Replayer

from domain import ids
from domain.enums import (
    ItemCondition,
    OpsActionKind,
    OrderStatus,
    ReturnReason,
    ReturnResolution,
    ReturnStatus,
    ShipmentStatus,
    ShortPickPolicy,
)
from domain.models import (
    EditLine,
    LineRefund,
    LinesEdit,
    OrderPolicy,
    ParcelLine,
    PickConfirmation,
    PriceAdjustment,
    ReceivedLine,
    ReturnReceipt,
    ReturnRequest,
)
from tests.conftest import TEST_DATA_CONVERTER
from tests.workflows.driver import Orders, order_request
from worker import WORKFLOWS, sandbox_runner
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


async def test_a_returned_and_refunded_line_is_refunded_again_by_ops_only_for_what_is_left(orders: Orders) -> None:
    orders.stubs.add_item("BOOT", WH_EAST=5)
    orders.stubs.add_item("SOCK", "20.00", WH_EAST=5)
    request = order_request(
        ("BOOT", 2, "99.00"),
        ("SOCK", 1, "20.00"),
        adjustments=[PriceAdjustment(sku="BOOT", amount=Decimal("-18.00"), reason="price match")],
    )
    order = await orders.submit(request)
    order_id = order.order_id
    assert [(line.sku, line.paid) for line in order.line_prices] == [
        ("BOOT", Decimal("180.00")),
        ("SOCK", Decimal("20.00")),
    ]
    await orders.deliver(order_id, ids.shipment_id(order_id, 1))
    await orders.wait_status(order_id, OrderStatus.DELIVERED)

    # One boot of two comes back: 90.00, half of what the line cost.
    requested = await orders.request_return(
        order_id,
        ReturnRequest(lines=[ParcelLine(sku="BOOT", quantity=1)], reason=ReturnReason.NO_LONGER_NEEDED),
    )
    await orders.receive_return(
        requested.rma_id,
        ReturnReceipt(lines=[ReceivedLine(sku="BOOT", quantity=1, condition=ItemCondition.RESELLABLE)]),
    )
    settled = await orders.wait(
        order_id,
        lambda o: o.returns[0].status is ReturnStatus.REFUNDED and o.status is OrderStatus.DELIVERED,
        "return refunded",
    )
    assert settled.returns[0].refund_amount == Decimal("90.00")
    assert settled.refunded_lines == [LineRefund(sku="BOOT", quantity=1, amount=Decimal("90.00"))]

    # Ops refund both boots by lines: the returned one was paid back already, so only the
    # other's 90.00 goes back (180.00 before the cap per line), and the answer says so.
    answered = await orders.ops(
        order_id, OpsActionKind.REFUND, note="boots faulty", lines=[{"sku": "BOOT", "quantity": 2}]
    )
    refunds = orders.stubs.operations("refund")
    assert [(r.amount, r.key) for r in refunds] == [
        (Decimal("90.00"), ids.payment_key(order_id, f"refund-{requested.rma_id}")),
        (Decimal("90.00"), ids.payment_key(order_id, "refund-ops-1")),
    ]
    entry = [e for e in answered.timeline if e.event == "order.refunded"][-1]
    assert entry.detail["amount"] == "90.00"
    assert entry.detail["lines"] == [{"sku": "BOOT", "amount": "90.00"}]
    assert answered.totals.refunded == Decimal("180.00")
    assert answered.refunded_lines == [LineRefund(sku="BOOT", quantity=2, amount=Decimal("180.00"))]

    # Nothing of the boots is left: a third refund of them is refused, nothing changes.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await orders.ops(order_id, OpsActionKind.REFUND, note="again", lines=[{"sku": "BOOT", "quantity": 1}])
    assert "nothing is left to refund of those lines" in str(refused.value.cause)
    assert len(orders.stubs.operations("refund")) == 2

    # A goodwill amount is for no line: the capture (the socks and the shipping) still caps it.
    goodwill = await orders.ops(order_id, OpsActionKind.REFUND, note="sorry", amount="5.00")
    assert goodwill.totals.refunded == Decimal("185.00")
    assert goodwill.refunded_lines == answered.refunded_lines
    await orders.projected(order_id)

    # The capped path (patch line-refund-cap-20261202) replays as the worker would replay it.
    history = await orders.order(order_id).fetch_history()
    await Replayer(
        workflows=list(WORKFLOWS), data_converter=TEST_DATA_CONVERTER, workflow_runner=sandbox_runner()
    ).replay_workflow(history)


async def test_a_short_pick_of_a_discounted_line_refunds_what_was_paid_and_counts_against_the_line(
    orders: Orders,
) -> None:
    orders.stubs.add_item("MUG", WH_EAST=5)
    orders.stubs.add_item("PLATE", "40.00", WH_EAST=5)
    request = order_request(
        ("MUG", 2, "99.00"),
        ("PLATE", 1, "40.00"),
        adjustments=[PriceAdjustment(sku="MUG", amount=Decimal("-18.00"), reason="price match")],
    )
    order = await orders.submit(request, OrderPolicy(short_pick_policy=ShortPickPolicy.REFUND))
    order_id = order.order_id
    first = ids.shipment_id(order_id, 1)
    await orders.wait_parcel(first, ShipmentStatus.PICKING)
    confirmation = PickConfirmation(
        lines=[ParcelLine(sku="MUG", quantity=1), ParcelLine(sku="PLATE", quantity=1)], picker="picker-7"
    )
    await orders.parcel(first).signal(ShipmentWorkflow.pick_confirmed, confirmation)

    view = await orders.wait(
        order_id, lambda o: any(e.event == "shipment.short_picked" for e in o.timeline), "short pick refunded"
    )
    # One mug of two at what was paid for it (180.00 / 2), not its list price 99.00.
    assert [row.amount for row in orders.stubs.operations("refund")] == [Decimal("90.00")]
    assert view.refunded_lines == [LineRefund(sku="MUG", quantity=1, amount=Decimal("90.00"))]

    answered = await orders.ops(order_id, OpsActionKind.REFUND, note="mugs", lines=[{"sku": "MUG", "quantity": 2}])
    assert [row.amount for row in orders.stubs.operations("refund")] == [Decimal("90.00"), Decimal("90.00")]
    assert answered.refunded_lines == [LineRefund(sku="MUG", quantity=2, amount=Decimal("180.00"))]
    assert answered.totals.refunded == Decimal("180.00")


async def test_what_was_refunded_of_a_line_survives_an_order_edit(orders: Orders) -> None:
    orders.stubs.add_item("DESK", "99.00", WH_EAST=5)
    orders.stubs.add_item("LAMP", "50.00", WH_EAST=5)
    order = await orders.submit(order_request(("DESK", 2, "99.00"), ("LAMP", 1, "50.00")))
    order_id = order.order_id
    await orders.wait_parcel(ids.shipment_id(order_id, 1), ShipmentStatus.PICKING)
    await orders.wait(order_id, lambda o: OpsActionKind.REFUND in o.available_actions, "captured")

    refunded = await orders.ops(order_id, OpsActionKind.REFUND, note="scratched", lines=[{"sku": "DESK", "quantity": 1}])
    assert refunded.refunded_lines == [LineRefund(sku="DESK", quantity=1, amount=Decimal("99.00"))]

    edited = await orders.order(order_id).execute_update(
        OrderWorkflow.edit_lines,
        LinesEdit(lines=[EditLine(sku="DESK", quantity=2), EditLine(sku="LAMP", quantity=2)], actor="client-7"),
    )
    assert [(line.sku, line.paid) for line in edited.line_prices] == [
        ("DESK", Decimal("198.00")),
        ("LAMP", Decimal("100.00")),
    ]
    assert edited.refunded_lines == refunded.refunded_lines, "repriced: what was refunded stays, by SKU"

    again = await orders.ops(order_id, OpsActionKind.REFUND, note="both", lines=[{"sku": "DESK", "quantity": 2}])
    assert [row.amount for row in orders.stubs.operations("refund")][-1] == Decimal("99.00"), "the rest of DESK"
    assert again.refunded_lines == [LineRefund(sku="DESK", quantity=2, amount=Decimal("198.00"))]


async def test_an_exchange_refunded_for_want_of_stock_counts_against_the_line(orders: Orders) -> None:
    orders.stubs.add_item("BOOT", WH_EAST=2)
    request = order_request(
        ("BOOT", 2, "99.00"), adjustments=[PriceAdjustment(sku="BOOT", amount=Decimal("-18.00"), reason="match")]
    )
    order = await orders.submit(request)
    order_id = order.order_id
    await orders.deliver(order_id, ids.shipment_id(order_id, 1))
    await orders.wait_status(order_id, OrderStatus.DELIVERED)
    requested = await orders.request_return(
        order_id,
        ReturnRequest(
            lines=[ParcelLine(sku="BOOT", quantity=1)],
            reason=ReturnReason.WRONG_ITEM,
            resolution=ReturnResolution.EXCHANGE,
        ),
    )
    # Damaged (our fault: refundable), written off: no boot is left to exchange it with.
    await orders.receive_return(
        requested.rma_id,
        ReturnReceipt(lines=[ReceivedLine(sku="BOOT", quantity=1, condition=ItemCondition.DAMAGED)]),
    )
    settled = await orders.wait(
        order_id,
        lambda o: o.returns[0].status is ReturnStatus.REFUNDED and o.status is OrderStatus.DELIVERED,
        "exchange refunded",
    )
    assert settled.returns[0].refund_amount == Decimal("102.00"), "90.00 for the boot and the 12.00 shipping"
    assert settled.refunded_lines == [LineRefund(sku="BOOT", quantity=1, amount=Decimal("90.00"))]

    again = await orders.ops(order_id, OpsActionKind.REFUND, note="both", lines=[{"sku": "BOOT", "quantity": 2}])
    assert [row.amount for row in orders.stubs.operations("refund")] == [Decimal("102.00"), Decimal("90.00")]
    assert again.refunded_lines == [LineRefund(sku="BOOT", quantity=2, amount=Decimal("180.00"))]
    assert again.totals.refunded == again.totals.grand_total == Decimal("192.00")
