"""Management reports (R13): GET /reports/summary."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Principal, require
from api.deps import SessionsDep
from api.limits import UtcDatetime
from domain.enums import Role
from domain.reports import Summary, summarize
from store import feedback, reports

router = APIRouter(tags=["reports"])
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]


def build_summary(
    sessions: sessionmaker[Session], since: datetime | None, until: datetime | None
) -> Summary:
    """The summary of orders created in [since, until): one place for the API and the ops console."""
    orders, timelines = reports.orders_in_period(sessions, since, until)
    figures = summarize(orders, timelines)
    figures.average_rating = feedback.average_rating(sessions, since, until)
    figures.complaints = feedback.complaint_counts(sessions)
    return figures


@router.get("/reports/summary", response_model=Summary)
def summary(
    _: OpsRole,
    sessions: SessionsDep,
    since: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    until: Annotated[UtcDatetime | None, Query(alias="to")] = None,
) -> Summary:
    """Orders created in [from, to): by status and channel, throughput per day, time per step
    (p50/p95), SLA breach, cancellation and return rates, refunds, on-time delivery, ratings."""
    return build_summary(sessions, since, until)
