"""Projection queries behind the ops queue, backorder wake-ups and the velocity rule."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from domain.enums import Channel, OrderStatus, PaymentMethod, Priority, ShippingSpeed
from domain.models import (
    Address,
    Customer,
    Hold,
    OrderLine,
    OrderView,
    ParcelLine,
    PaymentView,
    ShortWait,
    TimelineEntry,
    Totals,
)
from store.projection import (
    backordered_orders,
    ops_queue,
    recent_order_count,
    record_transition,
)

SF = sessionmaker[Session]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def record(
    sf: SF,
    order_id: str,
    *,
    status: OrderStatus = OrderStatus.FULFILLING,
    minutes: int = 0,
    customer: str = "cust-1",
    needs_attention: bool = False,
    skus: tuple[str, ...] = ("SKU-RED-M",),
    version: int = 1,
) -> OrderView:
    created = T0 + timedelta(minutes=minutes)
    view = OrderView(
        order_id=order_id,
        status=status,
        needs_attention=needs_attention,
        attention_reason="picking overdue" if needs_attention else None,
        attention_since=created + timedelta(hours=1) if needs_attention else None,
        hold=Hold(reason="high value", since=created) if status is OrderStatus.ON_HOLD else None,
        channel=Channel.WEB,
        customer=Customer(id=customer, email="a@example.com", name="Li Lei"),
        lines=[OrderLine(sku=sku, quantity=1, unit_price=Decimal("99.00")) for sku in skus],
        currency="CNY",
        totals=Totals(items=Decimal("99.00"), shipping=Decimal("12.00"), grand_total=Decimal("111.00")),
        shipping_address=Address(
            name="Li Lei", line1="1 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN"
        ),
        shipping_speed=ShippingSpeed.STANDARD,
        priority=Priority.NORMAL,
        payment=PaymentView(method=PaymentMethod.CARD, amount=Decimal("111.00")),
        created_at=created,
        updated_at=created + timedelta(minutes=1),
        workflow_id=f"order-{order_id}",
        version=version,
    )
    entry = TimelineEntry(at=view.updated_at, status=status, event=f"order.{status.value}", actor="system")
    record_transition(sf, view, entry, version)
    return view


def test_ops_queue_lists_held_and_stuck_orders_oldest_first(session_factory: SF) -> None:
    record(session_factory, "ORD-C", status=OrderStatus.ON_HOLD, minutes=30)
    record(session_factory, "ORD-A", needs_attention=True, minutes=10)
    record(session_factory, "ORD-B", minutes=5)  # fine: not listed
    record(session_factory, "ORD-D", status=OrderStatus.ON_HOLD, minutes=10)  # same time as A: by id
    record(session_factory, "ORD-E", status=OrderStatus.CANCELLED, minutes=1)

    queue = ops_queue(session_factory)
    assert [o.order_id for o in queue] == ["ORD-A", "ORD-D", "ORD-C"]
    assert queue[0].attention_reason == "picking overdue"
    assert queue[1].hold is not None and queue[1].hold.reason == "high value"
    assert all(o.timeline == [] for o in queue)

    assert [o.order_id for o in ops_queue(session_factory, needs_attention=True)] == ["ORD-A"]
    assert [o.order_id for o in ops_queue(session_factory, status="on_hold")] == ["ORD-D", "ORD-C"]
    assert [o.order_id for o in ops_queue(session_factory, needs_attention=False, status="on_hold")] == [
        "ORD-D",
        "ORD-C",
    ]
    assert [o.order_id for o in ops_queue(session_factory, limit=1)] == ["ORD-A"]
    assert ops_queue(session_factory, status="returning") == []


def test_ops_queue_follows_the_latest_version(session_factory: SF) -> None:
    record(session_factory, "ORD-A", status=OrderStatus.ON_HOLD, version=1)
    assert [o.order_id for o in ops_queue(session_factory)] == ["ORD-A"]
    record(session_factory, "ORD-A", status=OrderStatus.ALLOCATING, version=2)  # approved
    assert ops_queue(session_factory) == []


def test_backordered_orders_of_a_sku_first_come_first_served(session_factory: SF) -> None:
    record(session_factory, "ORD-LATE", status=OrderStatus.BACKORDERED, minutes=20, skus=("SKU-1", "SKU-2"))
    record(session_factory, "ORD-EARLY", status=OrderStatus.BACKORDERED, minutes=10, skus=("SKU-2",))
    record(session_factory, "ORD-OTHER", status=OrderStatus.BACKORDERED, minutes=5, skus=("SKU-3",))
    record(session_factory, "ORD-DONE", status=OrderStatus.FULFILLING, minutes=1, skus=("SKU-2",))

    assert backordered_orders(session_factory, "SKU-2") == ["ORD-EARLY", "ORD-LATE"]
    assert backordered_orders(session_factory, "SKU-1") == ["ORD-LATE"]
    assert backordered_orders(session_factory, "SKU-3") == ["ORD-OTHER"]
    assert backordered_orders(session_factory, "SKU-4") == []
    # A prefix of a SKU is another SKU.
    assert backordered_orders(session_factory, "SKU") == []


def test_recent_order_count_of_a_customer(session_factory: SF) -> None:
    record(session_factory, "ORD-1", minutes=0)
    record(session_factory, "ORD-2", minutes=30)
    record(session_factory, "ORD-3", minutes=60)
    record(session_factory, "ORD-X", minutes=45, customer="cust-2")

    since = T0 + timedelta(minutes=30)
    assert recent_order_count(session_factory, "cust-1", since, exclude_order_id="ORD-3") == 1  # ORD-2, inclusive
    assert recent_order_count(session_factory, "cust-1", since, exclude_order_id="ORD-NEW") == 2
    assert recent_order_count(session_factory, "cust-1", T0, exclude_order_id="ORD-NEW") == 3
    assert recent_order_count(session_factory, "cust-2", T0, exclude_order_id="ORD-NEW") == 1
    assert recent_order_count(session_factory, "cust-9", T0, exclude_order_id="ORD-NEW") == 0


def test_orders_whose_short_pick_waits_for_a_sku_are_woken_too(session_factory: SF) -> None:
    """A short pick's missing lines waiting (order.short_waits) make the order one that a receipt
    of their SKU wakes, whatever its status; once the wait is over it is not listed."""
    record(session_factory, "ORD-BACK", status=OrderStatus.BACKORDERED, minutes=20, skus=("SKU-2",))
    short = record(session_factory, "ORD-SHORT", minutes=10, skus=("SKU-1", "SKU-2"), version=1)
    wait = ShortWait(
        shipment_id="ORD-SHORT-1", missing=[ParcelLine(sku="SKU-2", quantity=1)], until=T0 + timedelta(days=3)
    )
    waiting = short.model_copy(update={"short_waits": [wait], "version": 2})
    record_transition(
        session_factory,
        waiting,
        TimelineEntry(at=waiting.updated_at, status=waiting.status, event="x", actor="system"),
        2,
    )

    assert backordered_orders(session_factory, "SKU-2") == ["ORD-SHORT", "ORD-BACK"]
    assert backordered_orders(session_factory, "SKU-1") == [], "its line of SKU-1 was shipped whole"
    over = waiting.model_copy(update={"short_waits": [], "version": 3})
    record_transition(
        session_factory,
        over,
        TimelineEntry(at=over.updated_at, status=over.status, event="y", actor="system"),
        3,
    )
    assert backordered_orders(session_factory, "SKU-2") == ["ORD-BACK"]
