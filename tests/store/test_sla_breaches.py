"""SLA breaches per day (the console dashboard's chart): counted by the UTC day of the breach,
for the orders created in the period, other events ignored."""

from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy.orm import Session, sessionmaker

from domain.models import TimelineEntry
from store.projection import record_transition
from store.sla_breaches import breaches_per_day
from tests.store.test_store_ops_queries import T0, record

SF = sessionmaker[Session]
# Years after the other store tests' orders, so that the period holds only these.
BASE = datetime(2031, 1, 1, tzinfo=UTC)
MINUTES_TO_BASE = int((BASE - T0).total_seconds() // 60)


def test_breaches_are_counted_per_utc_day_for_orders_of_the_period(session_factory: SF) -> None:
    beijing = timezone(timedelta(hours=8))
    a = record(session_factory, "SLA-A", minutes=MINUTES_TO_BASE + 8 * 60)  # created 2031-01-01 08:00
    b = record(session_factory, "SLA-B", minutes=MINUTES_TO_BASE + 9 * 60)
    late = record(session_factory, "SLA-LATE", minutes=MINUTES_TO_BASE + 4 * 24 * 60)  # created 2031-01-05
    events = [
        (a, 2, datetime(2031, 1, 1, 23, 30, tzinfo=UTC), "sla.breached"),
        (a, 3, datetime(2031, 1, 2, 8, 30, tzinfo=beijing), "sla.breached"),  # 00:30 UTC on the 2nd
        (a, 4, datetime(2031, 1, 2, 9, 0, tzinfo=UTC), "order.shipped"),
        (b, 2, datetime(2031, 1, 2, 10, 0, tzinfo=UTC), "sla.breached"),
        (late, 2, datetime(2031, 1, 2, 11, 0, tzinfo=UTC), "sla.breached"),
    ]
    for view, seq, at, name in events:
        record_transition(
            session_factory, view, TimelineEntry(at=at, status=view.status, event=name, actor="system"), seq
        )

    period = breaches_per_day(session_factory, BASE, BASE + timedelta(days=3))
    assert period == {date(2031, 1, 1): 1, date(2031, 1, 2): 2}
    assert list(period) == sorted(period), "oldest day first"
    everything = breaches_per_day(session_factory, BASE, None)
    assert everything == {date(2031, 1, 1): 1, date(2031, 1, 2): 3}
