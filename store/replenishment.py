"""Reorder rules and what the replenishment proposal reads (R6; domain/replenishment.py has the
formula). Every change of a rule writes an audit row in stock_adjustments (delta 0: no stock
moves), as the stock thresholds of `store.catalog.set_stock_level` do."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.replenishment import DEMAND_WINDOW_DAYS, ReorderRule
from store.models import (
    CatalogItemRow,
    ReorderRuleRow,
    ReservationRow,
    StockAdjustmentRow,
    StockLevelRow,
    WarehouseRow,
)

SessionFactory = sessionmaker[Session]

RULE_SET = "reorder_rule_set"
RULE_DELETED = "reorder_rule_deleted"
# The audit reasons of a shipment and of its reversal (adapters/inventory/sql.py `ship`, `unship`).
SHIPMENT = "shipment"
UNSHIPPED = "restock_cancelled_label"


@dataclass(frozen=True)
class StoredRule:
    rule: ReorderRule
    updated_by: str
    updated_at: datetime


def _rule_of(row: ReorderRuleRow) -> StoredRule:
    return StoredRule(
        rule=ReorderRule(
            sku=row.sku,
            warehouse=row.warehouse,
            minimum=row.minimum,
            maximum=row.maximum,
            lead_time_days=row.lead_time_days,
        ),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def known(sf: SessionFactory, sku: str, warehouse: str) -> tuple[bool, bool]:
    """(the SKU exists, the warehouse exists)."""
    with sf() as s:
        return s.get(CatalogItemRow, sku) is not None, s.get(WarehouseRow, warehouse) is not None


def _rule_values(rule: ReorderRule) -> dict[str, int]:
    return {"minimum": rule.minimum, "maximum": rule.maximum, "lead_time_days": rule.lead_time_days}


def put_rule(sf: SessionFactory, rule: ReorderRule, actor: str) -> tuple[StoredRule, bool]:
    """Create or replace the rule (checked by domain.replenishment.reorder_rule_problems first);
    True when it is new. The audit row holds the new values and the previous ones."""
    with sf.begin() as s:
        before = s.scalars(
            select(ReorderRuleRow)
            .where(ReorderRuleRow.sku == rule.sku, ReorderRuleRow.warehouse == rule.warehouse)
            .with_for_update()
        ).first()
        previous = _rule_values(_rule_of(before).rule) if before is not None else None
        stmt = insert(ReorderRuleRow).values(
            sku=rule.sku, warehouse=rule.warehouse, updated_by=actor, **_rule_values(rule)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ReorderRuleRow.sku, ReorderRuleRow.warehouse],
            set_={
                "minimum": stmt.excluded.minimum,
                "maximum": stmt.excluded.maximum,
                "lead_time_days": stmt.excluded.lead_time_days,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": func.now(),
            },
        )
        created = bool(s.execute(stmt.returning(literal_column("(xmax = 0)"))).scalar_one())
        _audit(s, rule.sku, rule.warehouse, RULE_SET, actor, {**_rule_values(rule), "previous": previous})
        row = s.scalars(
            select(ReorderRuleRow)
            .where(ReorderRuleRow.sku == rule.sku, ReorderRuleRow.warehouse == rule.warehouse)
            .execution_options(populate_existing=True)
        ).one()
        return _rule_of(row), created


def get_rule(sf: SessionFactory, sku: str, warehouse: str) -> StoredRule | None:
    with sf() as s:
        row = s.get(ReorderRuleRow, {"sku": sku, "warehouse": warehouse})
        return _rule_of(row) if row is not None else None


def list_rules(sf: SessionFactory, sku: str | None = None, warehouse: str | None = None) -> list[StoredRule]:
    query = select(ReorderRuleRow).order_by(ReorderRuleRow.sku, ReorderRuleRow.warehouse)
    if sku is not None:
        query = query.where(ReorderRuleRow.sku == sku)
    if warehouse is not None:
        query = query.where(ReorderRuleRow.warehouse == warehouse)
    with sf() as s:
        return [_rule_of(row) for row in s.scalars(query).all()]


def delete_rule(sf: SessionFactory, sku: str, warehouse: str, actor: str) -> bool:
    """False when there was no such rule (nothing audited then)."""
    with sf.begin() as s:
        row = s.scalars(
            select(ReorderRuleRow)
            .where(ReorderRuleRow.sku == sku, ReorderRuleRow.warehouse == warehouse)
            .with_for_update()
        ).first()
        if row is None:
            return False
        _audit(s, sku, warehouse, RULE_DELETED, actor, {"previous": _rule_values(_rule_of(row).rule)})
        s.delete(row)
        return True


def _audit(s: Session, sku: str, warehouse: str, reason: str, actor: str, detail: dict[str, Any]) -> None:
    s.add(
        StockAdjustmentRow(sku=sku, warehouse=warehouse, delta_on_hand=0, reason=reason, actor=actor, detail=detail)
    )


@dataclass(frozen=True)
class ReplenishmentInputs:
    """What the proposal of one rule is made of, as read now."""

    rule: ReorderRule
    on_hand: int
    reserved: int
    safety_stock: int
    open_reservations: int
    shipped: int
    reserved_recently: int

    @property
    def unreserved(self) -> int:
        return self.on_hand - self.reserved

    @property
    def demand(self) -> int:
        return self.shipped + self.reserved_recently


def replenishment_inputs(
    sf: SessionFactory,
    *,
    sku: str | None = None,
    warehouse: str | None = None,
    as_of: datetime | None = None,
) -> tuple[datetime, list[ReplenishmentInputs]]:
    """The start of the demand window, and per reorder rule: its stock level (none yet: zeros), its open reservations, and its demand
    over the DEMAND_WINDOW_DAYS before `as_of` (default: the database's now):
    - shipped: units shipped in the window (audit rows `shipment`), less those whose label was
      voided in it (`restock_cancelled_label`), never below 0;
    - reserved_recently: units reserved in the window and still held (status `reserved`, last
      reserved at `updated_at` in the window); a reservation shipped since counts as shipped, one
      released (cancelled, moved away) counts nowhere.
    """
    with sf() as s:
        now: datetime = as_of if as_of is not None else s.execute(select(func.now())).scalar_one()
        start = now - timedelta(days=DEMAND_WINDOW_DAYS)
        rule_query = select(ReorderRuleRow).order_by(ReorderRuleRow.sku, ReorderRuleRow.warehouse)
        if sku is not None:
            rule_query = rule_query.where(ReorderRuleRow.sku == sku)
        if warehouse is not None:
            rule_query = rule_query.where(ReorderRuleRow.warehouse == warehouse)
        rules = [_rule_of(row).rule for row in s.scalars(rule_query).all()]
        if not rules:
            return start, []
        skus = sorted({r.sku for r in rules})
        levels = {
            (row.sku, row.warehouse): row
            for row in s.scalars(select(StockLevelRow).where(StockLevelRow.sku.in_(skus))).all()
        }
        open_held = {
            (sku_, wh): (int(count), int(units))
            for sku_, wh, count, units in s.execute(
                select(
                    ReservationRow.sku,
                    ReservationRow.warehouse,
                    func.count(),
                    func.coalesce(
                        func.sum(
                            case((ReservationRow.updated_at.between(start, now), ReservationRow.quantity), else_=0)
                        ),
                        0,
                    ),
                )
                .where(ReservationRow.sku.in_(skus), ReservationRow.status == "reserved")
                .group_by(ReservationRow.sku, ReservationRow.warehouse)
            ).all()
        }
        shipped = {
            (sku_, wh): int(units)
            for sku_, wh, units in s.execute(
                select(
                    StockAdjustmentRow.sku,
                    StockAdjustmentRow.warehouse,
                    -func.sum(StockAdjustmentRow.delta_on_hand),
                )
                .where(
                    StockAdjustmentRow.reason.in_((SHIPMENT, UNSHIPPED)),
                    StockAdjustmentRow.at >= start,
                    StockAdjustmentRow.at <= now,
                    StockAdjustmentRow.sku.in_(skus),
                )
                .group_by(StockAdjustmentRow.sku, StockAdjustmentRow.warehouse)
            ).all()
        }
        inputs = []
        for rule in rules:
            key = (rule.sku, rule.warehouse)
            level = levels.get(key)
            count, recent = open_held.get(key, (0, 0))
            inputs.append(
                ReplenishmentInputs(
                    rule=rule,
                    on_hand=level.on_hand if level is not None else 0,
                    reserved=level.reserved if level is not None else 0,
                    safety_stock=level.safety_stock if level is not None else 0,
                    open_reservations=count,
                    shipped=max(0, shipped.get(key, 0)),
                    reserved_recently=recent,
                )
            )
        return start, inputs
