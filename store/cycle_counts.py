"""Cycle counts (issue 19; the rules are domain/counts.py): what the count plan needs to know about
each item, the counts waiting for ops, and ops' approval or rejection of one.

A count is recorded by store.catalog.count_stock (the stock row's lock, then the count's). An
approval takes the same locks in the same order: the stock level, then the count."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.counts import CountItem, StockCount, applied_on_approval
from domain.errors import CountBelowReserved, CountNotPending, UnknownCount
from domain.models import StockLevel
from store.catalog import _audit, _lock_or_create, stock_count_of, stock_level_of
from store.models import (
    CatalogItemRow,
    StockAdjustmentRow,
    StockCountRow,
    StockLevelRow,
    WarehouseRow,
)
from store.stock_alerts import OPS_EMAIL, note_stock_change

SessionFactory = sessionmaker[Session]

# What left the shelf for orders: shipments, less the labels cancelled before hand-over.
SHIPPED, UNSHIPPED = "shipment", "restock_cancelled_label"


def count_items(sf: SessionFactory, since: datetime, warehouse: str | None = None) -> list[CountItem]:
    """Every stock level of an active warehouse (of `warehouse` alone when given), with its
    shipped value and picks since `since`, its last applied count and its waiting count."""
    moved = (
        select(
            StockAdjustmentRow.sku,
            StockAdjustmentRow.warehouse,
            (-func.sum(StockAdjustmentRow.delta_on_hand)).label("units"),
            (
                func.count().filter(StockAdjustmentRow.reason == SHIPPED)
                - func.count().filter(StockAdjustmentRow.reason == UNSHIPPED)
            ).label("picks"),
        )
        .where(StockAdjustmentRow.reason.in_((SHIPPED, UNSHIPPED)), StockAdjustmentRow.at >= since)
        .group_by(StockAdjustmentRow.sku, StockAdjustmentRow.warehouse)
        .subquery()
    )
    counted = (
        select(
            StockCountRow.sku,
            StockCountRow.warehouse,
            func.max(StockCountRow.counted_at)
            .filter(StockCountRow.status.in_(("applied", "approved")))
            .label("last_counted_at"),
            func.min(StockCountRow.id).filter(StockCountRow.status == "pending").label("pending_id"),
        )
        .group_by(StockCountRow.sku, StockCountRow.warehouse)
        .subquery()
    )
    query = (
        select(
            StockLevelRow.sku,
            StockLevelRow.warehouse,
            CatalogItemRow.price,
            moved.c.units,
            moved.c.picks,
            counted.c.last_counted_at,
            counted.c.pending_id,
        )
        .join(CatalogItemRow, CatalogItemRow.sku == StockLevelRow.sku)
        .join(WarehouseRow, WarehouseRow.code == StockLevelRow.warehouse)
        .outerjoin(moved, (moved.c.sku == StockLevelRow.sku) & (moved.c.warehouse == StockLevelRow.warehouse))
        .outerjoin(
            counted, (counted.c.sku == StockLevelRow.sku) & (counted.c.warehouse == StockLevelRow.warehouse)
        )
        .where(WarehouseRow.active.is_(True))
        .order_by(StockLevelRow.warehouse, StockLevelRow.sku)
    )
    if warehouse is not None:
        query = query.where(StockLevelRow.warehouse == warehouse)
    with sf() as s:
        rows = s.execute(query).all()
    items = []
    for sku, code, price, units, picks, last_counted_at, pending_id in rows:
        units = max(int(units or 0), 0)
        items.append(
            CountItem(
                sku=sku,
                warehouse=code,
                value=Decimal(units) * Decimal(price),
                picks=max(int(picks or 0), 0),
                last_counted_at=last_counted_at,
                pending_count_id=pending_id,
            )
        )
    return items


def get_count(sf: SessionFactory, count_id: int) -> StockCount:
    with sf() as s:
        row = s.get(StockCountRow, count_id)
        if row is None:
            raise UnknownCount(f"no count {count_id}")
        return stock_count_of(row)


def pending_counts(sf: SessionFactory, warehouse: str | None = None, limit: int = 500) -> list[StockCount]:
    """The counts waiting for ops, oldest first."""
    query = select(StockCountRow).where(StockCountRow.status == "pending")
    if warehouse is not None:
        query = query.where(StockCountRow.warehouse == warehouse)
    with sf() as s:
        rows = s.scalars(query.order_by(StockCountRow.counted_at, StockCountRow.id).limit(limit)).all()
        return [stock_count_of(row) for row in rows]


def _lock_pending(s: Session, count_id: int) -> tuple[StockCountRow, StockLevelRow]:
    found = s.get(StockCountRow, count_id)
    if found is None:
        raise UnknownCount(f"no count {count_id}")
    level = _lock_or_create(s, found.sku, found.warehouse)
    count = s.scalars(
        select(StockCountRow)
        .where(StockCountRow.id == count_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if count.status != "pending":
        raise CountNotPending(f"count {count_id} is {count.status}, not pending")
    return count, level


def approve_count(
    sf: SessionFactory, count_id: int, actor: str, note: str, *, ops_email: str = OPS_EMAIL
) -> tuple[StockCount, StockLevel]:
    """Ops approve a waiting count: its discrepancy applies to on_hand as it is now (what moved
    since the count stays booked; domain.counts.applied_on_approval), with a `count_approved`
    audit row naming the approver, the reason and the counter. Refused, the count still
    waiting, when that would leave on_hand below the units reserved now (CountBelowReserved)."""
    with sf.begin() as s:
        count, level = _lock_pending(s, count_id)
        after = applied_on_approval(level.on_hand, count.discrepancy)
        if after < level.reserved:
            raise CountBelowReserved(
                f"approving count {count_id} would leave on_hand {after}, below the {level.reserved} "
                "units reserved for open orders now; recount (a new count supersedes this one) or reject it"
            )
        before = level.on_hand
        count.status = "approved"
        count.decided_by = actor
        count.decided_at = func.now()
        count.decision_note = note
        count.on_hand_at_decision = before
        count.applied_delta = after - before
        count.on_hand_after = after
        level.on_hand = after
        level.updated_at = func.now()
        _audit(
            s,
            count.sku,
            count.warehouse,
            after - before,
            "count_approved",
            actor,
            {
                "count_id": count.id,
                "counted": count.counted,
                "book": count.book,
                "discrepancy": count.discrepancy,
                "counted_by": count.counted_by,
                "on_hand_at_approval": before,
                "note": note,
            },
        )
        s.flush()
        note_stock_change(s, count.sku, count.warehouse, recipient=ops_email)
        s.flush()
        s.refresh(level)
        s.refresh(count)
        return stock_count_of(count), stock_level_of(level)


def reject_count(sf: SessionFactory, count_id: int, actor: str, note: str) -> StockCount:
    """Ops reject a waiting count: the stock does not change (no audit row: nothing moved); the
    count records who rejected it and why. The item stays due."""
    with sf.begin() as s:
        count, level = _lock_pending(s, count_id)
        count.status = "rejected"
        count.decided_by = actor
        count.decided_at = func.now()
        count.decision_note = note
        count.on_hand_at_decision = level.on_hand
        s.flush()
        s.refresh(count)
        return stock_count_of(count)
