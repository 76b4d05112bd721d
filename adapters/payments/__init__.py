"""Payments: authorize, capture, void and refund, each idempotent by its key (R7)."""

from decimal import Decimal
from typing import Protocol

from domain.models import PaymentResult


class TransientPaymentError(Exception):
    """The gateway could not answer now; the same call may succeed later (retryable)."""


class PaymentGateway(Protocol):
    def authorize(
        self, key: str, order_id: str, amount: Decimal, currency: str, method: str, token: str | None
    ) -> PaymentResult:
        """Raises domain.errors.PaymentDeclined (final) or TransientPaymentError (retry)."""
        ...

    def capture(self, key: str, payment_id: str, amount: Decimal) -> PaymentResult:
        """Once, or for cash on delivery once per parcel delivered: never more than authorized."""
        ...

    def void(self, key: str, payment_id: str, amount: Decimal | None = None) -> PaymentResult:
        """Void the authorization; `amount`: only that share of a cash-on-delivery promise (a
        parcel's that will not be collected), which may follow captures of other shares."""
        ...

    def refund(self, key: str, payment_id: str, amount: Decimal) -> PaymentResult:
        """Never refunds more than was captured in total."""
        ...
