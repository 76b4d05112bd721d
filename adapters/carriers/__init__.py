"""Carriers: quotes, labels with tracking numbers, cancellation (R8)."""

from datetime import date
from typing import Protocol

from domain.enums import ShippingSpeed
from domain.models import Address, Label, LabelRequest, RateQuote, TrackingEvent


class Carriers(Protocol):
    def quotes(
        self, origin_region: str, destination: Address, weight_grams: int, speed: ShippingSpeed, today: date
    ) -> list[RateQuote]:
        """One quote per carrier that serves this route at this speed."""
        ...

    def buy_label(self, request: LabelRequest) -> Label:
        """Idempotent by request.idempotency_key. Raises domain.errors.UndeliverableAddress."""
        ...

    def cancel_label(self, label_id: str) -> bool:
        """Void a label not yet handed over; True if it is (now or already) cancelled."""
        ...

    def track(self, carrier: str, tracking_number: str) -> list[TrackingEvent]:
        """Everything the carrier knows about the parcel, oldest first (the polling fallback)."""
        ...

    def shipment_of(self, carrier: str, tracking_number: str) -> str | None:
        """The shipment id a tracking number belongs to (for webhooks)."""
        ...
