"""Notifications recorded `pending` in the outbox inside the transaction of the change they tell
about (R12): a low-stock crossing (store.stock_alerts), a resolved complaint (store.feedback).

Nothing is mailed or posted inside that transaction: a rollback would leave a message out for a
change that never happened, and SMTP must not hold the transaction's row locks. The row commits or
rolls back with the change; the worker's sweep (adapters.notifications.pending) delivers the
committed rows of the kinds in `SWEPT_KINDS` through the notifier. Other kinds are order
notifications, claimed `pending` by the `send_notification` activity while it delivers them: their
retries belong to the workflow, so the sweep leaves them alone.
"""

from typing import Final

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.models import Notification
from domain.notifications import COMPLAINT_RESOLVED, LOW_STOCK
from store.models import NotificationOutboxRow

_log = structlog.get_logger(__name__)

# The outbox status of a message not delivered yet (adapters.notifications.delivery.PENDING).
PENDING: Final = "pending"
# The kinds that only this module writes, and so only the sweep delivers.
SWEPT_KINDS: Final = (LOW_STOCK, COMPLAINT_RESOLVED)


def queue_notification(s: Session, notification: Notification) -> bool:
    """Record `notification` as pending in the caller's transaction; True when written now,
    False when its dedupe key is in the outbox already (queued or delivered before)."""
    if notification.kind not in SWEPT_KINDS:
        raise ValueError(f"{notification.kind} notifications are not delivered by the sweep")
    written = s.execute(
        insert(NotificationOutboxRow)
        .values(
            dedupe_key=notification.dedupe_key,
            order_id=notification.order_id,
            kind=notification.kind,
            recipient=notification.recipient,
            subject=notification.subject,
            body=notification.body,
            language=notification.language,
            status=PENDING,
        )
        .on_conflict_do_nothing(index_elements=[NotificationOutboxRow.dedupe_key])
        .returning(NotificationOutboxRow.id)
    ).first()
    if written is None:
        return False
    _log.info(
        "notification.queued",
        order_id=notification.order_id,
        kind=notification.kind,
        subject=notification.subject,
        dedupe_key=notification.dedupe_key,
    )
    return True
