"""The order's pure rules taken out of the workflow: the ops actions available and the parcel an
action applies to (domain/actions.py), refunds (domain/refunds.py), what the Temporal UI shows
(domain/visibility.py), and how parcel and return news merges into the order (domain/news.py)."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.actions import available_actions, parcel_for
from domain.claims import claim_return_lines, claim_too_early
from domain.enums import (
    Channel,
    ClaimKind,
    OpsActionKind,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    Priority,
    ReturnReason,
    ReturnResolution,
    ReturnStatus,
    ShipmentStatus,
    ShippingSpeed,
)
from domain.models import (
    Address,
    ClaimRequest,
    ClaimView,
    Customer,
    OrderLine,
    OrderView,
    ParcelLine,
    PaymentView,
    ReturnView,
    ShipmentView,
    Totals,
)
from domain.news import (
    merge_return,
    merge_shipment,
    parcel_trouble,
    return_trouble,
    status_after_parcel_news,
)
from domain.refunds import parcel_refund, payment_after_refund, priced, refund_cap, return_refund, value_of
from domain.returns import return_problems
from domain.visibility import current_details, search_values

AT = datetime(2026, 12, 1, tzinfo=UTC)
LINES = [
    OrderLine(sku="A", quantity=2, unit_price=Decimal("10.00")),
    OrderLine(sku="B", quantity=1, unit_price=Decimal("25.50")),
]


def _order(status: OrderStatus = OrderStatus.FULFILLING, **update: object) -> OrderView:
    order = OrderView(
        order_id="o1",
        status=status,
        channel=Channel.WEB,
        customer=Customer(id="c1", email="a@example.com", name="A"),
        lines=LINES,
        currency="CNY",
        totals=Totals(items=Decimal("45.50"), shipping=Decimal("12.00"), grand_total=Decimal("57.50")),
        shipping_address=Address(name="A", line1="1 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN"),
        shipping_speed=ShippingSpeed.STANDARD,
        priority=Priority.NORMAL,
        payment=PaymentView(method=PaymentMethod.CARD, amount=Decimal("57.50")),
        created_at=AT,
        updated_at=AT,
        workflow_id="order-o1",
    )
    return order.model_copy(update=update)


def _parcel(sid: str = "s1", status: ShipmentStatus = ShipmentStatus.PICKING, **update: object) -> ShipmentView:
    view = ShipmentView(shipment_id=sid, order_id="o1", warehouse="WH-EAST", status=status)
    return view.model_copy(update=update)


# --- actions ---------------------------------------------------------------------------------


@given(
    status=st.sampled_from(list(OrderStatus)),
    awaiting=st.frozensets(st.sampled_from(list(OpsActionKind))),
    compensating=st.booleans(),
    returns_waiting=st.booleans(),
)
def test_available_actions_follow_the_state(
    status: OrderStatus, awaiting: frozenset[OpsActionKind], compensating: bool, returns_waiting: bool
) -> None:
    returns = [ReturnView(rma_id="r1", status=ReturnStatus.REQUESTED, awaiting_approval=returns_waiting)]
    order = _order(status, returns=returns)
    actions = available_actions(order, awaiting, compensating=compensating)
    if status.terminal or compensating:
        assert actions == []
        return
    assert OpsActionKind.NOTE in actions
    assert awaiting <= set(actions)
    assert (OpsActionKind.CANCEL in actions) == (status is not OrderStatus.CLOSED)
    if returns_waiting:
        assert {OpsActionKind.APPROVE, OpsActionKind.REJECT} <= set(actions)
    assert actions == sorted(set(actions), key=list(OpsActionKind).index)  # stable order, no repeats


def test_cancel_is_not_offered_once_a_parcel_is_with_the_carrier() -> None:
    order = _order(shipments=[_parcel(status=ShipmentStatus.IN_TRANSIT, handed_over_at=AT)])
    assert OpsActionKind.CANCEL not in available_actions(order, frozenset(), compensating=False)


def test_parcel_actions_apply_to_the_parcel_that_waits_for_them() -> None:
    late_pick = _parcel("s1", ShipmentStatus.PICKING, attention_reason="picking over its SLA")
    refused = _parcel("s2", ShipmentStatus.EXCEPTION, attention_reason="label refused: bad postcode")
    parked = _parcel("s3", ShipmentStatus.PACKED, attention_reason="parked: label purchase failed")
    carried = _parcel("s4", ShipmentStatus.EXCEPTION, attention_reason="carrier says lost", handed_over_at=AT)
    calm = _parcel("s5", ShipmentStatus.PICKING)
    order = _order(shipments=[calm, carried, late_pick, refused, parked])

    assert parcel_for(order, OpsActionKind.SKIP) == late_pick
    assert parcel_for(order, OpsActionKind.REROUTE) == refused
    assert parcel_for(order, OpsActionKind.RETRY) == refused  # the first that takes it
    assert parcel_for(order, OpsActionKind.RETRY, "s3") == parked
    assert parcel_for(order, OpsActionKind.REROUTE, "s3") is None  # parked, not refused
    assert parcel_for(order, OpsActionKind.RETRY, "s4") is None  # with the carrier: its problem
    assert parcel_for(order, OpsActionKind.SKIP, "s5") is None  # nothing waits on ops
    actions = available_actions(order, frozenset(), compensating=False)
    assert {OpsActionKind.SKIP, OpsActionKind.REROUTE, OpsActionKind.RETRY} <= set(actions)
    assert OpsActionKind.CANCEL not in actions  # s4 is handed over


# --- refunds ---------------------------------------------------------------------------------

_money = st.decimals(min_value=0, max_value=10_000, places=2)


@given(grand=_money, refunded_share=st.integers(0, 100), asked=_money)
def test_refunds_never_pass_what_is_left_of_the_capture(grand: Decimal, refunded_share: int, asked: Decimal) -> None:
    refunded = (grand * refunded_share / 100).quantize(Decimal("0.01"))
    totals = Totals(items=grand, shipping=Decimal(0), grand_total=grand, refunded=refunded)
    cap = refund_cap(asked, totals)
    assert Decimal(0) <= cap <= asked
    assert refunded + cap <= grand
    assert cap == min(asked, grand - refunded) or cap == 0
    after = totals.model_copy(update={"refunded": refunded + cap})
    expected = PaymentStatus.REFUNDED if refunded + cap >= grand else PaymentStatus.PARTIALLY_REFUNDED
    assert payment_after_refund(after) is expected


def test_a_parcel_is_refunded_at_the_price_of_its_lines() -> None:
    lines = [ParcelLine(sku="A", quantity=1), ParcelLine(sku="B", quantity=1)]
    assert parcel_refund(LINES, lines) == Decimal("35.50")
    assert value_of(priced(LINES, lines)) == Decimal("35.50")
    assert priced(LINES, [ParcelLine(sku="A", quantity=3)])[0].unit_price == Decimal("10.00")


def test_a_return_that_is_our_fault_gets_the_shipping_back_once() -> None:
    ours = ReturnView(rma_id="r1", status=ReturnStatus.INSPECTED, reason=ReturnReason.DAMAGED, refund_due=Decimal("20.00"))
    theirs = ours.model_copy(update={"reason": ReturnReason.NO_LONGER_NEEDED})
    assert return_refund(ours, Decimal("12.00"), False) == (Decimal("32.00"), True)
    assert return_refund(ours, Decimal("12.00"), True) == (Decimal("20.00"), True)
    assert return_refund(theirs, Decimal("12.00"), False) == (Decimal("20.00"), False)


# --- visibility ------------------------------------------------------------------------------


def test_search_values_skip_cancelled_parcels_and_take_the_first_carrier() -> None:
    order = _order(
        needs_attention=True,
        shipments=[
            _parcel("s1", ShipmentStatus.CANCELLED, warehouse="WH-WEST", carrier="swift"),
            _parcel("s2", ShipmentStatus.PACKED, warehouse="WH-EAST"),
            _parcel("s3", ShipmentStatus.IN_TRANSIT, warehouse="WH-NORTH", carrier="economy"),
        ],
    )
    values = search_values(order)
    assert values == ("fulfilling", "c1", "web", 57.5, True, "WH-EAST", "economy")
    assert search_values(_order()).warehouse == "" and search_values(_order()).carrier == ""


def test_current_details_say_status_event_what_ops_are_awaited_for_and_why() -> None:
    calm = current_details(_order(OrderStatus.ON_HOLD), "order.held", frozenset())
    assert calm == "**on_hold** after order.held"
    busy = current_details(
        _order(OrderStatus.ON_HOLD, needs_attention=True, attention_reason="high value"),
        "order.held",
        frozenset({OpsActionKind.REJECT, OpsActionKind.APPROVE}),
    )
    assert busy == "**on_hold** after order.held\n\nWaiting for ops: approve, reject\n\nNeeds attention: high value"


# --- news ------------------------------------------------------------------------------------


@given(versions=st.lists(st.integers(1, 20), min_size=1, max_size=12))
def test_parcel_news_in_any_order_leaves_the_newest_view(versions: list[int]) -> None:
    order = _order()
    for version in versions:
        merge_shipment(order, _parcel(version=version, last_event=f"v{version}"))
    assert len(order.shipments) == 1
    assert order.shipments[0].version == max(versions)


def test_late_or_repeated_news_changes_nothing() -> None:
    order = _order(shipments=[_parcel(version=3)], returns=[ReturnView(rma_id="r1", status=ReturnStatus.APPROVED, version=2)])
    assert not merge_shipment(order, _parcel(version=3, status=ShipmentStatus.PACKED))
    assert order.shipments[0].status is ShipmentStatus.PICKING
    assert merge_shipment(order, _parcel("s2"))  # a new parcel is appended
    assert [s.shipment_id for s in order.shipments] == ["s1", "s2"]
    assert not merge_return(order, ReturnView(rma_id="r1", status=ReturnStatus.REQUESTED, version=1))
    assert merge_return(order, ReturnView(rma_id="r1", status=ReturnStatus.IN_TRANSIT, version=3))
    assert order.returns[0].status is ReturnStatus.IN_TRANSIT


def test_which_parcel_news_needs_a_person() -> None:
    order = _order()
    back = _parcel(status=ShipmentStatus.RETURNED_TO_SENDER, last_event="3 failed delivery attempts")
    assert parcel_trouble(order, back) == "parcel s1: 3 failed delivery attempts"
    assert parcel_trouble(order, _parcel(attention_reason="picking over its SLA")) == "parcel s1: picking over its SLA"
    # A failed attempt is the carrier's to retry: no attention reason, not back at the sender.
    assert parcel_trouble(order, _parcel(status=ShipmentStatus.EXCEPTION, last_event="failed attempt 1")) is None
    # Once the order resolved it (reshipped or refunded), the parcel is settled.
    resolved = _order(shipments=[_parcel(outcome="refunded 20.00")])
    assert parcel_trouble(resolved, _parcel(attention_reason="lost")) is None
    assert return_trouble(ReturnView(rma_id="r1", status=ReturnStatus.REQUESTED, awaiting_approval=True))
    assert return_trouble(ReturnView(rma_id="r1", status=ReturnStatus.APPROVED)) is None


def test_parcels_decide_the_status_only_while_the_order_is_being_fulfilled() -> None:
    carried = [_parcel(status=ShipmentStatus.IN_TRANSIT, handed_over_at=AT)]
    assert status_after_parcel_news(_order(OrderStatus.FULFILLING, shipments=carried)) is OrderStatus.SHIPPED
    assert status_after_parcel_news(_order(OrderStatus.RETURNING, shipments=carried)) is OrderStatus.RETURNING
    assert status_after_parcel_news(_order(OrderStatus.CANCELLED, shipments=carried)) is OrderStatus.CANCELLED


# --- claims ----------------------------------------------------------------------------------


def test_a_wrong_item_is_claimed_only_once_the_parcel_is_delivered() -> None:
    moving = _order(OrderStatus.SHIPPED, shipments=[_parcel(status=ShipmentStatus.IN_TRANSIT, handed_over=True)])
    delivered = _order(OrderStatus.DELIVERED, shipments=[_parcel(status=ShipmentStatus.DELIVERED, handed_over=True)])
    wrong = ClaimRequest(kind=ClaimKind.WRONG_ITEM, shipment_id="s1")
    assert claim_too_early(moving, wrong) == "parcel s1 is not delivered yet (in_transit): no wrong item to claim"
    assert claim_too_early(delivered, wrong) is None
    assert claim_too_early(moving, ClaimRequest(kind=ClaimKind.NOT_RECEIVED, shipment_id="s1")) is None


def test_the_return_of_a_wrong_item_takes_back_only_what_no_return_holds_yet() -> None:
    parcel = _parcel(
        status=ShipmentStatus.DELIVERED, lines=[ParcelLine(sku="A", quantity=2), ParcelLine(sku="B", quantity=1)]
    )
    claim = ClaimView(
        claim_id="o1-C1",
        kind=ClaimKind.WRONG_ITEM,
        shipment_id="s1",
        lines=[ParcelLine(sku="A", quantity=2), ParcelLine(sku="B", quantity=1)],
        opened_at=AT,
    )
    own = ReturnView(
        rma_id="o1-R1", status=ReturnStatus.IN_TRANSIT, lines=[ParcelLine(sku="A", quantity=1), ParcelLine(sku="B", quantity=1)]
    )
    expired = ReturnView(rma_id="o1-R2", status=ReturnStatus.REJECTED, lines=[ParcelLine(sku="A", quantity=1)])
    order = _order(OrderStatus.DELIVERED, shipments=[parcel], returns=[own, expired])
    assert claim_return_lines(order, claim) == [ParcelLine(sku="A", quantity=1)]
    assert claim_return_lines(_order(OrderStatus.DELIVERED, shipments=[parcel]), claim) == claim.lines
    everything = ReturnView(rma_id="o1-R3", status=ReturnStatus.REQUESTED, lines=claim.lines)
    assert claim_return_lines(_order(OrderStatus.DELIVERED, shipments=[parcel], returns=[everything]), claim) == []
    # An expired claim return still holds its units: they were made good, not to be refunded again.
    taken = ReturnView(
        rma_id="o1-R1", status=ReturnStatus.REJECTED, resolution=ReturnResolution.CLAIM, lines=claim.lines
    )
    assert return_problems(_order(OrderStatus.DELIVERED, shipments=[parcel], returns=[taken]), [ParcelLine(sku="B", quantity=1)]) == [
        "B: 0 delivered unit(s) can still be returned"
    ]
