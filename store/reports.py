"""Management figures (R13) computed in PostgreSQL over the projection: `orders`, `order_events`
and `shipments`, for the orders created in [since, until) (None: no bound).

A handful of aggregate queries, each one pass over the period's rows; nothing is loaded into
Python row by row, so the report stays fast at a million events. The indexes they lean on are
in migration 0005 (see its docstring for which query uses which).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Numeric, case, cast, column, distinct, exists, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from domain.enums import PaymentMethod
from domain.events import SLA_BREACHED
from domain.reports import (
    PARCEL_STEP_ORDER,
    PARCEL_STEPS,
    CashOnDelivery,
    ChannelBreakdown,
    InventoryFigures,
    ParcelBreakdown,
    ParcelStep,
    StepDuration,
    StockOut,
    Summary,
    WarehouseTurns,
    issue_counts,
    rate,
    reason_counts,
    turns,
)
from store import feedback
from store.models import OrderEventRow, OrderRow, ShipmentEventRow, ShipmentRow, StockAdjustmentRow

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


def _parcel_step(r: Any) -> ParcelStep:
    return ParcelStep(
        step=PARCEL_STEPS[r.status],
        parcels=r.n,
        p50_seconds=round(float(r.p50), 3),
        p90_seconds=round(float(r.p90), 3),
        mean_seconds=round(float(r.mean), 3),
    )


def _parcel_stay_rows(s: Session, period: list[ColumnElement[bool]], key: Any = None) -> list[Any]:
    """Each stay of a parcel in a status of its log (by version), as `_step_durations` does for
    orders; only the statuses that are steps of PARCEL_STEPS, and only stays that ended. With
    `key` (a ShipmentRow column: the parcel's warehouse or carrier now), per key as well."""
    keyed = [key.label("key")] if key is not None else []
    events_query = select(
        *keyed,
        ShipmentEventRow.shipment_id,
        ShipmentEventRow.version,
        ShipmentEventRow.at,
        ShipmentEventRow.status,
        func.lag(ShipmentEventRow.status)
        .over(partition_by=ShipmentEventRow.shipment_id, order_by=ShipmentEventRow.version)
        .label("previous"),
    ).join(OrderRow, OrderRow.order_id == ShipmentEventRow.order_id)
    if key is not None:
        events_query = events_query.join(
            ShipmentRow, ShipmentRow.shipment_id == ShipmentEventRow.shipment_id
        ).where(key.is_not(None))
    events = events_query.where(*period).subquery("parcel_events")
    stays = (
        select(
            *([events.c.key] if key is not None else []),
            events.c.status,
            events.c.at,
            func.lead(events.c.at)
            .over(partition_by=events.c.shipment_id, order_by=events.c.version)
            .label("left_at"),
        )
        .where(events.c.previous.is_distinct_from(events.c.status))
        .subquery("parcel_stays")
    )
    seconds = func.extract("epoch", stays.c.left_at - stays.c.at)
    groups = ([stays.c.key] if key is not None else []) + [stays.c.status]
    return list(
        s.execute(
            select(
                *groups,
                func.count().label("n"),
                func.percentile_cont(0.5).within_group(seconds).label("p50"),
                func.percentile_cont(0.9).within_group(seconds).label("p90"),
                func.avg(seconds).label("mean"),
            )
            .where(stays.c.left_at.is_not(None), stays.c.status.in_(list(PARCEL_STEPS)))
            .group_by(*groups)
        ).all()
    )


def _in_step_order(steps: list[ParcelStep]) -> list[ParcelStep]:
    return sorted(steps, key=lambda step: PARCEL_STEP_ORDER.index(step.step))


def _parcel_steps(s: Session, period: list[ColumnElement[bool]]) -> list[ParcelStep]:
    return _in_step_order([_parcel_step(r) for r in _parcel_stay_rows(s, period)])


def _parcel_steps_by(s: Session, period: list[ColumnElement[bool]], key: Any) -> dict[str, list[ParcelStep]]:
    """The parcel steps per warehouse or carrier (parcels without a carrier yet are left out)."""
    per_key: dict[str, list[ParcelStep]] = {}
    for r in _parcel_stay_rows(s, period, key):
        per_key.setdefault(r.key, []).append(_parcel_step(r))
    return {k: _in_step_order(steps) for k, steps in sorted(per_key.items())}


PARCEL_EXCEPTION = "exception"
PARCEL_CANCELLED = "cancelled"


def _parcels_by(s: Session, period: list[ColumnElement[bool]], key: Any) -> list[ParcelBreakdown]:
    """The period's parcels by `key` (their warehouse or carrier; parcels with no carrier yet are
    left out of the carrier's breakdown), with those that were ever in `exception`."""
    ever_exception = exists().where(
        ShipmentEventRow.shipment_id == ShipmentRow.shipment_id,
        ShipmentEventRow.status == PARCEL_EXCEPTION,
    )
    rows = s.execute(
        select(
            key.label("key"),
            func.count().label("parcels"),
            func.count().filter(ShipmentRow.status == PARCEL_DELIVERED).label("delivered"),
            func.count().filter(ShipmentRow.status == PARCEL_CANCELLED).label("cancelled"),
            func.count().filter(ever_exception).label("exceptions"),
        )
        .join(OrderRow, OrderRow.order_id == ShipmentRow.order_id)
        .where(key.is_not(None), *period)
        .group_by(key)
        .order_by(key)
    ).all()
    return [
        ParcelBreakdown(key=r.key, parcels=r.parcels, delivered=r.delivered, cancelled=r.cancelled,
                        exceptions=r.exceptions)
        for r in rows
    ]


# A claim's take-back (ReturnResolution.CLAIM) is no customer return: counted by resolution only.
CLAIM_RESOLUTION = "claim"
EXCHANGE_RESOLUTION = "exchange"


def _channels(s: Session, period: list[ColumnElement[bool]]) -> list[ChannelBreakdown]:
    """The period's orders by channel: cancelled, reached delivery, with a return (any), with a
    refund return (a return neither an exchange nor a claim's take-back), with an exchange."""
    returns = OrderRow.document["returns"]
    has_returns = func.jsonb_array_length(returns) > 0
    reached_delivery = or_(OrderRow.status.in_(REACHED_DELIVERY), has_returns)
    element = func.jsonb_array_elements(returns).table_valued(column("value", JSONB)).render_derived("r")
    resolution = func.coalesce(element.c.value["resolution"].astext, "refund")
    refund_return = (
        select(1).select_from(element).where(resolution.not_in((EXCHANGE_RESOLUTION, CLAIM_RESOLUTION))).exists()
    )
    exchange = returns.contains([{"resolution": EXCHANGE_RESOLUTION}])
    rows = s.execute(
        select(
            OrderRow.channel,
            func.count().label("orders"),
            func.count().filter(OrderRow.status == CANCELLED).label("cancelled"),
            func.count().filter(reached_delivery).label("reached_delivery"),
            func.count().filter(has_returns).label("returned"),
            func.count().filter(refund_return).label("refund_returns"),
            func.count().filter(exchange).label("exchanges"),
        )
        .where(*period)
        .group_by(OrderRow.channel)
        .order_by(OrderRow.channel)
    ).all()
    return [
        ChannelBreakdown(channel=r.channel, orders=r.orders, cancelled=r.cancelled,
                         reached_delivery=r.reached_delivery, returned=r.returned,
                         refund_returns=r.refund_returns, exchanges=r.exchanges)
        for r in rows
    ]


def _cancellation_reasons(s: Session, period: list[ColumnElement[bool]]) -> dict[str, int]:
    reason = OrderRow.document["cancellation_reason"].astext
    rows = s.execute(
        select(reason.label("reason"), func.count().label("n"))
        .where(OrderRow.status == CANCELLED, *period)
        .group_by(reason)
    ).all()
    return reason_counts([(r.reason, int(r.n)) for r in rows])


def _return_reasons(s: Session, period: list[ColumnElement[bool]]) -> tuple[dict[str, int], dict[str, int]]:
    """Returns (RMAs) of the period's orders: customer returns by reason, every return by resolution."""
    element = (
        func.jsonb_array_elements(OrderRow.document["returns"]).table_valued(column("value", JSONB)).render_derived("r")
    )
    reason = func.coalesce(element.c.value["reason"].astext, "unknown").label("reason")
    resolution = func.coalesce(element.c.value["resolution"].astext, "unknown").label("resolution")
    rows = s.execute(
        select(reason, resolution, func.count().label("n"))
        .select_from(OrderRow)
        .join(element, true())
        .where(*period)
        .group_by(reason, resolution)
    ).all()
    by_reason: dict[str, int] = {}
    by_resolution: dict[str, int] = {}
    for r in rows:
        by_resolution[r.resolution] = by_resolution.get(r.resolution, 0) + r.n
        if r.resolution != CLAIM_RESOLUTION:
            by_reason[r.reason] = by_reason.get(r.reason, 0) + r.n
    return dict(sorted(by_reason.items())), dict(sorted(by_resolution.items()))


def _carrier_issues(s: Session, period: list[ColumnElement[bool]]) -> dict[str, int]:
    """Entries of the parcel log that report a carrier issue (domain.reports.carrier_issue reads
    their wording), grouped in SQL by wording first: few distinct texts, however many parcels."""
    rows = s.execute(
        select(ShipmentEventRow.status, ShipmentEventRow.event, func.count().label("n"))
        .join(OrderRow, OrderRow.order_id == ShipmentEventRow.order_id)
        .where(
            or_(
                ShipmentEventRow.status.in_((PARCEL_EXCEPTION, "returned_to_sender")),
                ShipmentEventRow.event.startswith("delayed"),
            ),
            *period,
        )
        .group_by(ShipmentEventRow.status, ShipmentEventRow.event)
    ).all()
    return issue_counts([(r.status, r.event, int(r.n)) for r in rows])


# On hand over time per SKU and warehouse, rebuilt from stock_adjustments back from stock_levels'
# on_hand now: the level after an adjustment is on_hand now minus every later delta. Each
# adjustment starts a segment at that level up to the next one (open: NULL ends); a segment
# before the first adjustment (open: NULL starts) has the level before it (or on_hand now for a
# pair never adjusted). Everything is clipped to [:start, :end).
_SEGMENTS = """
WITH adj AS (
    SELECT a.sku, a.warehouse, a.id, a.at, a.delta_on_hand AS delta,
           l.on_hand - COALESCE(SUM(a.delta_on_hand) OVER later, 0) AS after,
           LEAD(a.at) OVER ordered AS next_at,
           ROW_NUMBER() OVER ordered AS n
    FROM stock_adjustments a
    JOIN stock_levels l ON l.sku = a.sku AND l.warehouse = a.warehouse
    WINDOW ordered AS (PARTITION BY a.sku, a.warehouse ORDER BY a.at, a.id),
           later AS (PARTITION BY a.sku, a.warehouse ORDER BY a.at DESC, a.id DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
segments AS (
    SELECT sku, warehouse, at AS starts, next_at AS ends, after AS level,
           (after - delta > 0 AND after <= 0 AND at >= :start AND at < :end) AS falls_out
    FROM adj
    UNION ALL
    SELECT l.sku, l.warehouse, NULL, f.at, COALESCE(f.after - f.delta, l.on_hand), false
    FROM stock_levels l
    LEFT JOIN adj f ON f.sku = l.sku AND f.warehouse = l.warehouse AND f.n = 1
),
clipped AS (
    SELECT sku, warehouse, GREATEST(level, 0) AS level, falls_out,
           GREATEST(0, EXTRACT(EPOCH FROM LEAST(COALESCE(ends, :end), :end)
                                        - GREATEST(COALESCE(starts, :start), :start))) AS seconds
    FROM segments
)
"""

_ON_HAND = text(
    _SEGMENTS
    + """SELECT warehouse, SUM(level * seconds) AS unit_seconds FROM clipped GROUP BY warehouse ORDER BY warehouse"""
)
_STOCK_OUTS = text(
    _SEGMENTS
    + """, outs AS (
    SELECT sku, warehouse, COUNT(*) FILTER (WHERE falls_out) AS times,
           COALESCE(SUM(seconds) FILTER (WHERE level = 0), 0) AS seconds_out
    FROM clipped GROUP BY sku, warehouse
)
SELECT o.sku, o.warehouse, o.times, o.seconds_out, l.on_hand - l.reserved AS available
FROM outs o JOIN stock_levels l ON l.sku = o.sku AND l.warehouse = o.warehouse
WHERE o.times > 0 OR o.seconds_out > 0 OR l.on_hand - l.reserved <= 0
ORDER BY o.warehouse, o.sku"""
)
# Shipped units: a shipment's delta is negative, a label cancelled before hand-over puts it back.
_SHIPPED_REASONS = ("shipment", "restock_cancelled_label")


def _inventory(s: Session, since: datetime | None, until: datetime | None) -> InventoryFigures:
    """Turns (units shipped / time-weighted average on hand) per warehouse and in all, and the
    stock-outs, over [since or the first stock change, until or now)."""
    now = s.scalar(select(func.now()))
    assert now is not None
    end = min(until, now) if until is not None else now
    start = since if since is not None else s.scalar(select(func.min(StockAdjustmentRow.at)))
    if start is None or start >= end:
        return InventoryFigures(period_start=start, period_end=end)
    params = {"start": start, "end": end}
    duration = (end - start).total_seconds()
    shipped = dict(
        s.execute(
            select(StockAdjustmentRow.warehouse, -func.sum(StockAdjustmentRow.delta_on_hand))
            .where(
                StockAdjustmentRow.reason.in_(_SHIPPED_REASONS),
                StockAdjustmentRow.at >= start,
                StockAdjustmentRow.at < end,
            )
            .group_by(StockAdjustmentRow.warehouse)
        ).all()
    )
    by_warehouse: list[WarehouseTurns] = []
    for warehouse, unit_seconds in s.execute(_ON_HAND, params).all():
        average = round(float(unit_seconds) / duration, 4)
        units = int(shipped.get(warehouse) or 0)
        by_warehouse.append(
            WarehouseTurns(warehouse=warehouse, units_shipped=units, average_on_hand=average, turns=turns(units, average))
        )
    stock_outs = [
        StockOut(sku=r.sku, warehouse=r.warehouse, available_now=int(r.available), out_now=r.available <= 0,
                 times=int(r.times), seconds_out=round(float(r.seconds_out), 3))
        for r in s.execute(_STOCK_OUTS, params).all()
    ]
    units = sum(w.units_shipped for w in by_warehouse)
    average_all = round(sum(w.average_on_hand or 0.0 for w in by_warehouse), 4)
    return InventoryFigures(
        period_start=start,
        period_end=end,
        units_shipped=units,
        average_on_hand=average_all,
        turns=turns(units, average_all),
        by_warehouse=by_warehouse,
        stock_outs=stock_outs,
    )


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
        parcel_steps = _parcel_steps(s, period)
        steps_by_warehouse = _parcel_steps_by(s, period, ShipmentRow.warehouse)
        steps_by_carrier = _parcel_steps_by(s, period, ShipmentRow.carrier)
        by_warehouse = _parcels_by(s, period, ShipmentRow.warehouse)
        by_carrier = _parcels_by(s, period, ShipmentRow.carrier)
        channels = _channels(s, period)
        cancellations = _cancellation_reasons(s, period)
        by_reason, by_resolution = _return_reasons(s, period)
        issues = _carrier_issues(s, period)
        inventory = _inventory(s, since, until)
    orders = int(totals["orders"])
    reached = sum(c.reached_delivery for c in channels)
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
        parcel_steps=parcel_steps,
        parcel_steps_by_warehouse=steps_by_warehouse,
        parcel_steps_by_carrier=steps_by_carrier,
        by_warehouse=by_warehouse,
        by_carrier=by_carrier,
        channels=channels,
        cancellations_by_reason=cancellations,
        returns_by_reason=by_reason,
        returns_by_resolution=by_resolution,
        carrier_exceptions_by_issue=issues,
        refund_return_rate=rate(sum(c.refund_returns for c in channels), reached),
        exchange_rate=rate(sum(c.exchanges for c in channels), reached),
        inventory=inventory,
    )
