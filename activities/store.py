"""Activities that write the read model: the order projection, its event log and shipments.

The workflow stays the source of truth; these rows let the API, reports and ops lists answer from
PostgreSQL. Both writes are idempotent (events by (order, seq), rows by version).
"""

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from domain.models import RecentOrdersQuery, ShipmentView, TransitionRecord
from store import projection


class ProjectionActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @activity.defn(name="record_transitions")
    def record_transitions(self, records: list[TransitionRecord]) -> None:
        """Transitions queued since the last write, oldest first: their entries and the order as
        the newest left it, in one transaction."""
        if records:
            newest = max(records, key=lambda record: record.seq)
            projection.record_transitions(
                self._session_factory, newest.order, [(record.seq, record.entry) for record in records]
            )

    @activity.defn(name="count_recent_orders")
    def count_recent_orders(self, query: RecentOrdersQuery) -> int:
        """How many orders the customer placed since `query.since` (velocity rule)."""
        return projection.recent_order_count(
            self._session_factory, query.customer_id, query.since, query.exclude_order_id
        )

    @activity.defn(name="record_shipment")
    def record_shipment(self, shipment: ShipmentView) -> None:
        projection.record_shipment(self._session_factory, shipment)
