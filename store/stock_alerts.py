"""Low-stock alerts, once per crossing (R6).

A stock level is low while its available stock (on_hand - reserved - safety_stock) is at or under
its reorder point. The first stock change that makes it low writes one `low_stock` row to the
notification outbox for ops, status `pending`, and marks the level alerted; while it stays low
nothing more is written. A change that lifts it above the reorder point clears the mark, so the
next drop alerts again (the next crossing, the next dedupe key).

`note_stock_change` runs inside the transaction that changed the stock (after the change is
flushed), so the alert commits or rolls back with it. Every stock change goes through it: the
inventory adapter (reserve, ship, unship, release) and store.catalog (levels, receipts, counts).
It only records the alert: nothing is e-mailed or posted inside the stock transaction (a rollback
would leave a message out for nothing, and SMTP must not hold the level's row lock). The worker
delivers pending alerts after the commit (adapters.notifications.pending), through the notifier.
"""

from sqlalchemy import and_, not_, update
from sqlalchemy.orm import Session

from domain.notifications import LOW_STOCK, low_stock_notification
from store.models import StockLevelRow
from store.pending_notifications import queue_notification

OPS_EMAIL = "ops@orderflow.local"
LOW_STOCK_KIND = LOW_STOCK

_AVAILABLE = StockLevelRow.on_hand - StockLevelRow.reserved - StockLevelRow.safety_stock
IS_LOW = _AVAILABLE <= StockLevelRow.reorder_point  # noqa: SIM300 (a SQL expression: reads as the rule)


def note_stock_change(
    s: Session, sku: str, warehouse: str, *, recipient: str = OPS_EMAIL
) -> bool:
    """Alert ops if this level just went low; re-arm it if it is no longer low.

    Call after the stock change is flushed, in its transaction (the level's row is locked by the
    change already). Returns True when an alert was written now.
    """
    key = and_(StockLevelRow.sku == sku, StockLevelRow.warehouse == warehouse)
    s.execute(
        update(StockLevelRow)
        .where(key, StockLevelRow.low_stock_alerted, not_(IS_LOW))
        .values(low_stock_alerted=False)
        .execution_options(synchronize_session=False)
    )
    crossed = s.execute(
        update(StockLevelRow)
        .where(key, not_(StockLevelRow.low_stock_alerted), IS_LOW)
        .values(
            low_stock_alerted=True,
            low_stock_crossings=StockLevelRow.low_stock_crossings + 1,
        )
        .returning(
            StockLevelRow.low_stock_crossings,
            StockLevelRow.on_hand,
            StockLevelRow.reserved,
            StockLevelRow.safety_stock,
            StockLevelRow.reorder_point,
        )
        .execution_options(synchronize_session=False)
    ).first()
    if crossed is None:
        return False
    crossing, on_hand, reserved, safety_stock, reorder_point = crossed
    alert = low_stock_notification(
        sku,
        warehouse,
        crossing,
        recipient=recipient,
        on_hand=on_hand,
        reserved=reserved,
        safety_stock=safety_stock,
        reorder_point=reorder_point,
    )
    # Pending, not sent: the notifier delivers it once this transaction has committed.
    queue_notification(s, alert)
    return True
