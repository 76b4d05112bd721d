"""Management figures (R13): the report's shape, and its flat form for spreadsheets. Pure.

The figures themselves are computed in SQL (store/reports.py), over the orders created in a period.
"""

from datetime import date, datetime
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


# --- Issue 19: the parcel log's steps, breakdowns, exchanges apart, inventory turns, stock-outs ---

# A parcel's stay in a status of its log (shipment_events) is one step of its way: from the pick
# task to the confirmed pick (`picking`), packed and waiting for its label (`packed`), labelled
# and waiting for the carrier's first scan (`label_created`), with the carrier (`in_transit`), and
# out for delivery until delivered (`out_for_delivery`).
PARCEL_STEPS: dict[str, str] = {
    "picking": "pick",
    "packed": "pack",
    "label_created": "label",
    "in_transit": "transit",
    "out_for_delivery": "delivery",
}
PARCEL_STEP_ORDER: tuple[str, ...] = ("pick", "pack", "label", "transit", "delivery")


class ParcelStep(BaseModel):
    """Time parcels spent in one step of the parcel log: continuous percentiles and the mean."""

    step: str  # pick, pack, label, transit, delivery
    parcels: int  # stays in the step that ended; a parcel that came back to a step counts twice
    p50_seconds: float
    p90_seconds: float
    mean_seconds: float


class ParcelBreakdown(BaseModel):
    """The period's parcels of one warehouse or one carrier (their current status)."""

    key: str
    parcels: int
    delivered: int
    cancelled: int
    exceptions: int  # parcels that were in `exception` at least once


class ChannelBreakdown(BaseModel):
    """The period's orders of one channel; the rates are in `Summary` for all channels together."""

    channel: str
    orders: int
    cancelled: int
    reached_delivery: int
    returned: int  # orders with a return of any resolution (as `Summary.return_rate` counts them)
    refund_returns: int  # orders with a return settled by a refund
    exchanges: int  # orders with a return settled by an exchange


class WarehouseTurns(BaseModel):
    warehouse: str
    units_shipped: int
    average_on_hand: float | None  # time-weighted over the period; None for an empty period
    turns: float | None  # units shipped / average on hand; None when nothing was on hand


class StockOut(BaseModel):
    """A SKU at a warehouse that had nothing: on hand fell to 0 in the period (from the audit of
    on-hand changes, stock_adjustments), or nothing is available now (on hand - reserved)."""

    sku: str
    warehouse: str
    available_now: int
    out_now: bool
    times: int  # on hand fell to 0 this many times in the period
    seconds_out: float  # time at 0 on hand inside the period (an open stock-out up to its end)


class InventoryFigures(BaseModel):
    """Inventory turns and stock-outs over [period_start, period_end): by the time of each stock
    change, not by order creation. The period starts at `from` (else the first stock change) and
    ends at `to` or now, whichever is earlier."""

    period_start: datetime | None = None
    period_end: datetime | None = None
    units_shipped: int = 0
    average_on_hand: float | None = None
    turns: float | None = None
    by_warehouse: list[WarehouseTurns] = []
    stock_outs: list[StockOut] = []


def turns(units_shipped: int, average_on_hand: float | None) -> float | None:
    """Inventory turns to four places: None when nothing was on hand on average."""
    return round(units_shipped / average_on_hand, 4) if average_on_hand else None


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
    # Issue 19:
    parcel_steps: list[ParcelStep] = []  # from the parcel log, in step order
    parcel_steps_by_warehouse: dict[str, list[ParcelStep]] = {}  # the parcel's warehouse now
    parcel_steps_by_carrier: dict[str, list[ParcelStep]] = {}  # labelled parcels only
    by_warehouse: list[ParcelBreakdown] = []
    by_carrier: list[ParcelBreakdown] = []  # labelled parcels only
    channels: list[ChannelBreakdown] = []
    cancellations_by_reason: dict[str, int] = {}
    returns_by_reason: dict[str, int] = {}  # customer returns (not a claim's take-back)
    returns_by_resolution: dict[str, int] = {}  # every return, claim take-backs included
    carrier_exceptions_by_issue: dict[str, int] = {}  # entries of the parcel log, by issue
    refund_return_rate: float | None = None  # orders with a refund return, of those that reached delivery
    exchange_rate: float | None = None  # orders with an exchange, of those that reached delivery
    inventory: InventoryFigures = InventoryFigures()


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


# How the parcel log words a carrier exception (workflows/shipment.py), by the issue it reports.
_DELAYED = "delayed, now due by"
_LOST_OR_DAMAGED = "carrier reports the parcel "
_FAILED_ATTEMPT = "failed delivery attempt"
_UNSPECIFIED = "carrier exception: "
_LABEL_REFUSED = "label refused"


def carrier_issue(status: str, event: str) -> str | None:
    """The carrier issue (domain.enums.CarrierIssue, or what the carrier said) that one entry of
    the parcel log reports, or None when the entry reports none (a hold, a note, a step)."""
    if event.startswith(_DELAYED):
        return "delayed"
    if status == "returned_to_sender" and event.endswith("failed delivery attempts"):
        return "failed_attempt"
    if status != "exception":
        return None
    if event.startswith(_LOST_OR_DAMAGED):
        return event.removeprefix(_LOST_OR_DAMAGED) or "unspecified"
    if event.startswith(_FAILED_ATTEMPT):
        return "failed_attempt"
    if event.startswith(_UNSPECIFIED):
        return event.removeprefix(_UNSPECIFIED) or "unspecified"
    if event.startswith(_LABEL_REFUSED):
        return "label_refused"
    return None


def issue_counts(entries: list[tuple[str, str, int]]) -> dict[str, int]:
    """(status, event, count) of parcel-log entries -> count per carrier issue, by issue name."""
    counts: dict[str, int] = {}
    for status, event, n in entries:
        issue = carrier_issue(status, event)
        if issue is not None:
            counts[issue] = counts.get(issue, 0) + n
    return dict(sorted(counts.items()))


REJECTED_ON_REVIEW_PREFIX = "rejected on review"
NO_REASON = "unknown"


def cancellation_reason_key(reason: str | None) -> str:
    """The group a cancellation reason is counted under: a review's rejection without the
    reviewer's note, a missing reason as `unknown`, any other reason as it is."""
    if not reason:
        return NO_REASON
    if reason.startswith(REJECTED_ON_REVIEW_PREFIX):
        return REJECTED_ON_REVIEW_PREFIX
    return reason


def reason_counts(raw: list[tuple[str | None, int]]) -> dict[str, int]:
    """(cancellation reason, count) -> count per reason group, by group name."""
    counts: dict[str, int] = {}
    for reason, n in raw:
        key = cancellation_reason_key(reason)
        counts[key] = counts.get(key, 0) + n
    return dict(sorted(counts.items()))


Table = tuple[tuple[str, ...], list[tuple[str, ...]]]


def report_tables(summary: Summary) -> dict[str, Table]:
    """The issue-19 breakdowns as one table each (header, rows) for GET /reports/{table}.csv.
    Undefined figures (nothing to divide by, an empty period) are empty cells."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    def counts(name: str, figures: dict[str, int]) -> Table:
        return (name, "count"), [(key, str(n)) for key, n in figures.items()]

    def parcels(breakdown: list[ParcelBreakdown], key: str) -> Table:
        return (key, "parcels", "delivered", "cancelled", "exceptions"), [
            (b.key, str(b.parcels), str(b.delivered), str(b.cancelled), str(b.exceptions)) for b in breakdown
        ]

    def steps_by(key: str, per_key: dict[str, list[ParcelStep]]) -> Table:
        return (key, "step", "parcels", "p50_seconds", "p90_seconds", "mean_seconds"), [
            (k, st.step, str(st.parcels), text(st.p50_seconds), text(st.p90_seconds), text(st.mean_seconds))
            for k, steps in per_key.items()
            for st in steps
        ]

    inventory = summary.inventory
    turns_rows: list[tuple[str, ...]] = [
        (w.warehouse, str(w.units_shipped), text(w.average_on_hand), text(w.turns)) for w in inventory.by_warehouse
    ]
    turns_rows.append(("all", str(inventory.units_shipped), text(inventory.average_on_hand), text(inventory.turns)))
    return {
        "parcel-steps": (
            ("step", "parcels", "p50_seconds", "p90_seconds", "mean_seconds"),
            [(s.step, str(s.parcels), text(s.p50_seconds), text(s.p90_seconds), text(s.mean_seconds))
             for s in summary.parcel_steps],
        ),
        "parcel-steps-by-warehouse": steps_by("warehouse", summary.parcel_steps_by_warehouse),
        "parcel-steps-by-carrier": steps_by("carrier", summary.parcel_steps_by_carrier),
        "warehouses": parcels(summary.by_warehouse, "warehouse"),
        "carriers": parcels(summary.by_carrier, "carrier"),
        "channels": (
            ("channel", "orders", "cancelled", "reached_delivery", "returned", "refund_returns", "exchanges"),
            [(c.channel, str(c.orders), str(c.cancelled), str(c.reached_delivery), str(c.returned),
              str(c.refund_returns), str(c.exchanges)) for c in summary.channels],
        ),
        "cancellations": counts("reason", summary.cancellations_by_reason),
        "returns": counts("reason", summary.returns_by_reason),
        "return-resolutions": counts("resolution", summary.returns_by_resolution),
        "carrier-exceptions": counts("issue", summary.carrier_exceptions_by_issue),
        "rates": (
            ("figure", "value"),
            [("return_rate", text(summary.return_rate)),
             ("refund_return_rate", text(summary.refund_return_rate)),
             ("exchange_rate", text(summary.exchange_rate)),
             ("cancellation_rate", text(summary.cancellation_rate))],
        ),
        "inventory-turns": (
            ("warehouse", "units_shipped", "average_on_hand", "turns"),
            turns_rows,
        ),
        "stock-outs": (
            ("sku", "warehouse", "available_now", "out_now", "times", "seconds_out"),
            [(o.sku, o.warehouse, str(o.available_now), "true" if o.out_now else "false", str(o.times),
              text(o.seconds_out)) for o in inventory.stock_outs],
        ),
    }


REPORT_TABLES: tuple[str, ...] = (
    "parcel-steps",
    "parcel-steps-by-warehouse",
    "parcel-steps-by-carrier",
    "warehouses",
    "carriers",
    "channels",
    "cancellations",
    "returns",
    "return-resolutions",
    "carrier-exceptions",
    "rates",
    "inventory-turns",
    "stock-outs",
)
