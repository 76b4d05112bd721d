"""Carrier tracking events as the webhook received them (the built-in carriers' memory)."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.enums import TrackingStatus
from domain.models import TrackingEvent
from store.models import CarrierTrackingEventRow, TrackingNumberRow


def record_tracking_event(sf: sessionmaker[Session], carrier: str, event: TrackingEvent) -> bool:
    """Store a reported event; False when the same report was stored before (a replay)."""
    with sf.begin() as s:
        inserted = s.scalar(
            insert(CarrierTrackingEventRow)
            .values(
                carrier=carrier,
                tracking_number=event.tracking_number,
                status=event.status.value,
                detail=event.detail or "",
                at=event.at,
                promised_by=event.promised_by,
            )
            .on_conflict_do_nothing(constraint="uq_carrier_tracking_events_event")
            .returning(CarrierTrackingEventRow.id)
        )
        return inserted is not None


def was_recorded(sf: sessionmaker[Session], carrier: str, event: TrackingEvent) -> bool:
    """The very same report (status, detail, time) was stored before: a carrier's replay."""
    with sf() as s:
        found = s.scalar(
            select(CarrierTrackingEventRow.id).where(
                CarrierTrackingEventRow.carrier == carrier,
                CarrierTrackingEventRow.tracking_number == event.tracking_number,
                CarrierTrackingEventRow.status == event.status.value,
                CarrierTrackingEventRow.detail == (event.detail or ""),
                CarrierTrackingEventRow.at == event.at,
            )
        )
    return found is not None


def tracking_events(sf: sessionmaker[Session], carrier: str, tracking_number: str) -> list[TrackingEvent]:
    """Every event reported for a parcel, oldest first."""
    with sf() as s:
        rows = s.scalars(
            select(CarrierTrackingEventRow)
            .where(
                CarrierTrackingEventRow.carrier == carrier,
                CarrierTrackingEventRow.tracking_number == tracking_number,
            )
            .order_by(CarrierTrackingEventRow.at, CarrierTrackingEventRow.id)
        ).all()
    return [
        TrackingEvent(
            tracking_number=row.tracking_number,
            status=TrackingStatus(row.status),
            detail=row.detail or None,
            at=row.at,
            promised_by=row.promised_by,
        )
        for row in rows
    ]


def record_tracking_number(sf: sessionmaker[Session], carrier: str, tracking_number: str, shipment_id: str) -> None:
    """The label's tracking number belongs to `shipment_id`; repeats keep the first row."""
    with sf.begin() as s:
        s.execute(
            insert(TrackingNumberRow)
            .values(tracking_number=tracking_number, carrier=carrier, shipment_id=shipment_id)
            .on_conflict_do_nothing(index_elements=[TrackingNumberRow.tracking_number])
        )


def labelled_shipment(sf: sessionmaker[Session], tracking_number: str) -> tuple[str, str] | None:
    """(carrier, shipment_id) of a tracking number whose label was bought, or None."""
    with sf() as s:
        row = s.execute(
            select(TrackingNumberRow.carrier, TrackingNumberRow.shipment_id).where(
                TrackingNumberRow.tracking_number == tracking_number
            )
        ).first()
    return (row.carrier, row.shipment_id) if row is not None else None
