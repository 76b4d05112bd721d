"""Delivery of low-stock alerts recorded as pending in the outbox (R6, R12).

A stock transaction only records its alert (store.stock_alerts: status `pending`, one row per
crossing); nothing may be mailed while it holds the level's row lock or before it commits. The
worker delivers them afterwards with `deliver_pending_alerts`, through the same `Notifier` the
`send_notification` activity uses, so an alert reaches ops by e-mail and every webhook exactly as
an order notification does, under its own dedupe key.

Nothing is lost: a row stays `pending` (or `mailed`) until the notifier marks it `sent`, so an
alert whose delivery failed, or whose worker died after the stock commit, is picked up by the next
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
from domain.notifications import LOW_STOCK, NO_ORDER
from store.models import NotificationOutboxRow

_log = structlog.get_logger(__name__)

# One pass delivers at most this many alerts (oldest first); the next pass takes the rest.
BATCH = 100
# How often the worker looks for pending alerts: an alert reaches ops within about this long.
SWEEP_SECONDS = 5.0


def pending_alerts(session_factory: sessionmaker[Session], limit: int = BATCH) -> list[Notification]:
    """Low-stock alerts not delivered yet, oldest first."""
    with session_factory() as s:
        rows = s.scalars(
            select(NotificationOutboxRow)
            .where(
                # Stock alerts belong to no order: the order_id index finds them without reading
                # every order's notifications, which this query runs over every few seconds.
                NotificationOutboxRow.order_id == NO_ORDER,
                NotificationOutboxRow.kind == LOW_STOCK,
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
                language="en",  # ops alerts are written in English (domain.notifications)
            )
            for row in rows
        ]


def deliver_pending_alerts(session_factory: sessionmaker[Session], notifier: Notifier) -> int:
    """Deliver every pending low-stock alert once; returns how many were delivered now.

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
