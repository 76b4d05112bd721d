"""Inventory over PostgreSQL: never oversells, never promises safety stock (R3, R6).

Every reservation is a conditional UPDATE that only succeeds while enough stock is available,
so concurrent orders cannot take the same units; the plan is recomputed when another order
got there first. Every change of a stock level also checks it for a low-stock alert
(store.stock_alerts), in the same transaction.

Reservations are keyed by an opaque string (`order_id` here): an order id, or a derived key such
as `ORDER-1#reship1` for a replacement parcel. Nothing here parses it.
"""

import logging
from collections import defaultdict

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.allocation import plan_parcels
from domain.errors import ActionNotApplicable, OutOfStock
from domain.models import (
    Allocation,
    CatalogItem,
    OrderLine,
    Parcel,
    ParcelLine,
    StockLevel,
    Warehouse,
)
from store.catalog import catalog_items as _catalog_items
from store.catalog import load_warehouses, stock_level_of
from store.models import ReservationRow, StockAdjustmentRow, StockLevelRow, WarehouseRow
from store.stock_alerts import OPS_EMAIL, note_stock_change

_log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class _LostRace(Exception):
    """Another order took the stock this plan counted on: roll back and plan again."""


def _lock_order(s: Session, order_id: str) -> None:
    """Serialize reserve/release/ship of one order (transaction-scoped advisory lock)."""
    s.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('inventory'), hashtext(:o))"),
        {"o": order_id},
    )


def _allocation_of(s: Session, order_id: str, rows: list[ReservationRow]) -> Allocation:
    regions = dict(s.execute(select(WarehouseRow.code, WarehouseRow.region)).all())
    by_warehouse: dict[str, list[ParcelLine]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.warehouse, r.id)):
        by_warehouse[row.warehouse].append(
            ParcelLine(sku=row.sku, quantity=row.quantity)
        )
    return Allocation(
        order_id=order_id,
        parcels=[
            Parcel(warehouse=code, lines=lines, region=regions.get(code, ""))
            for code, lines in sorted(by_warehouse.items())
        ],
    )


class SqlInventory:
    def __init__(
        self, session_factory: sessionmaker[Session], *, ops_email: str = OPS_EMAIL
    ) -> None:
        self._sf = session_factory
        self._ops_email = ops_email

    def _note(self, s: Session, sku: str, warehouse: str) -> None:
        note_stock_change(s, sku, warehouse, recipient=self._ops_email)

    def catalog_items(self, skus: list[str]) -> dict[str, CatalogItem]:
        return _catalog_items(self._sf, skus)

    def stock(self, sku: str) -> list[StockLevel]:
        with self._sf() as s:
            rows = s.scalars(
                select(StockLevelRow)
                .where(StockLevelRow.sku == sku)
                .order_by(StockLevelRow.warehouse)
            ).all()
            return [stock_level_of(row) for row in rows]

    def warehouses(self) -> list[Warehouse]:
        with self._sf() as s:
            return load_warehouses(s)

    def reserve(
        self, order_id: str, lines: list[OrderLine], destination_region: str, avoid: tuple[str, ...] = ()
    ) -> Allocation:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self._sf.begin() as s:
                    return self._reserve_once(s, order_id, lines, destination_region, avoid)
            except _LostRace:
                _log.info(
                    "reservation of %s lost a race (attempt %d), replanning",
                    order_id,
                    attempt,
                )
        raise OutOfStock(
            f"stock for order {order_id} kept being taken by other orders; try again"
        )

    def _reserve_once(
        self, s: Session, order_id: str, lines: list[OrderLine], destination_region: str, avoid: tuple[str, ...] = ()
    ) -> Allocation:
        _lock_order(s, order_id)
        held = self._active_reservations(s, order_id)
        if held:
            return _allocation_of(s, order_id, held)

        skus = [line.sku for line in lines]
        stock = [
            stock_level_of(row)
            for row in s.scalars(
                select(StockLevelRow).where(StockLevelRow.sku.in_(skus))
            ).all()
            if row.warehouse not in avoid
        ]
        plan = plan_parcels(lines, stock, load_warehouses(s), destination_region)
        if plan is None:
            raise OutOfStock(self._shortage(lines, stock))
        parcels = sorted(plan, key=lambda p: p.warehouse)

        # Same lock order for every order (warehouse, sku): concurrent reservations cannot deadlock.
        claims = sorted(
            (p.warehouse, line.sku, line.quantity) for p in parcels for line in p.lines
        )
        for warehouse, sku, quantity in claims:
            taken = s.execute(
                update(StockLevelRow)
                .where(
                    StockLevelRow.sku == sku,
                    StockLevelRow.warehouse == warehouse,
                    StockLevelRow.on_hand
                    - StockLevelRow.reserved
                    - StockLevelRow.safety_stock
                    >= quantity,
                )
                .values(
                    reserved=StockLevelRow.reserved + quantity, updated_at=func.now()
                )
                .returning(StockLevelRow.reserved)
            ).first()
            if taken is None:
                raise _LostRace()
            self._note(s, sku, warehouse)

        for parcel in parcels:
            for line in parcel.lines:
                row_values = insert(ReservationRow).values(
                    order_id=order_id,
                    sku=line.sku,
                    warehouse=parcel.warehouse,
                    quantity=line.quantity,
                )
                # A released reservation of the same order (cancelled earlier) is taken over.
                stmt = row_values.on_conflict_do_update(
                    index_elements=[
                        ReservationRow.order_id,
                        ReservationRow.sku,
                        ReservationRow.warehouse,
                    ],
                    set_={
                        "quantity": row_values.excluded.quantity,
                        "status": "reserved",
                        "updated_at": func.now(),
                    },
                    where=ReservationRow.status == "released",
                ).returning(ReservationRow.id)
                if (
                    s.scalar(stmt) is None
                ):  # pragma: no cover - excluded by the advisory lock
                    raise _LostRace()
        return Allocation(order_id=order_id, parcels=parcels)

    @staticmethod
    def _active_reservations(s: Session, order_id: str) -> list[ReservationRow]:
        return list(
            s.scalars(
                select(ReservationRow).where(
                    ReservationRow.order_id == order_id,
                    ReservationRow.status.in_(("reserved", "shipped")),
                )
            ).all()
        )

    @staticmethod
    def _shortage(lines: list[OrderLine], stock: list[StockLevel]) -> str:
        short = []
        for line in lines:
            best = max(
                (lvl.available for lvl in stock if lvl.sku == line.sku), default=0
            )
            if best < line.quantity:
                short.append(f"{line.sku} (need {line.quantity}, available {best})")
        if not short:
            return "the order cannot be covered by the available stock"
        return "out of stock: " + ", ".join(short)

    def release(self, order_id: str) -> int:
        with self._sf.begin() as s:
            _lock_order(s, order_id)
            rows = s.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.order_id == order_id,
                    ReservationRow.status == "reserved",
                )
                .order_by(ReservationRow.warehouse, ReservationRow.sku)
                .with_for_update()
            ).all()
            units = 0
            for row in rows:
                s.execute(
                    update(StockLevelRow)
                    .where(
                        StockLevelRow.sku == row.sku,
                        StockLevelRow.warehouse == row.warehouse,
                    )
                    .values(
                        reserved=StockLevelRow.reserved - row.quantity,
                        updated_at=func.now(),
                    )
                )
                self._note(s, row.sku, row.warehouse)
                row.status = "released"
                row.updated_at = func.now()
                units += row.quantity
            return units

    def swap_reservations(
        self, release: list[tuple[str, str]], key: str, lines: list[OrderLine], destination_region: str
    ) -> Allocation:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self._sf.begin() as s:
                    return self._swap_once(s, release, key, lines, destination_region)
            except _LostRace:
                _log.info("reservation swap for %s lost a race (attempt %d), replanning", key, attempt)
        raise OutOfStock(f"stock for {key} kept being taken by other orders; try again")

    def _swap_once(
        self, s: Session, release: list[tuple[str, str]], key: str, lines: list[OrderLine], destination_region: str
    ) -> Allocation:
        for locked in sorted({key, *(k for k, _ in release)}):
            _lock_order(s, locked)
        held = self._active_reservations(s, key)
        if held:  # a repeat: the swap is done
            return _allocation_of(s, key, held)
        for released_key, warehouse in sorted(set(release)):
            rows = s.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.order_id == released_key,
                    ReservationRow.warehouse == warehouse,
                    ReservationRow.status == "reserved",
                )
                .order_by(ReservationRow.sku)
                .with_for_update()
            ).all()
            for row in rows:
                s.execute(
                    update(StockLevelRow)
                    .where(StockLevelRow.sku == row.sku, StockLevelRow.warehouse == row.warehouse)
                    .values(reserved=StockLevelRow.reserved - row.quantity, updated_at=func.now())
                )
                self._note(s, row.sku, row.warehouse)
                row.status = "released"
                row.updated_at = func.now()
        if not lines:
            return Allocation(order_id=key, parcels=[])
        # The released units count as available to the new plan: same transaction, not yet committed.
        s.flush()
        return self._reserve_once(s, key, lines, destination_region)

    def ship(self, order_id: str, warehouse: str) -> int:
        """Returns the units of the order shipped from this warehouse in total (the same on a repeat)."""
        with self._sf.begin() as s:
            _lock_order(s, order_id)
            rows = s.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.order_id == order_id,
                    ReservationRow.warehouse == warehouse,
                    ReservationRow.status.in_(("reserved", "shipped")),
                )
                .order_by(ReservationRow.sku)
                .with_for_update()
            ).all()
            for row in rows:
                if row.status != "reserved":
                    continue
                s.execute(
                    update(StockLevelRow)
                    .where(
                        StockLevelRow.sku == row.sku,
                        StockLevelRow.warehouse == row.warehouse,
                    )
                    .values(
                        on_hand=StockLevelRow.on_hand - row.quantity,
                        reserved=StockLevelRow.reserved - row.quantity,
                        updated_at=func.now(),
                    )
                )
                s.add(
                    StockAdjustmentRow(
                        sku=row.sku,
                        warehouse=row.warehouse,
                        delta_on_hand=-row.quantity,
                        reason="shipment",
                        actor="orderflow",
                        detail={"order_id": order_id},
                    )
                )
                self._note(s, row.sku, row.warehouse)
                row.status = "shipped"
                row.updated_at = func.now()
            return sum(row.quantity for row in rows)

    def unship(self, order_id: str, warehouse: str) -> int:
        """The reverse of `ship` (a label cancelled before hand-over): the order's shipped units at
        this warehouse go back on hand and its reservations there become released, with an audit
        row. Returns the units restocked now; a repeat restocks nothing and returns 0."""
        with self._sf.begin() as s:
            _lock_order(s, order_id)
            rows = s.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.order_id == order_id,
                    ReservationRow.warehouse == warehouse,
                    ReservationRow.status == "shipped",
                )
                .order_by(ReservationRow.sku)
                .with_for_update()
            ).all()
            units = 0
            for row in rows:
                s.execute(
                    update(StockLevelRow)
                    .where(
                        StockLevelRow.sku == row.sku,
                        StockLevelRow.warehouse == row.warehouse,
                    )
                    .values(
                        on_hand=StockLevelRow.on_hand + row.quantity,
                        updated_at=func.now(),
                    )
                )
                s.add(
                    StockAdjustmentRow(
                        sku=row.sku,
                        warehouse=row.warehouse,
                        delta_on_hand=row.quantity,
                        reason="restock_cancelled_label",
                        actor="orderflow",
                        detail={"order_id": order_id},
                    )
                )
                self._note(s, row.sku, row.warehouse)
                row.status = "released"
                row.updated_at = func.now()
                units += row.quantity
            return units

    def short_pick(self, reservation_key: str, warehouse: str, shipment_id: str, lines: list[ParcelLine]) -> int:
        """A short pick: the units the warehouse did not find are released from the parcel's
        reservation and written off the shelf (on_hand and reserved both go down), one audit row
        `short_pick` per SKU. Idempotent by (shipment, sku): a repeat writes nothing off."""
        units = 0
        with self._sf.begin() as s:
            _lock_order(s, reservation_key)
            for line in sorted(lines, key=lambda line: line.sku):
                if line.quantity <= 0:
                    continue
                done = s.scalar(
                    select(StockAdjustmentRow.id).where(
                        StockAdjustmentRow.reason == "short_pick",
                        StockAdjustmentRow.detail["shipment_id"].astext == shipment_id,
                        StockAdjustmentRow.sku == line.sku,
                    )
                )
                if done is not None:
                    continue
                row = s.scalar(
                    select(ReservationRow)
                    .where(
                        ReservationRow.order_id == reservation_key,
                        ReservationRow.warehouse == warehouse,
                        ReservationRow.sku == line.sku,
                        ReservationRow.status == "reserved",
                    )
                    .with_for_update()
                )
                if row is None:
                    continue  # nothing reserved here any more (released by a cancellation)
                missing = min(line.quantity, row.quantity)
                s.execute(
                    update(StockLevelRow)
                    .where(StockLevelRow.sku == line.sku, StockLevelRow.warehouse == warehouse)
                    .values(
                        on_hand=StockLevelRow.on_hand - missing,
                        reserved=StockLevelRow.reserved - missing,
                        updated_at=func.now(),
                    )
                )
                if missing == row.quantity:
                    row.status = "released"  # its quantity stays (quantity_positive): nothing is held
                else:
                    row.quantity -= missing
                row.updated_at = func.now()
                s.add(
                    StockAdjustmentRow(
                        sku=line.sku,
                        warehouse=warehouse,
                        delta_on_hand=-missing,
                        reason="short_pick",
                        actor="orderflow",
                        detail={"order_id": reservation_key, "shipment_id": shipment_id, "quantity": missing},
                    )
                )
                self._note(s, line.sku, warehouse)
                units += missing
        return units

    def take_back(self, rma_id: str, sku: str, warehouse: str, quantity: int, resellable: bool) -> int:
        """A returned unit after inspection (R10): resellable units go back on hand; damaged ones
        are written off (an audit row, no stock). Idempotent by (rma, sku): a repeat does nothing.
        Returns the units put back on hand now."""
        with self._sf.begin() as s:
            _lock_order(s, rma_id)
            done = s.scalar(
                select(StockAdjustmentRow.id).where(
                    StockAdjustmentRow.reason.in_(("return_restock", "return_write_off")),
                    StockAdjustmentRow.detail["rma_id"].astext == rma_id,
                    StockAdjustmentRow.sku == sku,
                )
            )
            if done is not None:
                return 0
            restocked = quantity if resellable else 0
            if restocked:
                s.execute(
                    update(StockLevelRow)
                    .where(StockLevelRow.sku == sku, StockLevelRow.warehouse == warehouse)
                    .values(on_hand=StockLevelRow.on_hand + restocked, updated_at=func.now())
                )
            s.add(
                StockAdjustmentRow(
                    sku=sku,
                    warehouse=warehouse,
                    delta_on_hand=restocked,
                    reason="return_restock" if resellable else "return_write_off",
                    actor="orderflow",
                    detail={"rma_id": rma_id, "quantity": quantity},
                )
            )
            if restocked:
                self._note(s, sku, warehouse)
            return restocked

    def move_reservation(
        self, reservation_key: str, lines: list[ParcelLine], from_warehouse: str, to_warehouse: str
    ) -> Parcel:
        """Move a parcel's reservation to another warehouse in one transaction (ops `move`):
        reserved there (only from stock available, never safety stock), released here; on_hand is
        untouched at both. Idempotent: once the lines are reserved at `to_warehouse` and nothing of
        them at `from_warehouse`, a repeat changes nothing. Raises OutOfStock when the other
        warehouse lacks the stock, ActionNotApplicable when it is unknown or inactive or when the
        lines are no longer reserved here (picked and shipped). Returns the parcel as it ships now."""
        skus = sorted({line.sku for line in lines})
        with self._sf.begin() as s:
            _lock_order(s, reservation_key)
            target = s.get(WarehouseRow, to_warehouse)
            if target is None or not target.active:
                raise ActionNotApplicable(f"warehouse {to_warehouse} is unknown or not active")

            def held_at(warehouse: str) -> list[ReservationRow]:
                return list(
                    s.scalars(
                        select(ReservationRow)
                        .where(
                            ReservationRow.order_id == reservation_key,
                            ReservationRow.warehouse == warehouse,
                            ReservationRow.sku.in_(skus),
                            ReservationRow.status == "reserved",
                        )
                        .order_by(ReservationRow.sku)
                        .with_for_update()
                    ).all()
                )

            here = held_at(from_warehouse)
            moved = Parcel(warehouse=to_warehouse, lines=lines, region=target.region)
            if not here and len(held_at(to_warehouse)) == len(skus):
                return moved  # a repeat: already moved
            if len(here) != len(skus):
                raise ActionNotApplicable(
                    f"the parcel's stock is no longer reserved at {from_warehouse} (picked or shipped)"
                )
            for row in here:
                taken = s.execute(
                    update(StockLevelRow)
                    .where(
                        StockLevelRow.sku == row.sku,
                        StockLevelRow.warehouse == to_warehouse,
                        StockLevelRow.on_hand - StockLevelRow.reserved - StockLevelRow.safety_stock
                        >= row.quantity,
                    )
                    .values(reserved=StockLevelRow.reserved + row.quantity, updated_at=func.now())
                    .returning(StockLevelRow.reserved)
                ).first()
                if taken is None:
                    level = s.get(StockLevelRow, {"sku": row.sku, "warehouse": to_warehouse})
                    available = (
                        max(0, level.on_hand - level.reserved - level.safety_stock) if level is not None else 0
                    )
                    # The transaction rolls back: nothing moved.
                    raise OutOfStock(
                        f"{to_warehouse} has {available} of {row.sku} available, the parcel needs {row.quantity}"
                    )
                s.execute(
                    update(StockLevelRow)
                    .where(StockLevelRow.sku == row.sku, StockLevelRow.warehouse == from_warehouse)
                    .values(reserved=StockLevelRow.reserved - row.quantity, updated_at=func.now())
                )
                row.status = "released"
                row.updated_at = func.now()
                values = insert(ReservationRow).values(
                    order_id=reservation_key, sku=row.sku, warehouse=to_warehouse, quantity=row.quantity
                )
                claimed = s.scalar(
                    values.on_conflict_do_update(
                        index_elements=[ReservationRow.order_id, ReservationRow.sku, ReservationRow.warehouse],
                        set_={"quantity": values.excluded.quantity, "status": "reserved", "updated_at": func.now()},
                        where=ReservationRow.status == "released",
                    ).returning(ReservationRow.id)
                )
                if claimed is None:
                    raise ActionNotApplicable(
                        f"another parcel of {reservation_key} already holds {row.sku} at {to_warehouse}"
                    )
                self._note(s, row.sku, to_warehouse)
                self._note(s, row.sku, from_warehouse)
            return moved
