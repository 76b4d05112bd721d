"""Cycle counts (R6 periodic counts, R14 a second look before a large correction): the count plan
and the hold rule, as pure functions over plain data.

The plan. Each SKU a warehouse holds stock for (a stock level) is one count item. Items are
classed per warehouse, ABC by value:
- value: the units shipped from that warehouse in the window (OMS_COUNT_VALUE_WINDOW, 90 days;
  shipments net of labels cancelled before hand-over) times the SKU's catalog price;
- ranked by value, highest first; ties by velocity (picks: parcel lines shipped in the window),
  then by SKU;
- an item is A while the value ranked before it is under `a_percent` (80) of the warehouse's
  total, B while under `a_percent + b_percent` (95), C after; the item that crosses a boundary
  belongs to the class it crosses into first (the top seller alone is A even when it is 95 % of
  the value). An item with no shipped value is C;
- velocity promotes fast movers: an item with at least `fast_mover_picks` picks in the window
  moves up one class (C to B, B to A); 0 turns promotion off. Picks are where a book goes wrong
  (a wrong unit picked, a miscount at the shelf), whatever the unit's price.
Each class is counted every `every[class]` (A 30 days, B 90, C 180). An item is due from its last
applied count plus its class's interval; an item never counted is due since always (listed
first).

The hold rule: a count whose discrepancy (counted - book) is larger than `hold_units` units AND
larger than `hold_percent` of the book waits for ops approval; any other count applies at once.
Both at once, so that neither a small relative error of a large stock nor a few units of a
small one need a second look; `hold_units` 0 holds on the percent alone, `hold_percent` 0 on the
units alone.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field


class CountClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class CountStatus(StrEnum):
    APPLIED = "applied"  # small discrepancy: applied when counted
    PENDING = "pending"  # over the threshold: waits for ops
    APPROVED = "approved"  # ops applied it
    REJECTED = "rejected"  # ops refused it: stock unchanged
    SUPERSEDED = "superseded"  # a later count of the same item replaced it while it waited


class CountPolicy(BaseModel):
    a_percent: Decimal = Field(default=Decimal(80), ge=0, le=100)
    b_percent: Decimal = Field(default=Decimal(15), ge=0, le=100)
    fast_mover_picks: int = Field(default=30, ge=0)
    window: timedelta = timedelta(days=90)
    every_a: timedelta = timedelta(days=30)
    every_b: timedelta = timedelta(days=90)
    every_c: timedelta = timedelta(days=180)
    hold_units: int = Field(default=10, ge=0)
    hold_percent: Decimal = Field(default=Decimal(10), ge=0)

    def every(self, cls: CountClass) -> timedelta:
        return {CountClass.A: self.every_a, CountClass.B: self.every_b, CountClass.C: self.every_c}[cls]


class CountItem(BaseModel):
    """One SKU at one warehouse, with what the plan needs to know about it."""

    sku: str
    warehouse: str
    value: Decimal = Decimal(0)  # shipped value in the window
    picks: int = 0  # parcel lines shipped in the window
    last_counted_at: datetime | None = None
    pending_count_id: int | None = None


class PlannedCount(BaseModel):
    sku: str
    warehouse: str
    cls: CountClass
    value: Decimal
    picks: int
    last_counted_at: datetime | None
    due_since: datetime | None  # None: never counted
    pending_count_id: int | None = None


_UP = {CountClass.C: CountClass.B, CountClass.B: CountClass.A, CountClass.A: CountClass.A}


def classify(items: list[CountItem], policy: CountPolicy) -> dict[tuple[str, str], CountClass]:
    """The ABC class of every (sku, warehouse), ranked within each warehouse (module docstring)."""
    by_warehouse: dict[str, list[CountItem]] = {}
    for item in items:
        by_warehouse.setdefault(item.warehouse, []).append(item)
    classes: dict[tuple[str, str], CountClass] = {}
    for group in by_warehouse.values():
        total = sum((item.value for item in group), Decimal(0))
        a_limit = total * policy.a_percent / 100
        b_limit = total * min(policy.a_percent + policy.b_percent, Decimal(100)) / 100
        before = Decimal(0)
        for item in sorted(group, key=lambda i: (-i.value, -i.picks, i.sku)):
            if item.value <= 0:
                cls = CountClass.C
            elif before < a_limit:
                cls = CountClass.A
            elif before < b_limit:
                cls = CountClass.B
            else:
                cls = CountClass.C
            before += item.value
            if policy.fast_mover_picks and item.picks >= policy.fast_mover_picks:
                cls = _UP[cls]
            classes[(item.sku, item.warehouse)] = cls
    return classes


def plan(items: list[CountItem], policy: CountPolicy) -> list[PlannedCount]:
    """Every item with its class and since when it is due, oldest first (never counted first),
    then by warehouse and SKU."""
    classes = classify(items, policy)
    planned = []
    for item in items:
        cls = classes[(item.sku, item.warehouse)]
        due = None if item.last_counted_at is None else item.last_counted_at + policy.every(cls)
        planned.append(
            PlannedCount(
                sku=item.sku,
                warehouse=item.warehouse,
                cls=cls,
                value=item.value,
                picks=item.picks,
                last_counted_at=item.last_counted_at,
                due_since=due,
                pending_count_id=item.pending_count_id,
            )
        )
    return sorted(planned, key=lambda p: (p.due_since is not None, p.due_since or datetime.min, p.warehouse, p.sku))


def due(items: list[CountItem], policy: CountPolicy, now: datetime) -> list[PlannedCount]:
    """The items due at `now` (due since `now` or earlier, or never counted), oldest first."""
    return [p for p in plan(items, policy) if p.due_since is None or p.due_since <= now]


def needs_approval(book: int, counted: int, policy: CountPolicy) -> bool:
    """Whether a count waits for ops: its discrepancy is over both thresholds (module docstring)."""
    off = abs(counted - book)
    return off > policy.hold_units and off * 100 > policy.hold_percent * book


def applied_on_approval(on_hand_now: int, discrepancy: int) -> int:
    """The on_hand an approved count leaves: the discrepancy found at the count applies to the
    stock as it is at approval, so that what moved since the count (shipments, receipts) stays
    booked. (Setting on_hand to the counted units would undo those movements.)"""
    return on_hand_now + discrepancy


class StockCount(BaseModel):
    """One count as recorded (store.models.StockCountRow)."""

    count_id: int
    sku: str
    warehouse: str
    counted: int
    book: int = Field(description="on_hand when counted")
    reserved: int = Field(description="units reserved for open orders when counted")
    discrepancy: int = Field(description="counted - book")
    status: CountStatus
    counted_by: str
    counted_at: datetime
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    on_hand_at_decision: int | None = Field(default=None, description="on_hand when ops approved or rejected")
    applied_delta: int | None = Field(default=None, description="the change to on_hand this count made")
    on_hand_after: int | None = Field(default=None, description="on_hand right after the change")
