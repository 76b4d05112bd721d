"""Management reports (R13): GET /reports/summary and its spreadsheet form GET /reports/summary.csv."""

import csv
import io
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, require
from api.deps import SessionsDep
from api.limits import UtcDatetime
from domain.enums import Role
from domain.reports import REPORT_TABLES, Summary, report_tables, summary_rows
from domain.spreadsheet import safe_row
from store import reports

router = APIRouter(tags=["reports"])
OpsRole = Annotated[Principal, Depends(require(Role.OPS))]
Since = Annotated[UtcDatetime | None, Query(alias="from")]
Until = Annotated[UtcDatetime | None, Query(alias="to")]


@router.get("/reports/summary", response_model=Summary)
async def summary(_: OpsRole, sessions: SessionsDep, since: Since = None, until: Until = None) -> Summary:
    """Orders created in [from, to): by status and channel, throughput per day, time per step
    (p50/p95), SLA breach, cancellation and return rates, refunds, on-time delivery, ratings.
    Computed in PostgreSQL (store/reports.py)."""
    return await run_in_threadpool(reports.summary, sessions, since, until)


def _filename(since: datetime | None, until: datetime | None) -> str:
    def part(moment: datetime | None) -> str:
        return f"{moment:%Y%m%dT%H%M%SZ}" if moment is not None else "all"

    return f"summary_{part(since)}_{part(until)}.csv"


@router.get(
    "/reports/summary.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per figure"}},
)
async def summary_csv(_: OpsRole, sessions: SessionsDep, since: Since = None, until: Until = None) -> Response:
    """The same report for spreadsheets: `text/csv`, header `figure,key,value`, one row per number.

    `key` is what a figure is broken down by (a status for `by_status`, a channel for `by_channel`,
    a UTC day for `throughput_per_day` and `sla_breaches_per_day`, a step for `step_orders`,
    `step_p50_seconds` and `step_p95_seconds`, a complaint status for `complaints`) and empty for
    single figures (`orders`, the rates, `refund_total`, `average_rating`). An undefined rate
    (nothing to divide by) has an empty value. Example:

        figure,key,value
        orders,,12
        by_status,delivered,7
        throughput_per_day,2026-11-26,12
        step_p50_seconds,verifying,1.5
        cancellation_rate,,0.0833
    """
    figures = await run_in_threadpool(reports.summary, sessions, since, until)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
    writer.writerow(("figure", "key", "value"))
    # Keys are channel names and steps, values numbers: formula-safe all the same (domain.spreadsheet).
    writer.writerows(safe_row(row) for row in summary_rows(figures))
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(since, until)}"'},
    )


# Issue 19: each breakdown as a table of its own (domain.reports.report_tables), for spreadsheets.
ReportTable = StrEnum("ReportTable", {name.replace("-", "_"): name for name in REPORT_TABLES})  # type: ignore[misc]


@router.get(
    "/reports/{table}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per key of the breakdown"}},
)
async def report_table_csv(
    table: ReportTable, _: OpsRole, sessions: SessionsDep, since: Since = None, until: Until = None
) -> Response:
    """One breakdown of the report as its own `text/csv` table, with a header row: `parcel-steps`
    (step,parcels,p50_seconds,p90_seconds,mean_seconds), `parcel-steps-by-warehouse` and
    `parcel-steps-by-carrier` (the same, warehouse|carrier first), `warehouses` and `carriers`
    (warehouse|carrier,parcels,delivered,cancelled,exceptions), `channels`
    (channel,orders,cancelled,reached_delivery,returned,refund_returns,exchanges), `cancellations`,
    `returns` (reason,count), `return-resolutions` (resolution,count), `carrier-exceptions`
    (issue,count), `rates` (figure,value), `inventory-turns`
    (warehouse,units_shipped,average_on_hand,turns; a last row `all`) and `stock-outs`
    (sku,warehouse,available_now,out_now,times,seconds_out). Same period and role as the summary."""
    figures = await run_in_threadpool(reports.summary, sessions, since, until)
    header, rows = report_tables(figures)[str(table.value)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)  # SKUs and reasons are text from outside: formula-safe
    name = _filename(since, until).replace("summary_", f"{table.value}_", 1)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
