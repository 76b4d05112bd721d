"""Management figures (R13) computed in PostgreSQL over the projection: `orders`, `order_events`
and `shipments`, for the orders created in [since, until) (None: no bound).

A handful of aggregate queries, each one pass over the period's rows; nothing is loaded into
Python row by row, so the report stays fast at a million events. The indexes they lean on are
in migration 0005 (see its docstring for which query uses which).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Numeric, case, cast, distinct, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from domain.enums import PaymentMethod
from domain.events import SLA_BREACHED
from domain.reports import CashOnDelivery, StepDuration, Summary, rate
from store import feedback
from store.models import OrderEventRow, OrderRow, ShipmentRow

CANCELLED = "cancelled"
# Statuses an order has only once a parcel was delivered (an order with a return got there too).
REACHED_DELIVERY = ("delivered", "returning", "closed")
PARCEL_DELIVERED = "delivered"


def _period(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(OrderRow.created_at >= since)
    if until is not None:
        conditions.append(OrderRow.created_at < until)
    return conditions


def _utc_day(column: Any) -> ColumnElement[date]:
    """The UTC calendar day of a timestamptz (independent of the session's time zone)."""
    return cast(func.date_trunc("day", func.timezone("UTC", column)), Date)


def _order_figures(s: Session, period: list[ColumnElement[bool]]) -> dict[str, Any]:
    has_returns = func.jsonb_array_length(OrderRow.document["returns"]) > 0
    reached_delivery = or_(OrderRow.status.in_(REACHED_DELIVERY), has_returns)
    refunded = cast(OrderRow.document["totals"]["refunded"].astext, Numeric(12, 2))
    row = s.execute(
        select(
            func.count().label("orders"),
            func.count().filter(OrderRow.status == CANCELLED).label("cancelled"),
            func.count().filter(reached_delivery).label("reached_delivery"),
            func.count().filter(has_returns).label("returned"),
            func.coalesce(func.sum(refunded), 0).label("refunded"),
        ).where(*period)
    ).one()
    return dict(row._mapping)


# Payment statuses once something was captured (orders from before payment.captured was kept
# were captured whole) and once nothing was promised any more.
_CAPTURED = ("captured", "partially_refunded", "refunded")
_NOT_PROMISED = ("pending", "declined", "voided")


def _cash_on_delivery(s: Session, period: list[ColumnElement[bool]]) -> CashOnDelivery:
    """Cash-on-delivery orders apart, one pass over the period's cod orders."""
    payment = OrderRow.document["payment"]
    status = payment["status"].astext
    grand_total = cast(OrderRow.document["totals"]["grand_total"].astext, Numeric(12, 2))
    refunded = cast(OrderRow.document["totals"]["refunded"].astext, Numeric(12, 2))
    captured = func.coalesce(
        cast(payment["captured"].astext, Numeric(12, 2)),
        case((status.in_(_CAPTURED), grand_total), else_=0),
    )
    voided = func.coalesce(
        cast(payment["voided"].astext, Numeric(12, 2)), case((status == "voided", grand_total), else_=0)
    )
    left = func.greatest(grand_total - captured - voided, 0)
    row = s.execute(
        select(
            func.count().label("orders"),
            func.coalesce(func.sum(captured), 0).label("collected"),
            func.coalesce(func.sum(left).filter(status.not_in(_NOT_PROMISED)), 0).label("outstanding"),
            func.coalesce(func.sum(voided), 0).label("voided"),
            func.coalesce(func.sum(refunded), 0).label("refunded"),
        ).where(payment["method"].astext == PaymentMethod.COD.value, *period)
    ).one()
    cent = Decimal("0.01")
    return CashOnDelivery(
        orders=int(row.orders),
        collected=Decimal(row.collected).quantize(cent),
        outstanding=Decimal(row.outstanding).quantize(cent),
        voided=Decimal(row.voided).quantize(cent),
        refunded=Decimal(row.refunded).quantize(cent),
    )


def _breakdowns(
    s: Session, period: list[ColumnElement[bool]]
) -> tuple[dict[str, int], dict[str, int], dict[date, int]]:
    """Orders by status, by channel and by UTC day of creation, in one pass (GROUPING SETS).
    The three columns are NOT NULL, so the one that is set tells which grouping a row belongs to."""
    day = _utc_day(OrderRow.created_at).label("day")
    rows = s.execute(
        select(OrderRow.status, OrderRow.channel, day, func.count().label("n"))
        .where(*period)
        .group_by(func.grouping_sets(OrderRow.status, OrderRow.channel, day))
    ).all()
    by_status = {r.status: r.n for r in rows if r.status is not None}
    by_channel = {r.channel: r.n for r in rows if r.channel is not None}
    per_day = dict(sorted((r.day, r.n) for r in rows if r.day is not None))
    return by_status, by_channel, per_day


def _step_durations(s: Session, period: list[ColumnElement[bool]]) -> list[StepDuration]:
    """Each stay in a status lasts from the first event in it to the next event in another one;
    repeated events in the same status (an SLA note, a retry) do not start a new stay. The stay
    the order is in now has no end and is left out."""
    events = (
        select(
            OrderEventRow.order_id,
            OrderEventRow.seq,
            OrderEventRow.at,
            OrderEventRow.status,
            func.lag(OrderEventRow.status)
            .over(partition_by=OrderEventRow.order_id, order_by=OrderEventRow.seq)
            .label("previous"),
        )
        .join(OrderRow, OrderRow.order_id == OrderEventRow.order_id)
        .where(*period)
        .subquery("events")
    )
    stays = (
        select(
            events.c.status,
            events.c.at,
            func.lead(events.c.at).over(partition_by=events.c.order_id, order_by=events.c.seq).label("left_at"),
        )
        .where(events.c.previous.is_distinct_from(events.c.status))
        .subquery("stays")
    )
    seconds = func.extract("epoch", stays.c.left_at - stays.c.at)
    rows = s.execute(
        select(
            stays.c.status,
            func.count().label("n"),
            func.percentile_cont(0.5).within_group(seconds).label("p50"),
            func.percentile_cont(0.95).within_group(seconds).label("p95"),
        )
        .where(stays.c.left_at.is_not(None))
        .group_by(stays.c.status)
        .order_by(stays.c.status)
    ).all()
    # Milliseconds are precision enough, and spare readers float noise (110.99999999999997).
    return [
        StepDuration(step=r.status, orders=r.n, p50_seconds=round(r.p50, 3), p95_seconds=round(r.p95, 3))
        for r in rows
    ]


def _sla_breaches(s: Session, period: list[ColumnElement[bool]]) -> tuple[int, dict[date, int]]:
    """Orders that breached an SLA at least once, and how many had their first breach on each UTC day."""
    first = (
        select(OrderEventRow.order_id, func.min(OrderEventRow.at).label("at"))
        .join(OrderRow, OrderRow.order_id == OrderEventRow.order_id)
        .where(OrderEventRow.event == SLA_BREACHED, *period)
        .group_by(OrderEventRow.order_id)
        .subquery("first_breach")
    )
    day = _utc_day(first.c.at).label("day")
    rows = s.execute(select(day, func.count(distinct(first.c.order_id)).label("n")).group_by(day).order_by(day)).all()
    per_day = {r.day: r.n for r in rows}
    return sum(per_day.values()), per_day


def _on_time(s: Session, period: list[ColumnElement[bool]]) -> tuple[int, int]:
    """(delivered parcels with a promised date, those delivered on or before it), by UTC day."""
    promised = cast(ShipmentRow.document["promised_by"].astext, Date)
    row = s.execute(
        select(
            func.count().label("delivered"),
            func.count().filter(_utc_day(ShipmentRow.updated_at) <= promised).label("on_time"),
        )
        .join(OrderRow, OrderRow.order_id == ShipmentRow.order_id)
        .where(ShipmentRow.status == PARCEL_DELIVERED, promised.is_not(None), *period)
    ).one()
    return int(row.delivered), int(row.on_time)


def summary(sf: sessionmaker[Session], since: datetime | None, until: datetime | None) -> Summary:
    """The management report of the orders created in [since, until). Ratings are of the feedback
    given in the period; complaints are the queue as it is now."""
    period = _period(since, until)
    with sf() as s:
        totals = _order_figures(s, period)
        by_status, by_channel, per_day = _breakdowns(s, period)
        steps = _step_durations(s, period)
        breached, breaches_per_day = _sla_breaches(s, period)
        delivered, on_time = _on_time(s, period)
        cod = _cash_on_delivery(s, period)
    orders = int(totals["orders"])
    return Summary(
        orders=orders,
        by_status=by_status,
        by_channel=by_channel,
        throughput_per_day=per_day,
        step_durations=steps,
        sla_breach_rate=rate(breached, orders),
        cancellation_rate=rate(int(totals["cancelled"]), orders),
        return_rate=rate(int(totals["returned"]), int(totals["reached_delivery"])),
        refund_total=Decimal(totals["refunded"]).quantize(Decimal("0.01")),
        on_time_delivery_rate=rate(on_time, delivered),
        average_rating=feedback.average_rating(sf, since, until),
        complaints=feedback.complaint_counts(sf),
        sla_breaches_per_day=breaches_per_day,
        cash_on_delivery=cod,
    )
