"""Management figures (R13) computed from orders and their timelines. Pure: views in, figures out."""

from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

from pydantic import BaseModel

from domain.enums import OrderStatus, ShipmentStatus
from domain.models import OrderView, TimelineEntry


class StepDuration(BaseModel):
    step: str
    orders: int
    p50_seconds: float
    p95_seconds: float


class Summary(BaseModel):
    orders: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    throughput_per_day: dict[date, int]
    step_durations: list[StepDuration]
    sla_breach_rate: float | None
    cancellation_rate: float | None
    return_rate: float | None
    refund_total: Decimal
    on_time_delivery_rate: float | None
    average_rating: float | None = None
    complaints: dict[str, int] = {}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def step_durations(timelines: list[list[TimelineEntry]]) -> list[StepDuration]:
    """Time spent in each status: from entering it to entering the next one."""
    spent: dict[str, list[float]] = defaultdict(list)
    for timeline in timelines:
        entered: list[tuple[OrderStatus, datetime]] = []
        for entry in timeline:
            if not entered or entered[-1][0] is not entry.status:
                entered.append((entry.status, entry.at))
        for (status, start), (_, end) in pairwise(entered):
            spent[status.value].append((end - start).total_seconds())
    return [
        StepDuration(
            step=step,
            orders=len(values),
            p50_seconds=_percentile(values, 0.5),
            p95_seconds=_percentile(values, 0.95),
        )
        for step, values in sorted(spent.items())
    ]


def summarize(orders: list[OrderView], timelines: dict[str, list[TimelineEntry]]) -> Summary:
    delivered_parcels = [
        s
        for o in orders
        for s in o.shipments
        if s.status is ShipmentStatus.DELIVERED and s.promised_by is not None
    ]
    on_time = [
        s
        for s in delivered_parcels
        if s.updated_at is not None and s.promised_by is not None and s.updated_at.date() <= s.promised_by
    ]
    reached_delivery = [
        o
        for o in orders
        if o.status in (OrderStatus.DELIVERED, OrderStatus.RETURNING, OrderStatus.CLOSED) or o.returns
    ]
    breached = [o for o in orders if any(e.event == "sla.breached" for e in timelines.get(o.order_id, []))]
    return Summary(
        orders=len(orders),
        by_status=dict(Counter(o.status.value for o in orders)),
        by_channel=dict(Counter(o.channel.value for o in orders)),
        throughput_per_day=dict(sorted(Counter(o.created_at.date() for o in orders).items())),
        step_durations=step_durations([timelines.get(o.order_id, []) for o in orders]),
        sla_breach_rate=_rate(len(breached), len(orders)),
        cancellation_rate=_rate(sum(o.status is OrderStatus.CANCELLED for o in orders), len(orders)),
        return_rate=_rate(sum(bool(o.returns) for o in reached_delivery), len(reached_delivery)),
        refund_total=sum((o.totals.refunded for o in orders), Decimal("0.00")),
        on_time_delivery_rate=_rate(len(on_time), len(delivered_parcels)),
    )
