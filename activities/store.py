"""Activities that write the read model: the order projection, its event log and shipments.

The workflow stays the source of truth; these rows let the API, reports and ops lists answer from
PostgreSQL. Both writes are idempotent (events by (order, seq), rows by version).

A write that PostgreSQL refuses for its data (a NUL in a name, a text too long, a number out of
range: `refusal_of`) would fail the same way on every retry, and the order would vanish from the
API and ops while it goes on charging and shipping. Such a write is made again with its texts'
control characters escaped and the row flagged for ops with the reason, and the activity returns
the reason, which the workflow shows on the order (issue 16). If even that write is refused, the
activity fails for good (a non-retryable ApplicationError) and the workflow flags the order
without a row. Connection losses and other transient errors stay retryable.
"""

import re
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.models import STORED_DATA, RecentOrdersQuery, ShipmentView, TransitionRecord
from store import projection

M = TypeVar("M", bound=BaseModel)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PROJECTION_REFUSED = "ProjectionRefused"


def refusal_of(error: Exception) -> str | None:
    """Why PostgreSQL (or psycopg2, before sending) refuses a write for its data, or None when the
    error may pass (a lost connection, a deadlock): psycopg2's DataError family covers
    CharacterNotInRepertoire, StringDataRightTruncation, NumericValueOutOfRange and their kin."""
    if isinstance(error, DataError):
        return f"{type(error.orig).__name__}: {str(error.orig).strip().splitlines()[0]}"
    if isinstance(error, ValueError) and "NUL" in str(error):
        return str(error)  # psycopg2 refuses a NUL in a text before it reaches the server
    return None


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", value)
    if isinstance(value, dict):
        return {_escaped(key): _escaped(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_escaped(inner) for inner in value]
    return value


def sanitized(model: M) -> M:
    """`model` with the control characters of every text escaped (`\\x00`), for ops to read."""
    return type(model).model_validate(_escaped(model.model_dump(mode="json")), context=STORED_DATA)


def _attention(reason: str | None, refusal: str) -> str:
    note = f"projection refused: {refusal}"
    return note if not reason else reason if note in reason else f"{reason}; {note}"


class ProjectionActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @activity.defn(name="record_transitions")
    def record_transitions(self, records: list[TransitionRecord]) -> str | None:
        """Transitions queued since the last write, oldest first: their entries and the order as
        the newest left it, in one transaction. Returns why PostgreSQL refused the full write
        (a sanitized, flagged row was written instead), or None when it was written as it is."""
        if not records:
            return None
        newest = max(records, key=lambda record: record.seq)
        try:
            projection.record_transitions(
                self._session_factory, newest.order, [(record.seq, record.entry) for record in records]
            )
            return None
        except (DataError, ValueError) as error:
            refusal = refusal_of(error)
            if refusal is None:
                raise
        # The row ops can find: the order as known, texts escaped, flagged with the reason.
        order = sanitized(newest.order)
        order.needs_attention = True
        order.attention_reason = _attention(order.attention_reason, refusal)
        try:
            projection.record_transitions(
                self._session_factory, order, [(record.seq, sanitized(record.entry)) for record in records]
            )
        except (DataError, ValueError) as error:
            if refusal_of(error) is None:
                raise
            raise ApplicationError(
                f"projection refused: {refusal}", type=PROJECTION_REFUSED, non_retryable=True
            ) from error
        return refusal

    @activity.defn(name="count_recent_orders")
    def count_recent_orders(self, query: RecentOrdersQuery) -> int:
        """How many orders the customer placed since `query.since` (velocity rule)."""
        return projection.recent_order_count(
            self._session_factory, query.customer_id, query.since, query.exclude_order_id
        )

    @activity.defn(name="record_shipment")
    def record_shipment(self, shipment: ShipmentView) -> str | None:
        """The parcel's row and event; like `record_transitions`, returns why a full write was
        refused (a sanitized row flagged with the reason was written instead), else None."""
        try:
            projection.record_shipment(self._session_factory, shipment)
            return None
        except (DataError, ValueError) as error:
            refusal = refusal_of(error)
            if refusal is None:
                raise
        parcel = sanitized(shipment)
        parcel.attention_reason = _attention(parcel.attention_reason, refusal)
        try:
            projection.record_shipment(self._session_factory, parcel)
        except (DataError, ValueError) as error:
            if refusal_of(error) is None:
                raise
            raise ApplicationError(
                f"projection refused: {refusal}", type=PROJECTION_REFUSED, non_retryable=True
            ) from error
        return refusal
