"""Delivery of notifications recorded as pending in the outbox (R6, R11, R12).

A stock transaction only records its low-stock alert (store.stock_alerts: one row per crossing),
resolving a complaint only records the customer's message (store.feedback: one row per
complaint), both through store.pending_notifications with status `pending`; nothing may be mailed
while such a transaction holds its row locks or before it commits. The worker delivers them
afterwards with `deliver_pending_alerts`, through the same `Notifier` the `send_notification`
activity uses, so they reach their recipient by e-mail and every webhook exactly as an order
notification does, under their own dedupe key. Only the kinds recorded that way
(`SWEPT_KINDS`) are swept: a pending order notification is one the activity is delivering.

Nothing is lost: a row stays `pending` (or `mailed`) until the notifier marks it `sent`, so an
message whose delivery failed, or whose worker died after the commit, is picked up by the next
pass. The notifier's outbox claim makes a second pass (or a second worker) over a delivered row a
no-op, and its advisory lock turns a concurrent one into `DeliveryInProgress`, skipped here.
"""

import asyncio

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.notifications import Notifier
from adapters.notifications.delivery import MAILED, PENDING, DeliveryError, DeliveryInProgress
from domain.models import Notification
from store.models import NotificationOutboxRow
from store.pending_notifications import SWEPT_KINDS

_log = structlog.get_logger(__name__)

# One pass delivers at most this many messages (oldest first); the next pass takes the rest.
BATCH = 100
# How often the worker looks for pending messages: one reaches its recipient within about this long.
SWEEP_SECONDS = 5.0


def pending_alerts(session_factory: sessionmaker[Session], limit: int = BATCH) -> list[Notification]:
    """Recorded notifications (low-stock alerts, resolved complaints) not delivered yet, oldest first."""
    with session_factory() as s:
        rows = s.scalars(
            select(NotificationOutboxRow)
            .where(
                # Exactly the predicate of the partial index ix_notification_outbox_undelivered
                # (migration 0008): this runs every few seconds and must not read every message
                # ever sent, only the few undelivered ones.
                NotificationOutboxRow.kind.in_(SWEPT_KINDS),
                NotificationOutboxRow.status.in_((PENDING, MAILED)),
            )
            .order_by(NotificationOutboxRow.id)
            .limit(limit)
        ).all()
        return [
            Notification(
                order_id=row.order_id,
                kind=row.kind,
                recipient=row.recipient,
                subject=row.subject,
                body=row.body,
                dedupe_key=row.dedupe_key,
                # Rows from before migration 0008 have none: they were low-stock alerts, in English.
                language=row.language or "en",
            )
            for row in rows
        ]


def deliver_pending_alerts(session_factory: sessionmaker[Session], notifier: Notifier) -> int:
    """Deliver every pending recorded notification once; returns how many were delivered now.

    A failed delivery is logged and left pending for the next pass; it does not stop the others
    (one refused message must not hold back every alert behind it)."""
    delivered = 0
    for alert in pending_alerts(session_factory):
        try:
            if notifier.send(alert):
                delivered += 1
        except DeliveryInProgress:
            continue  # another worker is delivering it right now
        except DeliveryError as error:
            _log.warning("notification.retry_later", kind=alert.kind, dedupe_key=alert.dedupe_key, error=str(error))
    return delivered


async def sweep_pending_alerts(
    session_factory: sessionmaker[Session], notifier: Notifier, *, every: float = SWEEP_SECONDS
) -> None:
    """Run `deliver_pending_alerts` every `every` seconds until cancelled (the worker runs it
    beside the Temporal worker). Delivery blocks on SMTP and HTTP, so it runs in a thread."""
    while True:
        try:
            await asyncio.to_thread(deliver_pending_alerts, session_factory, notifier)
        except Exception:  # noqa: BLE001 - the sweep must outlive whatever broke one pass
            # (the database away for a moment): a dead sweep would leave every later alert undelivered.
            _log.exception("notification.sweep_failed")
        await asyncio.sleep(every)
