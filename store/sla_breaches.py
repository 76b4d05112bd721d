"""SLA breaches per day, for the ops console's dashboard: the report's Summary has only the rate.

An order's step breaches its SLA when its workflow records an `sla.breached` event; this counts
those events by the UTC day they happened, for orders created in [since, until) like the report.
"""

from datetime import date, datetime

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import OrderEventRow, OrderRow

SLA_BREACHED = "sla.breached"


def breaches_per_day(
    sf: sessionmaker[Session], since: datetime | None = None, until: datetime | None = None
) -> dict[date, int]:
    """{day: number of SLA breaches that day}, oldest day first; days without a breach are absent."""
    day = cast(func.timezone("UTC", OrderEventRow.at), Date)
    query = (
        select(day, func.count())
        .join(OrderRow, OrderRow.order_id == OrderEventRow.order_id)
        .where(OrderEventRow.event == SLA_BREACHED)
        .group_by(day)
        .order_by(day)
    )
    if since is not None:
        query = query.where(OrderRow.created_at >= since)
    if until is not None:
        query = query.where(OrderRow.created_at < until)
    with sf() as s:
        return {row[0]: int(row[1]) for row in s.execute(query)}
