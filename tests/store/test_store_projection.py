"""The order projection: out-of-order and repeated writes, reads, keyset pagination."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.enums import (
    Channel,
    OrderStatus,
    PaymentMethod,
    Priority,
    ShipmentStatus,
    ShippingSpeed,
)
from domain.models import (
    Address,
    Customer,
    OrderLine,
    OrderView,
    PaymentView,
    ShipmentView,
    TimelineEntry,
    Totals,
)
from store.models import OrderEventRow, ShipmentEventRow
from store.projection import (
    InvalidCursor,
    claim_idempotency_key,
    get_order,
    list_orders,
    ops_queue,
    record_shipment,
    record_transition,
    shipment_by_id,
    shipment_by_tracking,
    timeline,
)

SF = sessionmaker[Session]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def order(
    order_id: str = "ORD-1",
    *,
    version: int = 1,
    status: OrderStatus = OrderStatus.RECEIVED,
    created_at: datetime = T0,
    customer: str = "cust-1",
    needs_attention: bool = False,
) -> OrderView:
    return OrderView(
        order_id=order_id,
        status=status,
        needs_attention=needs_attention,
        channel=Channel.WEB,
        customer=Customer(id=customer, email="a@example.com", name="Li Lei"),
        lines=[OrderLine(sku="SKU-RED-M", quantity=2, unit_price=Decimal("99.00"))],
        currency="CNY",
        totals=Totals(
            items=Decimal("198.00"),
            shipping=Decimal("12.00"),
            grand_total=Decimal("210.00"),
        ),
        shipping_address=Address(
            name="Li Lei",
            line1="1 Road",
            city="Hangzhou",
            region="ZJ",
            postal_code="310000",
            country="CN",
        ),
        shipping_speed=ShippingSpeed.STANDARD,
        priority=Priority.NORMAL,
        payment=PaymentView(method=PaymentMethod.CARD, amount=Decimal("210.00")),
        created_at=created_at,
        updated_at=created_at + timedelta(minutes=version),
        workflow_id=f"order-{order_id}",
        version=version,
    )


def entry(status: OrderStatus, event: str, minutes: int = 0) -> TimelineEntry:
    return TimelineEntry(
        at=T0 + timedelta(minutes=minutes),
        status=status,
        event=event,
        actor="system",
        detail={"n": minutes},
    )


def test_transitions_are_idempotent_and_safe_out_of_order(session_factory: SF) -> None:
    v1 = order(version=1, status=OrderStatus.RECEIVED)
    v2 = order(version=2, status=OrderStatus.VERIFYING)
    v3 = order(version=3, status=OrderStatus.ALLOCATING, needs_attention=True)
    record_transition(
        session_factory, v3, entry(OrderStatus.ALLOCATING, "order.allocating", 3), 3
    )
    record_transition(
        session_factory, v1, entry(OrderStatus.RECEIVED, "order.received", 1), 1
    )
    record_transition(
        session_factory, v2, entry(OrderStatus.VERIFYING, "order.verifying", 2), 2
    )
    record_transition(
        session_factory, v2, entry(OrderStatus.VERIFYING, "order.verifying", 2), 2
    )

    stored = get_order(session_factory, "ORD-1")
    assert stored is not None
    assert (stored.status, stored.version, stored.needs_attention) == (
        OrderStatus.ALLOCATING,
        3,
        True,
    )
    assert [e.event for e in stored.timeline] == [
        "order.received",
        "order.verifying",
        "order.allocating",
    ]
    assert stored.timeline[0].detail == {"n": 1}
    assert stored.model_copy(update={"timeline": []}) == v3
    assert timeline(session_factory, "ORD-1") == stored.timeline
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OrderEventRow)) == 3
    assert get_order(session_factory, "ORD-NONE") is None
    assert timeline(session_factory, "ORD-NONE") == []


def test_list_orders_pages_newest_first_without_gaps(session_factory: SF) -> None:
    # Seven orders, two of them created at the same instant (the order id breaks the tie).
    created = [T0 + timedelta(hours=h) for h in (0, 1, 2, 3, 3, 4, 5)]
    for i, at in enumerate(created):
        o = order(
            f"ORD-{i}",
            created_at=at,
            customer="cust-a" if i % 2 else "cust-b",
            status=OrderStatus.ON_HOLD if i in (2, 5) else OrderStatus.RECEIVED,
            needs_attention=i == 6,
        )
        record_transition(session_factory, o, entry(o.status, "order.received"), 1)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = list_orders(session_factory, limit=3, cursor=cursor)
        assert all(item.timeline == [] for item in items)
        seen += [item.order_id for item in items]
        pages += 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["ORD-6", "ORD-5", "ORD-4", "ORD-3", "ORD-2", "ORD-1", "ORD-0"]

    exact, cursor = list_orders(session_factory, limit=7)
    assert len(exact) == 7 and cursor is None

    def ids(**filters: object) -> list[str]:
        items, _ = list_orders(session_factory, **filters)  # type: ignore[arg-type]
        return [item.order_id for item in items]

    assert ids(status="on_hold") == ["ORD-5", "ORD-2"]
    assert ids(customer_id="cust-a") == ["ORD-5", "ORD-3", "ORD-1"]
    assert ids(customer_ids=["cust-b"], status=OrderStatus.RECEIVED) == [
        "ORD-6",
        "ORD-4",
        "ORD-0",
    ]
    assert ids(customer_ids=[]) == []
    assert ids(needs_attention=True) == ["ORD-6"]
    assert ids(
        channel="web",
        created_from=T0 + timedelta(hours=3),
        created_to=T0 + timedelta(hours=5),
    ) == ["ORD-5", "ORD-4", "ORD-3"]
    with pytest.raises(InvalidCursor):
        list_orders(session_factory, cursor="not-a-cursor")


def test_shipments_upsert_and_read(session_factory: SF) -> None:
    base = ShipmentView(
        shipment_id="ORD-1-P1", order_id="ORD-1", warehouse="WH-EAST", updated_at=T0
    )
    record_shipment(session_factory, base)
    newer = base.model_copy(
        update={
            "status": ShipmentStatus.IN_TRANSIT,
            "carrier": "swift",
            "tracking_number": "SW0000000001",
            "updated_at": T0 + timedelta(hours=1),
        }
    )
    record_shipment(session_factory, newer)
    record_shipment(session_factory, base)  # a stale snapshot arrives late
    assert shipment_by_id(session_factory, "ORD-1-P1") == newer
    assert shipment_by_tracking(session_factory, "SW0000000001") == newer
    assert shipment_by_id(session_factory, "nope") is None


def test_order_reads_show_the_parcel_steps_the_order_was_not_told(session_factory: SF) -> None:
    """A parcel signals its order only what the order acts on (here: the hand-over); its other
    steps reach the order's readers from the shipments projection, in time order."""
    pending = ShipmentView(shipment_id="ORD-1-P1", order_id="ORD-1", warehouse="WH-EAST")
    fulfilling = order(version=2, status=OrderStatus.FULFILLING, needs_attention=True)
    fulfilling.shipments = [pending]
    record_transition(session_factory, order(version=1), entry(OrderStatus.RECEIVED, "order.received", 0), 1)
    record_transition(session_factory, fulfilling, entry(OrderStatus.FULFILLING, "fulfilment.started", 1), 2)
    steps = [
        (ShipmentStatus.PICKING, "pick task sent to the warehouse", None),
        (ShipmentStatus.PACKED, "picked by ann", None),
        (ShipmentStatus.LABEL_CREATED, "swift express 12.00", None),
        (ShipmentStatus.IN_TRANSIT, "picked up", T0 + timedelta(minutes=5)),
    ]
    parcel = pending
    for version, (status, event, handed_over_at) in enumerate(steps, start=1):
        parcel = parcel.model_copy(
            update={
                "status": status,
                "last_event": event,
                "version": version,
                "handed_over_at": handed_over_at,
                "tracking_number": "SW0000000001" if version >= 3 else None,
                "updated_at": T0 + timedelta(minutes=1 + version),
            }
        )
        record_shipment(session_factory, parcel)
    record_shipment(session_factory, parcel)  # a retried write logs the step once
    shipped = order(version=3, status=OrderStatus.SHIPPED, needs_attention=True)
    shipped.shipments = [parcel]
    told = TimelineEntry(
        at=T0 + timedelta(minutes=6),
        status=OrderStatus.SHIPPED,
        event="shipment.in_transit",
        actor="system",
        detail={"shipment_id": "ORD-1-P1", "event": "picked up", "version": 4},
    )
    record_transition(session_factory, shipped, told, 3)

    stored = get_order(session_factory, "ORD-1")
    assert stored is not None
    assert [(e.event, e.status) for e in stored.timeline] == [
        ("order.received", OrderStatus.RECEIVED),
        ("fulfilment.started", OrderStatus.FULFILLING),
        ("shipment.picking", OrderStatus.FULFILLING),
        ("shipment.packed", OrderStatus.FULFILLING),
        ("shipment.label_created", OrderStatus.FULFILLING),
        ("shipment.in_transit", OrderStatus.SHIPPED),  # the order's own entry, not the parcel's copy
    ]
    assert stored.timeline[4].detail == {"shipment_id": "ORD-1-P1", "event": "swift express 12.00", "version": 3}
    assert timeline(session_factory, "ORD-1") == stored.timeline
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ShipmentEventRow)) == 4

    # An order that has heard nothing since its parcel started: its document holds the pending
    # parcel, yet every read shows the parcel as the parcel last recorded it.
    other = order("ORD-2", version=2, status=OrderStatus.FULFILLING, needs_attention=True)
    other.shipments = [pending.model_copy(update={"shipment_id": "ORD-2-P1", "order_id": "ORD-2"})]
    record_transition(session_factory, other, entry(OrderStatus.FULFILLING, "fulfilment.started", 1), 2)
    labelled = parcel.model_copy(
        update={"shipment_id": "ORD-2-P1", "order_id": "ORD-2", "status": ShipmentStatus.LABEL_CREATED, "version": 3}
    )
    record_shipment(session_factory, labelled)
    current = get_order(session_factory, "ORD-2")
    assert current is not None and current.status is OrderStatus.FULFILLING
    assert [(s.status, s.tracking_number, s.version) for s in current.shipments] == [
        (ShipmentStatus.LABEL_CREATED, "SW0000000001", 3)
    ]
    listed, _ = list_orders(session_factory, customer_id="cust-1", status="fulfilling")
    assert [o.shipments for o in listed] == [current.shipments]
    assert [o.shipments for o in ops_queue(session_factory, status="fulfilling")] == [current.shipments]
    # A parcel row no newer than what the order holds leaves the order's copy.
    assert get_order(session_factory, "ORD-1").shipments == [parcel]  # type: ignore[union-attr]


def test_a_parcel_step_never_comes_before_the_step_the_order_heard_late(session_factory: SF) -> None:
    """On a busy worker the order hears of the hand-over (version 4) after the parcel has already
    logged its next step (out for delivery, version 5): the timeline keeps the parcel's order."""
    start = order("ORD-9", version=2, status=OrderStatus.FULFILLING)
    record_transition(session_factory, start, entry(OrderStatus.FULFILLING, "fulfilment.started", 1), 1)
    parcel = ShipmentView(shipment_id="ORD-9-P1", order_id="ORD-9", warehouse="WH-EAST")
    for version, status in enumerate(
        (ShipmentStatus.PICKING, ShipmentStatus.PACKED, ShipmentStatus.LABEL_CREATED,
         ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY),
        start=1,
    ):
        parcel = parcel.model_copy(
            update={"status": status, "version": version, "updated_at": T0 + timedelta(minutes=1 + version)}
        )
        record_shipment(session_factory, parcel)
    heard_late = TimelineEntry(
        at=T0 + timedelta(minutes=7),  # after the parcel's out-for-delivery step (minute 6)
        status=OrderStatus.SHIPPED,
        event="shipment.in_transit",
        actor="system",
        detail={"shipment_id": "ORD-9-P1", "event": "picked up", "version": 4},
    )
    record_transition(session_factory, order("ORD-9", version=3, status=OrderStatus.SHIPPED), heard_late, 2)
    events = [e.event for e in timeline(session_factory, "ORD-9")]
    assert events == [
        "fulfilment.started",
        "shipment.picking",
        "shipment.packed",
        "shipment.label_created",
        "shipment.in_transit",
        "shipment.out_for_delivery",
    ]
    # ... and its times never go backwards (the lifecycle fuzzer's timeline invariant): the parcel's
    # step that must follow the order's late entry is shown at that entry's time.
    times = [e.at for e in timeline(session_factory, "ORD-9")]
    assert times == sorted(times)
    assert times[-1] == T0 + timedelta(minutes=7)


def test_idempotency_keys_first_claim_wins(session_factory: SF) -> None:
    assert claim_idempotency_key(session_factory, "idem:c:k1", "hash-a", "ORD-1") == (
        True,
        "hash-a",
        "ORD-1",
    )
    assert claim_idempotency_key(session_factory, "idem:c:k1", "hash-b", "ORD-2") == (
        False,
        "hash-a",
        "ORD-1",
    )
