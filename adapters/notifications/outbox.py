"""Notifications delivered to the log through an audited outbox (R12): each dedupe key once.

A row already in the outbox as `pending` (a low-stock alert recorded by its stock transaction,
store.stock_alerts) is delivered here by marking it sent; a row already `sent` is a no-op."""

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.models import Notification
from store.models import NotificationOutboxRow

_log = structlog.get_logger(__name__)


class OutboxNotifier:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sf = session_factory

    def send(self, notification: Notification) -> bool:
        with self._sf.begin() as s:
            inserted = s.scalar(
                insert(NotificationOutboxRow)
                .values(
                    dedupe_key=notification.dedupe_key,
                    order_id=notification.order_id,
                    kind=notification.kind,
                    recipient=notification.recipient,
                    subject=notification.subject,
                    body=notification.body,
                    status="sent",
                )
                .on_conflict_do_update(
                    index_elements=[NotificationOutboxRow.dedupe_key],
                    set_={"status": "sent"},
                    # Only a row not delivered yet: a sent one is left alone (no row returned).
                    where=NotificationOutboxRow.status != "sent",
                )
                .returning(NotificationOutboxRow.id)
            )
        if inserted is None:
            return False
        _log.info(
            "notification.sent",
            order_id=notification.order_id,
            kind=notification.kind,
            # Never the recipient: a log carries ids, not a customer's address.
            subject=notification.subject,
            dedupe_key=notification.dedupe_key,
        )
        return True
