"""Customer and ops notifications (R12). Every message goes through the outbox with a dedupe key."""

from typing import Protocol

from domain.models import Notification


class Notifier(Protocol):
    def send(self, notification: Notification) -> bool:
        """Deliver once: True if sent now, False if its dedupe key was already sent."""
        ...
