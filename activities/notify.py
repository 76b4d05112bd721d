"""Activity over the notifier: one message, deduplicated by its key in the outbox."""

from temporalio import activity

from adapters.notifications import Notifier
from domain.models import Notification


class NotifyActivities:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    @activity.defn(name="send_notification")
    def send_notification(self, notification: Notification) -> bool:
        return self._notifier.send(notification)
