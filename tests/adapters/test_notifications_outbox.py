"""OutboxNotifier: one outbox row and one delivery per dedupe key."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.notifications.outbox import OutboxNotifier
from domain.models import Notification
from store.models import NotificationOutboxRow


def test_each_dedupe_key_is_sent_once(session_factory: sessionmaker[Session]) -> None:
    notifier = OutboxNotifier(session_factory)
    note = Notification(
        order_id="ORD-1",
        kind="order.confirmed",
        recipient="a@example.com",
        subject="订单已确认",
        body="您的订单 ORD-1 已确认。",
        dedupe_key="notify:ORD-1:order.confirmed",
    )
    assert notifier.send(note) is True
    assert notifier.send(note) is False
    assert (
        notifier.send(
            note.model_copy(update={"dedupe_key": "notify:ORD-1:order.shipped"})
        )
        is True
    )
    with session_factory() as s:
        rows = s.scalars(
            select(NotificationOutboxRow).order_by(NotificationOutboxRow.id)
        ).all()
    assert [r.dedupe_key for r in rows] == [
        "notify:ORD-1:order.confirmed",
        "notify:ORD-1:order.shipped",
    ]
    assert rows[0].subject == "订单已确认"
