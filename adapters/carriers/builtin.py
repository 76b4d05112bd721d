"""Built-in carriers `swift` (fast, dear) and `economy` (slow, cheap) with deterministic rate
cards (domain.carriers) and labels stored in PostgreSQL (R8).

Tracking numbers are derived from the label's idempotency key, so a retried purchase gets the
same number even if the first answer was lost.
"""

import hashlib
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.carriers import RATE_CARDS, UNDELIVERABLE_POSTAL_CODES
from domain.enums import ShipmentStatus, ShippingSpeed
from domain.errors import InvalidOrder, LabelNotCancellable, UndeliverableAddress
from domain.geography import region_of, zone_between
from domain.models import Address, Label, LabelRequest, RateQuote, TrackingEvent
from store.models import CarrierLabelRow, ShipmentRow
from store.tracking import tracking_events

TRACKING_PREFIX = {"swift": "SW", "economy": "EC"}
_HANDED_OVER = [status.value for status in ShipmentStatus if status.with_carrier]


def tracking_number_for(carrier: str, idempotency_key: str, salt: int = 0) -> str:
    """Carrier prefix + 10 digits from a hash of the key (a salt only after a collision)."""
    seed = idempotency_key if salt == 0 else f"{idempotency_key}#{salt}"
    digits = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % 10**10
    prefix = TRACKING_PREFIX.get(carrier, carrier[:2].upper())
    return f"{prefix}{digits:010d}"


def _label_id_for(idempotency_key: str, salt: int) -> str:
    return (
        "lbl_"
        + hashlib.sha256(f"label|{idempotency_key}|{salt}".encode()).hexdigest()[:20]
    )


def _label(row: CarrierLabelRow) -> Label:
    assert row.promised_by is not None
    return Label(
        label_id=row.label_id,
        carrier=row.carrier,
        service=ShippingSpeed(row.service),
        tracking_number=row.tracking_number,
        price=row.price,
        promised_by=row.promised_by,
    )


class BuiltinCarriers:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sf = session_factory

    def quotes(
        self,
        origin_region: str,
        destination: Address,
        weight_grams: int,
        speed: ShippingSpeed,
        today: date,
    ) -> list[RateQuote]:
        zone = zone_between(
            origin_region, region_of(destination.country, destination.region)
        )
        quotes = [
            card.quote(speed, zone, weight_grams, today) for card in RATE_CARDS.values()
        ]
        return sorted(
            (q for q in quotes if q is not None),
            key=lambda q: (q.price, q.transit_days, q.carrier),
        )

    def buy_label(self, request: LabelRequest) -> Label:
        key = request.idempotency_key
        with self._sf.begin() as s:
            existing = s.scalar(
                select(CarrierLabelRow).where(CarrierLabelRow.idempotency_key == key)
            )
            if existing is not None:
                return _label(existing)
            postal_code = request.destination.postal_code.replace(" ", "")
            if postal_code in UNDELIVERABLE_POSTAL_CODES:
                raise UndeliverableAddress(
                    f"carrier {request.quote.carrier} does not deliver to postal code {postal_code}"
                )
            carrier = request.quote.carrier
            if carrier not in RATE_CARDS:
                raise InvalidOrder(f"unknown carrier {carrier}")
            for salt in range(10):
                s.execute(
                    insert(CarrierLabelRow)
                    .values(
                        label_id=_label_id_for(key, salt),
                        idempotency_key=key,
                        shipment_id=request.shipment_id,
                        carrier=carrier,
                        service=request.quote.service.value,
                        tracking_number=tracking_number_for(carrier, key, salt),
                        price=request.quote.price,
                        promised_by=request.quote.promised_by,
                        status="active",
                    )
                    .on_conflict_do_nothing()
                )
                row = s.scalar(
                    select(CarrierLabelRow)
                    .where(CarrierLabelRow.idempotency_key == key)
                    .execution_options(populate_existing=True)
                )
                if row is not None:  # ours, or a concurrent purchase with the same key
                    return _label(row)
                # Nothing stored under our key: a tracking number or label id collided; next salt.
        raise RuntimeError(
            f"could not allocate a tracking number for {key}"
        )  # pragma: no cover

    def cancel_label(self, label_id: str) -> bool:
        with self._sf.begin() as s:
            row = s.scalar(
                select(CarrierLabelRow)
                .where(CarrierLabelRow.label_id == label_id)
                .with_for_update()
            )
            if row is None:
                return False
            if row.status == "cancelled":
                return True
            handed_over = s.scalar(
                select(ShipmentRow.shipment_id).where(
                    ShipmentRow.tracking_number == row.tracking_number,
                    ShipmentRow.status.in_(_HANDED_OVER),
                )
            )
            if handed_over is not None:
                raise LabelNotCancellable(
                    f"label {label_id} is already with the carrier"
                )
            s.execute(
                update(CarrierLabelRow)
                .where(CarrierLabelRow.label_id == label_id)
                .values(status="cancelled")
            )
            return True

    def track(self, carrier: str, tracking_number: str) -> list[TrackingEvent]:
        # The built-in carriers remember what they reported through the webhook.
        return tracking_events(self._sf, carrier, tracking_number)

    def shipment_of(self, carrier: str, tracking_number: str) -> str | None:
        with self._sf() as s:
            return s.scalar(
                select(CarrierLabelRow.shipment_id).where(
                    CarrierLabelRow.carrier == carrier,
                    CarrierLabelRow.tracking_number == tracking_number,
                )
            )
