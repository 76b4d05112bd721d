"""Reads for management reports: the orders created in a period, with their timelines."""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.models import OrderView, TimelineEntry
from store.models import OrderEventRow, OrderRow
from store.projection import entry_of


def orders_in_period(
    sf: sessionmaker[Session], since: datetime | None, until: datetime | None
) -> tuple[list[OrderView], dict[str, list[TimelineEntry]]]:
    """Orders created in [since, until) and their timelines (oldest entry first)."""
    query = select(OrderRow.document)
    if since is not None:
        query = query.where(OrderRow.created_at >= since)
    if until is not None:
        query = query.where(OrderRow.created_at < until)
    with sf() as s:
        orders = [OrderView.model_validate(doc) for doc in s.scalars(query)]
        ids = [o.order_id for o in orders]
        timelines: dict[str, list[TimelineEntry]] = defaultdict(list)
        if ids:
            rows = s.scalars(
                select(OrderEventRow)
                .where(OrderEventRow.order_id.in_(ids))
                .order_by(OrderEventRow.order_id, OrderEventRow.seq)
            )
            for row in rows:
                timelines[row.order_id].append(entry_of(row))
    return orders, dict(timelines)
