"""Projection writes PostgreSQL refuses for their data (activities/store.py, issue 16): a sanitized
row flagged for ops instead of retrying forever; transient errors stay retryable."""

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from activities.store import ProjectionActivities, refusal_of
from domain.enums import ShipmentStatus
from domain.models import ShipmentView, TimelineEntry, TransitionRecord
from store.projection import get_order, shipment_by_id
from tests.store.test_store_projection import T0, order


def test_a_nul_in_a_name_writes_a_sanitized_row_flagged_with_the_reason(sessions: sessionmaker[Session]) -> None:
    bad = order("ORD-REFUSED-1", version=1)
    bad.customer.name = "Li\x00Lei"
    entry = TimelineEntry(at=T0, status=bad.status, event="order.received", actor="test")

    refusal = ProjectionActivities(sessions).record_transitions([TransitionRecord(order=bad, entry=entry, seq=1)])

    assert refusal is not None and "UntranslatableCharacter" in refusal
    stored = get_order(sessions, "ORD-REFUSED-1")
    assert stored is not None
    assert stored.customer.name == "Li\\x00Lei"
    assert stored.needs_attention is True
    assert stored.attention_reason == f"projection refused: {refusal}"


def test_a_clean_write_answers_none(sessions: sessionmaker[Session]) -> None:
    fine = order("ORD-REFUSED-2", version=1)
    entry = TimelineEntry(at=T0, status=fine.status, event="order.received", actor="test")
    assert ProjectionActivities(sessions).record_transitions([TransitionRecord(order=fine, entry=entry, seq=1)]) is None


def test_a_parcels_row_is_sanitized_too(sessions: sessionmaker[Session]) -> None:
    parcel = ShipmentView(
        shipment_id="ORD-REFUSED-3-1", order_id="ORD-REFUSED-3", warehouse="WH\x00EAST",
        status=ShipmentStatus.PICKING, updated_at=T0, version=1,
    )
    refusal = ProjectionActivities(sessions).record_shipment(parcel)
    assert refusal is not None
    stored = shipment_by_id(sessions, "ORD-REFUSED-3-1")
    assert stored is not None and stored.warehouse == "WH\\x00EAST"
    assert stored.attention_reason == f"projection refused: {refusal}"


def test_transient_errors_are_not_data_refusals() -> None:
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    assert refusal_of(lost) is None
    assert refusal_of(RuntimeError("boom")) is None
    assert refusal_of(ValueError("A string literal cannot contain NUL (0x00) characters.")) is not None
