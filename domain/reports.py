"""Management figures (R13): the report's shape, and its flat form for spreadsheets. Pure.

The figures themselves are computed in SQL (store/reports.py), over the orders created in a period.
"""

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class StepDuration(BaseModel):
    """Time spent in one status, from entering it to entering the next one (continuous percentiles)."""

    step: str
    orders: int  # stays in the step that ended; an order that came back to a step counts twice
    p50_seconds: float
    p95_seconds: float


class CashOnDelivery(BaseModel):
    """Cash-on-delivery orders apart: the cash couriers collected (captured at delivery), what is
    promised and not yet collected, what was voided (parcels returned, cancellations) and refunded."""

    orders: int = 0
    collected: Decimal = Decimal("0.00")
    outstanding: Decimal = Decimal("0.00")
    voided: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")


class Summary(BaseModel):
    orders: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    throughput_per_day: dict[date, int]  # orders created per UTC day
    step_durations: list[StepDuration]
    sla_breach_rate: float | None
    cancellation_rate: float | None
    return_rate: float | None  # of the orders that reached delivery
    refund_total: Decimal
    on_time_delivery_rate: float | None  # of the delivered parcels that had a promised date
    average_rating: float | None = None
    complaints: dict[str, int] = {}
    sla_breaches_per_day: dict[date, int] = {}  # orders whose first SLA breach fell on that UTC day
    cash_on_delivery: CashOnDelivery = CashOnDelivery()  # counted apart (also inside the figures above)


def rate(part: int, whole: int) -> float | None:
    """part/whole to four places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def summary_rows(summary: Summary) -> list[tuple[str, str, str]]:
    """The report flat, one (figure, key, value) row per number, for GET /reports/summary.csv.
    `key` is the status, channel, day or step a figure is broken down by, empty for a single figure;
    an undefined rate (nothing to divide by) is an empty value."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    rows: list[tuple[str, str, str]] = [("orders", "", str(summary.orders))]
    rows += [("by_status", status, str(n)) for status, n in sorted(summary.by_status.items())]
    rows += [("by_channel", channel, str(n)) for channel, n in sorted(summary.by_channel.items())]
    rows += [("throughput_per_day", day.isoformat(), str(n)) for day, n in sorted(summary.throughput_per_day.items())]
    for step in summary.step_durations:
        rows += [
            ("step_orders", step.step, str(step.orders)),
            ("step_p50_seconds", step.step, text(step.p50_seconds)),
            ("step_p95_seconds", step.step, text(step.p95_seconds)),
        ]
    rows += [
        ("sla_breach_rate", "", text(summary.sla_breach_rate)),
        ("cancellation_rate", "", text(summary.cancellation_rate)),
        ("return_rate", "", text(summary.return_rate)),
        ("refund_total", "", str(summary.refund_total)),
        ("on_time_delivery_rate", "", text(summary.on_time_delivery_rate)),
        ("average_rating", "", text(summary.average_rating)),
    ]
    rows += [("complaints", status, str(n)) for status, n in sorted(summary.complaints.items())]
    rows += [("sla_breaches_per_day", day.isoformat(), str(n)) for day, n in sorted(summary.sla_breaches_per_day.items())]
    rows += [("cash_on_delivery", key, str(value)) for key, value in summary.cash_on_delivery.model_dump().items()]
    return rows
