"""Catalog, warehouse and stock administration (R3, R6, R14: every stock change leaves an audit row)."""

from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.orm import Session, sessionmaker

from domain.counts import CountPolicy, CountStatus, StockCount, needs_approval
from domain.errors import InvalidOrder
from domain.models import CatalogItem, StockLevel, Warehouse
from store.models import (
    CatalogItemRow,
    ReservationRow,
    StockAdjustmentRow,
    StockCountRow,
    StockLevelRow,
    WarehouseRow,
)
from store.stock_alerts import IS_LOW, OPS_EMAIL, note_stock_change

SessionFactory = sessionmaker[Session]


def catalog_item_of(row: CatalogItemRow) -> CatalogItem:
    return CatalogItem(
        sku=row.sku,
        name=row.name,
        price=row.price,
        currency=row.currency,
        weight_grams=row.weight_grams,
        active=row.active,
        substitutes=list(row.substitutes or []),
    )


def stock_level_of(row: StockLevelRow) -> StockLevel:
    return StockLevel(
        sku=row.sku,
        warehouse=row.warehouse,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
        reorder_point=row.reorder_point,
    )


def upsert_catalog_item(sf: SessionFactory, item: CatalogItem) -> bool:
    """Insert or update; True when the SKU is new."""
    values = item.model_dump()
    stmt = insert(CatalogItemRow).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CatalogItemRow.sku],
        set_={
            **{k: stmt.excluded[k] for k in values if k != "sku"},
            "updated_at": func.now(),
        },
    )
    with sf.begin() as s:
        return _upsert_created(s, stmt)


def _upsert_created(s: Session, stmt: Insert) -> bool:
    # `xmax = 0` holds only for a row this statement inserted (not one it updated).
    created: object = s.execute(stmt.returning(literal_column("(xmax = 0)"))).scalar_one()
    return bool(created)


def get_catalog_item(sf: SessionFactory, sku: str) -> CatalogItem | None:
    with sf() as s:
        row = s.get(CatalogItemRow, sku)
        return catalog_item_of(row) if row else None


def catalog_items(sf: SessionFactory, skus: list[str]) -> dict[str, CatalogItem]:
    if not skus:
        return {}
    with sf() as s:
        rows = s.scalars(
            select(CatalogItemRow).where(CatalogItemRow.sku.in_(skus))
        ).all()
        return {row.sku: catalog_item_of(row) for row in rows}


def upsert_warehouse(sf: SessionFactory, warehouse: Warehouse) -> bool:
    """Insert or update; True when the warehouse is new. `open_workload` is derived, not stored."""
    values = warehouse.model_dump(exclude={"open_workload"})
    stmt = insert(WarehouseRow).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[WarehouseRow.code],
        set_={k: stmt.excluded[k] for k in values if k != "code"},
    )
    with sf.begin() as s:
        return _upsert_created(s, stmt)


def open_workload_by_warehouse(s: Session) -> dict[str, int]:
    """Orders holding reservations not yet shipped, per warehouse."""
    rows = s.execute(
        select(
            ReservationRow.warehouse, func.count(func.distinct(ReservationRow.order_id))
        )
        .where(ReservationRow.status == "reserved")
        .group_by(ReservationRow.warehouse)
    ).all()
    return {code: int(count) for code, count in rows}


def load_warehouses(s: Session) -> list[Warehouse]:
    workload = open_workload_by_warehouse(s)
    rows = s.scalars(select(WarehouseRow).order_by(WarehouseRow.code)).all()
    return [
        Warehouse(
            code=row.code,
            name=row.name,
            region=row.region,
            priority=row.priority,
            daily_capacity=row.daily_capacity,
            active=row.active,
            open_workload=workload.get(row.code, 0),
        )
        for row in rows
    ]


def list_warehouses(sf: SessionFactory) -> list[Warehouse]:
    with sf() as s:
        return load_warehouses(s)


def warehouse_exists(sf: SessionFactory, code: str) -> bool:
    """Whether a warehouse `code` is known (active or not): one row read by its key, where
    `list_warehouses` also counts every warehouse's open workload (a scan of the reservations),
    which a caller asking only this does not need."""
    with sf() as s:
        return s.scalar(select(WarehouseRow.code).where(WarehouseRow.code == code)) is not None


def stock_levels(sf: SessionFactory, sku: str) -> list[StockLevel]:
    with sf() as s:
        rows = s.scalars(
            select(StockLevelRow)
            .where(StockLevelRow.sku == sku)
            .order_by(StockLevelRow.warehouse)
        ).all()
        return [stock_level_of(row) for row in rows]


def stock_alerts(sf: SessionFactory) -> list[StockLevel]:
    """Stock at or under its reorder point: available (on_hand - reserved - safety_stock)
    <= reorder_point, the same test as the low-stock alerts of store.stock_alerts."""
    with sf() as s:
        rows = s.scalars(
            select(StockLevelRow)
            .where(IS_LOW)
            .order_by(StockLevelRow.sku, StockLevelRow.warehouse)
        ).all()
        return [stock_level_of(row) for row in rows]


def _audit(
    s: Session,
    sku: str,
    warehouse: str,
    delta: int,
    reason: str,
    actor: str,
    detail: dict[str, Any],
) -> None:
    s.add(
        StockAdjustmentRow(
            sku=sku,
            warehouse=warehouse,
            delta_on_hand=delta,
            reason=reason,
            actor=actor,
            detail=detail,
        )
    )


def _lock_or_create(s: Session, sku: str, warehouse: str) -> StockLevelRow:
    if s.get(CatalogItemRow, sku) is None:
        raise InvalidOrder(f"unknown sku {sku}")
    if s.get(WarehouseRow, warehouse) is None:
        raise InvalidOrder(f"unknown warehouse {warehouse}")
    s.execute(
        insert(StockLevelRow)
        .values(sku=sku, warehouse=warehouse, on_hand=0, reserved=0)
        .on_conflict_do_nothing()
    )
    row = s.scalars(
        select(StockLevelRow)
        .where(StockLevelRow.sku == sku, StockLevelRow.warehouse == warehouse)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


def set_stock_level(
    sf: SessionFactory,
    sku: str,
    warehouse: str,
    on_hand: int,
    safety_stock: int,
    reorder_point: int,
    actor: str,
    *,
    ops_email: str = OPS_EMAIL,
) -> StockLevel:
    """Set levels and thresholds; refuses (InvalidOrder) to drop on_hand below what is reserved."""
    if on_hand < 0 or safety_stock < 0 or reorder_point < 0:
        raise InvalidOrder("stock levels must not be negative")
    with sf.begin() as s:
        row = _lock_or_create(s, sku, warehouse)
        if on_hand < row.reserved:
            raise InvalidOrder(
                f"on_hand {on_hand} is below the {row.reserved} units reserved for open orders"
            )
        delta = on_hand - row.on_hand
        row.on_hand = on_hand
        row.safety_stock = safety_stock
        row.reorder_point = reorder_point
        row.updated_at = func.now()
        _audit(
            s,
            sku,
            warehouse,
            delta,
            "set_level",
            actor,
            {"safety_stock": safety_stock, "reorder_point": reorder_point},
        )
        s.flush()
        note_stock_change(s, sku, warehouse, recipient=ops_email)
        s.refresh(row)
        return stock_level_of(row)


def receive_stock(
    sf: SessionFactory,
    sku: str,
    warehouse: str,
    quantity: int,
    actor: str,
    *,
    ops_email: str = OPS_EMAIL,
) -> StockLevel:
    """A goods receipt: on_hand goes up by `quantity` (R6 replenishment)."""
    if quantity <= 0:
        raise InvalidOrder("quantity must be positive")
    with sf.begin() as s:
        row = _lock_or_create(s, sku, warehouse)
        row.on_hand = row.on_hand + quantity
        row.updated_at = func.now()
        _audit(s, sku, warehouse, quantity, "receipt", actor, {})
        s.flush()
        note_stock_change(s, sku, warehouse, recipient=ops_email)
        s.refresh(row)
        return stock_level_of(row)


def record_count(
    sf: SessionFactory,
    sku: str,
    warehouse: str,
    counted: int,
    actor: str,
    *,
    ops_email: str = OPS_EMAIL,
    note: str | None = None,
) -> tuple[StockLevel, int]:
    """A physical count reconciles book stock (R6); returns the new level and the discrepancy
    (counted - book). Refuses a count below the units reserved for open orders. Applies whatever
    the discrepancy (`count_stock` with a policy may hold it for ops instead)."""
    count, level = count_stock(sf, sku, warehouse, counted, actor, ops_email=ops_email, note=note)
    return level, count.discrepancy


def stock_count_of(row: StockCountRow) -> StockCount:
    return StockCount(
        count_id=row.id,
        sku=row.sku,
        warehouse=row.warehouse,
        counted=row.counted,
        book=row.book,
        reserved=row.reserved,
        discrepancy=row.discrepancy,
        status=CountStatus(row.status),
        counted_by=row.counted_by,
        counted_at=row.counted_at,
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        on_hand_at_decision=row.on_hand_at_decision,
        applied_delta=row.applied_delta,
        on_hand_after=row.on_hand_after,
    )


def count_stock(
    sf: SessionFactory,
    sku: str,
    warehouse: str,
    counted: int,
    actor: str,
    *,
    policy: CountPolicy | None = None,
    ops_email: str = OPS_EMAIL,
    note: str | None = None,
) -> tuple[StockCount, StockLevel]:
    """A physical count (issue 19, domain/counts.py): recorded as a stock_counts row. With a
    `policy` whose hold rule the discrepancy passes, it is `pending` and the stock is unchanged;
    otherwise it is `applied`: on_hand becomes `counted`, with a `count` audit row. A count of an
    item whose earlier count still waits supersedes that one. Refuses (InvalidOrder) a count
    below the units reserved for open orders, as always."""
    if counted < 0:
        raise InvalidOrder("counted must not be negative")
    with sf.begin() as s:
        row = _lock_or_create(s, sku, warehouse)
        if counted < row.reserved:
            raise InvalidOrder(
                f"counted {counted} is below the {row.reserved} units reserved for open orders"
            )
        discrepancy = counted - row.on_hand
        held = policy is not None and needs_approval(row.on_hand, counted, policy)
        count = StockCountRow(
            sku=sku, warehouse=warehouse, counted=counted, book=row.on_hand, reserved=row.reserved,
            discrepancy=discrepancy, status="pending" if held else "applied", counted_by=actor, note=note,
        )
        waiting = s.scalars(
            select(StockCountRow)
            .where(StockCountRow.sku == sku, StockCountRow.warehouse == warehouse, StockCountRow.status == "pending")
            .with_for_update()
        ).all()
        for earlier in waiting:  # at most one (uq_stock_counts_one_pending)
            earlier.status = "superseded"
            earlier.decided_by = actor
            earlier.decided_at = func.now()
            earlier.decision_note = "superseded by a later count"
            earlier.on_hand_at_decision = row.on_hand
        s.flush()
        s.add(count)
        s.flush()
        if not held:
            count.applied_delta = discrepancy
            count.on_hand_after = counted
            row.on_hand = counted
            row.updated_at = func.now()
            _audit(s, sku, warehouse, discrepancy, "count", actor, {"counted": counted, "count_id": count.id})
            s.flush()
            note_stock_change(s, sku, warehouse, recipient=ops_email)
        s.flush()
        s.refresh(row)
        s.refresh(count)
        return stock_count_of(count), stock_level_of(row)
