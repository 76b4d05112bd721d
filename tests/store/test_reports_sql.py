"""The management report on a hand-made data set with every figure worked out by hand.

Orders, events, parcels and feedback go straight into the tables, in March 2001 (nothing else
lives there), plus one order just before and one at the end of the period that must not count.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain.reports import StepDuration
from store import reports
from store.models import ComplaintRow, FeedbackRow, OrderEventRow, OrderRow, ShipmentRow

SF = sessionmaker[Session]
SINCE = datetime(2001, 3, 1, tzinfo=UTC)
UNTIL = datetime(2001, 3, 8, tzinfo=UTC)

# Each order: channel, created, final status, refunded, returns, its events as (seconds after
# creation, status, event), and its parcels as (status, promised_by, delivered at).
ORDERS: dict[str, dict[str, Any]] = {
    "O1": {
        "channel": "web", "created": datetime(2001, 3, 1, 10, tzinfo=UTC), "status": "delivered",
        "refunded": "0.00", "returns": 0,
        "events": [(0, "received", "order.received"), (10, "verifying", "order.verifying"),
                   (30, "payment_pending", "payment.pending"), (90, "fulfilling", "payment.authorized"),
                   (100, "fulfilling", "sla.breached"), (3690, "shipped", "order.shipped"),
                   (90090, "delivered", "order.delivered")],
        "parcels": [("delivered", "2001-03-03", datetime(2001, 3, 2, 11, 1, 30, tzinfo=UTC)),
                    ("delivered", None, datetime(2001, 3, 9, tzinfo=UTC))],  # no promise: not counted
    },
    "O2": {
        "channel": "web", "created": datetime(2001, 3, 1, 12, tzinfo=UTC), "status": "cancelled",
        "refunded": "0.00", "returns": 0,
        "events": [(0, "received", "order.received"), (20, "verifying", "order.verifying"),
                   (80, "cancelled", "order.cancelled")],
        "parcels": [],
    },
    "O3": {
        "channel": "marketplace", "created": datetime(2001, 3, 2, 9, tzinfo=UTC), "status": "returning",
        "refunded": "0.00", "returns": 1,
        "events": [(0, "received", "order.received"), (30, "verifying", "order.verifying"),
                   (70, "payment_pending", "payment.pending"), (190, "fulfilling", "payment.authorized"),
                   (7390, "shipped", "order.shipped"), (50590, "delivered", "order.delivered"),
                   (60000, "returning", "return.requested")],
        "parcels": [("delivered", "2001-03-02", datetime(2001, 3, 2, 23, 3, 10, tzinfo=UTC))],  # on the day
    },
    "O4": {
        "channel": "social", "created": datetime(2001, 3, 2, 15, tzinfo=UTC), "status": "closed",
        "refunded": "59.00", "returns": 1,
        "events": [(0, "received", "order.received"), (10, "verifying", "order.verifying"),
                   (40, "payment_pending", "payment.pending"), (100, "fulfilling", "payment.authorized"),
                   (200, "fulfilling", "sla.breached"), (10900, "shipped", "order.shipped"),
                   (183700, "delivered", "order.delivered"), (190000, "returning", "return.requested"),
                   (200000, "closed", "order.closed")],
        "parcels": [("delivered", "2001-03-03", datetime(2001, 3, 4, 18, 1, 40, tzinfo=UTC))],  # late
    },
    "O5": {
        "channel": "web", "created": datetime(2001, 3, 3, 8, tzinfo=UTC), "status": "on_hold",
        "refunded": "0.00", "returns": 0,
        "events": [(0, "received", "order.received"), (10, "verifying", "order.verifying"),
                   (50, "on_hold", "order.held"), (3650, "on_hold", "sla.breached"),
                   (90000, "on_hold", "sla.breached")],  # a second breach, next day: still one order
        "parcels": [],
    },
    "O6": {
        "channel": "marketplace", "created": datetime(2001, 3, 3, 20, tzinfo=UTC), "status": "cancelled",
        "refunded": "99.00", "returns": 0,
        "events": [(0, "received", "order.received"), (20, "verifying", "order.verifying"),
                   (40, "payment_pending", "payment.pending"), (100, "fulfilling", "payment.captured"),
                   (1900, "cancelled", "order.cancelled")],
        "parcels": [("cancelled", "2001-03-06", datetime(2001, 3, 3, 20, 31, 40, tzinfo=UTC))],
    },
    # Outside [SINCE, UNTIL): one second before, and exactly at the (exclusive) end.
    "BEFORE": {
        "channel": "pos", "created": SINCE - timedelta(seconds=1), "status": "closed",
        "refunded": "500.00", "returns": 1,
        "events": [(0, "received", "order.received"), (5, "verifying", "sla.breached"),
                   (7, "closed", "order.closed")],
        "parcels": [("delivered", "2001-02-01", datetime(2001, 3, 1, tzinfo=UTC))],
    },
    "AFTER": {
        "channel": "app", "created": UNTIL, "status": "cancelled", "refunded": "500.00", "returns": 0,
        "events": [(0, "received", "order.received"), (999, "cancelled", "sla.breached")],
        "parcels": [],
    },
}
# (order, kind, rating, created): reviews in the period average (5 + 4 + 2 + 5) / 4 = 4.0.
FEEDBACK = [
    ("O1", "review", 5, datetime(2001, 3, 2, tzinfo=UTC)),
    ("O3", "review", 4, datetime(2001, 3, 3, tzinfo=UTC)),
    ("O4", "review", 2, datetime(2001, 3, 5, tzinfo=UTC)),
    ("O6", "review", 5, datetime(2001, 3, 4, tzinfo=UTC)),
    ("O4", "complaint", 1, datetime(2001, 3, 5, tzinfo=UTC)),  # a complaint's rating is not a review
    ("BEFORE", "review", 1, datetime(2001, 2, 28, tzinfo=UTC)),  # outside the period
]


def _load(sf: SF) -> None:
    with sf.begin() as s:
        for order_id, o in ORDERS.items():
            last = o["created"] + timedelta(seconds=o["events"][-1][0])
            s.add(OrderRow(
                order_id=order_id, status=o["status"], customer_id=f"c-{order_id}", channel=o["channel"],
                total=Decimal("100.00"), created_at=o["created"], updated_at=last, version=len(o["events"]),
                document={
                    "order_id": order_id,
                    "totals": {"items": "100.00", "shipping": "0.00", "refunded": o["refunded"], "grand_total": "100.00"},
                    "returns": [{"rma_id": f"{order_id}-R{n + 1}", "status": "requested"} for n in range(o["returns"])],
                },
            ))
            for seq, (offset, status, event) in enumerate(o["events"], start=1):
                s.add(OrderEventRow(order_id=order_id, seq=seq, at=o["created"] + timedelta(seconds=offset),
                                    status=status, event=event, actor="test", detail={}))
            for number, (status, promised, at) in enumerate(o["parcels"], start=1):
                s.add(ShipmentRow(shipment_id=f"{order_id}-P{number}", order_id=order_id, warehouse="WH-EAST",
                                  status=status, document={"status": status, "promised_by": promised}, updated_at=at))
        s.add(ComplaintRow(complaint_id="CMP-1", order_id="O4", status="open"))
        s.flush()
        for number, (order_id, kind, rating, at) in enumerate(FEEDBACK, start=1):
            s.add(FeedbackRow(feedback_id=f"FB-{number}", order_id=order_id, customer_id=f"c-{order_id}", kind=kind,
                              rating=rating, actor="test", created_at=at,
                              complaint_id="CMP-1" if kind == "complaint" else None))


def test_every_figure_of_a_known_data_set(session_factory: SF) -> None:
    _load(session_factory)
    report = reports.summary(session_factory, SINCE, UNTIL)

    assert report.orders == 6
    assert report.by_status == {"delivered": 1, "cancelled": 2, "returning": 1, "closed": 1, "on_hold": 1}
    assert report.by_channel == {"web": 3, "marketplace": 2, "social": 1}
    assert report.throughput_per_day == {date(2001, 3, 1): 2, date(2001, 3, 2): 2, date(2001, 3, 3): 2}
    # Stays per step, in seconds (a repeated event in the same status is no new stay; the current
    # stay of O5 and the terminal ones have no end):
    #   received   10 20 30 10 10 20          verifying  20 60 40 30 40 20
    #   payment    60 120 60 60               fulfilling 3600 7200 10800 1800
    #   shipped    86400 43200 172800         delivered  9410 6300        returning 10000
    # p50/p95 interpolate between ranks (percentile_cont): e.g. fulfilling p95 is at rank 2.85 of
    # [1800, 3600, 7200, 10800] = 7200 + 0.85 * 3600.
    assert report.step_durations == [
        StepDuration(step="delivered", orders=2, p50_seconds=7855.0, p95_seconds=9254.5),
        StepDuration(step="fulfilling", orders=4, p50_seconds=5400.0, p95_seconds=10260.0),
        StepDuration(step="payment_pending", orders=4, p50_seconds=60.0, p95_seconds=111.0),
        StepDuration(step="received", orders=6, p50_seconds=15.0, p95_seconds=27.5),
        StepDuration(step="returning", orders=1, p50_seconds=10000.0, p95_seconds=10000.0),
        StepDuration(step="shipped", orders=3, p50_seconds=86400.0, p95_seconds=164160.0),
        StepDuration(step="verifying", orders=6, p50_seconds=35.0, p95_seconds=55.0),
    ]
    assert report.sla_breach_rate == 0.5  # O1, O4, O5 of 6
    assert report.sla_breaches_per_day == {date(2001, 3, 1): 1, date(2001, 3, 2): 1, date(2001, 3, 3): 1}
    assert report.cancellation_rate == 0.3333  # O2, O6
    assert report.return_rate == 0.6667  # O3, O4 of the 3 that reached delivery (O1, O3, O4)
    assert report.refund_total == Decimal("158.00")  # 59.00 + 99.00
    assert report.on_time_delivery_rate == 0.6667  # O1 early, O3 on the day, O4 late
    assert report.average_rating == 4.0
    assert report.complaints == {"open": 1, "resolved": 0}


def test_an_empty_period_has_no_rates(session_factory: SF) -> None:
    _load(session_factory)
    report = reports.summary(session_factory, datetime(1999, 1, 1, tzinfo=UTC), datetime(1999, 2, 1, tzinfo=UTC))
    assert (report.orders, report.by_status, report.step_durations, report.throughput_per_day) == (0, {}, [], {})
    assert report.sla_breach_rate is report.cancellation_rate is report.return_rate is None
    assert report.on_time_delivery_rate is report.average_rating is None
    assert report.refund_total == Decimal("0.00")


def test_unbounded_period_counts_every_order(session_factory: SF) -> None:
    _load(session_factory)
    report = reports.summary(session_factory, None, None)
    assert report.orders == 8 and report.by_channel["pos"] == 1 and report.by_channel["app"] == 1
    assert report.refund_total == Decimal("1158.00")
