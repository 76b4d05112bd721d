"""Stock transfers between warehouses (R6, R14): unreserved units leave one warehouse and arrive
at another in one transaction, each leg with its audit row (`transfer_out`, `transfer_in`) and
its low-stock check (store.stock_alerts: the leg out may cross under the reorder point, the leg
in may re-arm the alert), so the stock of a SKU over all warehouses does not change.

Concurrent transfers cannot overdraw: both levels are locked (in warehouse order, the order the
reservations lock them in) before the source's unreserved stock is checked."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import IdempotencyConflict, OutOfStock
from store.models import StockAdjustmentRow, StockLevelRow, StockTransferRow
from store.stock_alerts import OPS_EMAIL, note_stock_change

SessionFactory = sessionmaker[Session]

TRANSFER_OUT = "transfer_out"
TRANSFER_IN = "transfer_in"
# An ops `move` or an order edit may lock the same SKU's levels the other way round (to before
# from, released before reserved); PostgreSQL then aborts one of the two (deadlock_detected).
# The transfer starts again: it changed nothing yet.
DEADLOCK = "40P01"
ATTEMPTS = 4


class NotEnoughUnreserved(OutOfStock):
    """The source holds fewer unreserved units than the transfer asks for; nothing changed."""

    def __init__(self, sku: str, warehouse: str, unreserved: int, requested: int) -> None:
        super().__init__(
            f"{warehouse} holds {unreserved} unreserved units of {sku}; the transfer asks for {requested}"
        )
        self.sku = sku
        self.warehouse = warehouse
        self.unreserved = unreserved
        self.requested = requested


@dataclass(frozen=True)
class TransferRequest:
    sku: str
    from_warehouse: str
    to_warehouse: str
    quantity: int
    note: str | None
    actor: str
    idempotency_key: str | None = None
    request_hash: str | None = None


def _level_view(row: StockLevelRow) -> dict[str, Any]:
    unreserved = row.on_hand - row.reserved
    return {
        "warehouse": row.warehouse,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "unreserved": unreserved,
        "available": max(0, unreserved - row.safety_stock),
    }


def transfer_stock(
    sf: SessionFactory, request: TransferRequest, *, ops_email: str = OPS_EMAIL
) -> tuple[dict[str, Any], bool]:
    """Move the units; returns the transfer as answered (JSON-ready) and True when it was made
    now. With an idempotency key already used: the first answer again (False), or
    IdempotencyConflict when the request differs. NotEnoughUnreserved when the source lacks the
    units. The SKU and both warehouses are checked by the caller (domain.replenishment)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _transfer_once(sf, request, ops_email)
        except DBAPIError as error:
            if getattr(error.orig, "pgcode", None) != DEADLOCK or attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _transfer_once(sf: SessionFactory, request: TransferRequest, ops_email: str) -> tuple[dict[str, Any], bool]:
    r = request
    with sf.begin() as s:
        values = {
            "sku": r.sku,
            "from_warehouse": r.from_warehouse,
            "to_warehouse": r.to_warehouse,
            "quantity": r.quantity,
            "note": r.note,
            "actor": r.actor,
            "idempotency_key": r.idempotency_key,
            "request_hash": r.request_hash,
        }
        # A concurrent request under the same key waits here until the first one commits or rolls back.
        made = s.execute(
            insert(StockTransferRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[StockTransferRow.idempotency_key])
            .returning(StockTransferRow.id, StockTransferRow.at)
        ).first()
        if made is None:
            first = s.scalars(
                select(StockTransferRow).where(StockTransferRow.idempotency_key == r.idempotency_key)
            ).one()
            if first.request_hash != r.request_hash:
                raise IdempotencyConflict("this idempotency key was used before with a different request body")
            return dict(first.result), False
        transfer_id, at = made
        legs = _lock_levels(s, r.sku, r.from_warehouse, r.to_warehouse)
        source, destination = legs[r.from_warehouse], legs[r.to_warehouse]
        if source.on_hand - source.reserved < r.quantity:
            # The transaction rolls back: the transfer row goes too, nothing moved.
            raise NotEnoughUnreserved(r.sku, r.from_warehouse, source.on_hand - source.reserved, r.quantity)
        for row, delta in ((source, -r.quantity), (destination, r.quantity)):
            s.execute(
                update(StockLevelRow)
                .where(StockLevelRow.sku == r.sku, StockLevelRow.warehouse == row.warehouse)
                .values(on_hand=StockLevelRow.on_hand + delta, updated_at=func.now())
            )
        detail = {
            "transfer_id": transfer_id,
            "from_warehouse": r.from_warehouse,
            "to_warehouse": r.to_warehouse,
            "note": r.note,
        }
        s.add_all(
            [
                StockAdjustmentRow(
                    sku=r.sku, warehouse=r.from_warehouse, delta_on_hand=-r.quantity,
                    reason=TRANSFER_OUT, actor=r.actor, detail=detail,
                ),
                StockAdjustmentRow(
                    sku=r.sku, warehouse=r.to_warehouse, delta_on_hand=r.quantity,
                    reason=TRANSFER_IN, actor=r.actor, detail=detail,
                ),
            ]
        )
        s.flush()
        note_stock_change(s, r.sku, r.from_warehouse, recipient=ops_email)
        note_stock_change(s, r.sku, r.to_warehouse, recipient=ops_email)
        after = _lock_levels(s, r.sku, r.from_warehouse, r.to_warehouse)
        result = {
            "transfer_id": transfer_id,
            "sku": r.sku,
            "from_warehouse": r.from_warehouse,
            "to_warehouse": r.to_warehouse,
            "quantity": r.quantity,
            "note": r.note,
            "actor": r.actor,
            "at": at.isoformat(),
            "source": _level_view(after[r.from_warehouse]),
            "destination": _level_view(after[r.to_warehouse]),
        }
        s.execute(update(StockTransferRow).where(StockTransferRow.id == transfer_id).values(result=result))
        return result, True


def record_woken(sf: SessionFactory, result: dict[str, Any], woken: list[dict[str, Any]]) -> dict[str, Any]:
    """Keep the orders the transfer woke in its answer, so that a repeat answers them too."""
    answered = {**result, "woken": woken}
    with sf.begin() as s:
        s.execute(update(StockTransferRow).where(StockTransferRow.id == result["transfer_id"]).values(result=answered))
    return answered


def _lock_levels(s: Session, sku: str, *warehouses: str) -> dict[str, StockLevelRow]:
    """The SKU's levels at these warehouses, created at 0 when missing, locked in warehouse order."""
    for warehouse in sorted(warehouses):
        s.execute(
            insert(StockLevelRow)
            .values(sku=sku, warehouse=warehouse, on_hand=0, reserved=0)
            .on_conflict_do_nothing()
        )
    rows = s.scalars(
        select(StockLevelRow)
        .where(StockLevelRow.sku == sku, StockLevelRow.warehouse.in_(warehouses))
        .order_by(StockLevelRow.warehouse)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.warehouse: row for row in rows}


def transfers(sf: SessionFactory, *, sku: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The latest transfers first, as they were answered."""
    query = select(StockTransferRow.result).order_by(StockTransferRow.id.desc()).limit(limit)
    if sku is not None:
        query = query.where(StockTransferRow.sku == sku)
    with sf() as s:
        return [dict(result) for result in s.scalars(query).all()]
