"""The report's breakdowns as CSV tables over HTTP (issue 19): one table per breakdown with its
header, the figures of the JSON report, formula-safe cells, and the same role and period checks.

The API runs in-process on the session's database; these routes need no Temporal, so none is
started. The test's orders live in an hour of the past of their own (nothing else is there).
"""

import csv
import io
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from config.settings import Settings
from domain.reports import REPORT_TABLES
from store.models import OrderRow, ShipmentEventRow, ShipmentRow
from tests.conftest import CLIENT, OPS

HEADERS = {
    "parcel-steps": ["step", "parcels", "p50_seconds", "p90_seconds", "mean_seconds"],
    "parcel-steps-by-warehouse": ["warehouse", "step", "parcels", "p50_seconds", "p90_seconds", "mean_seconds"],
    "parcel-steps-by-carrier": ["carrier", "step", "parcels", "p50_seconds", "p90_seconds", "mean_seconds"],
    "warehouses": ["warehouse", "parcels", "delivered", "cancelled", "exceptions"],
    "carriers": ["carrier", "parcels", "delivered", "cancelled", "exceptions"],
    "channels": ["channel", "orders", "cancelled", "reached_delivery", "returned", "refund_returns", "exchanges"],
    "cancellations": ["reason", "count"],
    "returns": ["reason", "count"],
    "return-resolutions": ["resolution", "count"],
    "carrier-exceptions": ["issue", "count"],
    "rates": ["figure", "value"],
    "inventory-turns": ["warehouse", "units_shipped", "average_on_hand", "turns"],
    "stock-outs": ["sku", "warehouse", "available_now", "out_now", "times", "seconds_out"],
}


@pytest_asyncio.fixture
async def http(sessions: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000)
    app = create_app(settings, sessions=sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test", timeout=60
    ) as client:
        yield client


def _load(sessions: sessionmaker[Session], start: datetime, tag: str) -> None:
    """Two orders: a delivered one on the web (its parcel picked in 60 s, packed 30 s, labelled
    600 s, 3600 s in transit, 1200 s out for delivery) with an exchange, and one cancelled from
    the marketplace with a reason that looks like a formula."""
    parcel = [(0, "picking", "pick task sent"), (60, "packed", "picked by p"), (90, "label_created", "label"),
              (690, "in_transit", "in_transit"), (4290, "out_for_delivery", "out_for_delivery"),
              (5490, "delivered", "delivered")]
    with sessions.begin() as s:
        for n, (channel, status, returns, reason) in enumerate([
            ("web", "delivered", [{"rma_id": "R1", "status": "requested", "reason": "damaged",
                                   "resolution": "exchange"}], None),
            ("marketplace", "cancelled", [], "=HYPERLINK(1)"),
        ]):
            order_id = f"RPT-{tag}-{n}"
            s.add(OrderRow(
                order_id=order_id, status=status, customer_id="c", channel=channel, total=Decimal("10.00"),
                created_at=start + timedelta(minutes=n), updated_at=start, version=1,
                document={"totals": {"refunded": "0.00", "grand_total": "10.00"}, "returns": returns,
                          "cancellation_reason": reason},
            ))
        order_id = f"RPT-{tag}-0"
        s.add(ShipmentRow(shipment_id=f"{order_id}-P1", order_id=order_id, warehouse="WH-EAST", status="delivered",
                          carrier="sf", document={}, updated_at=start))
        for version, (offset, status, event) in enumerate(parcel, start=1):
            s.add(ShipmentEventRow(shipment_id=f"{order_id}-P1", version=version, order_id=order_id,
                                   at=start + timedelta(seconds=offset), status=status, event=event))


async def _table(http: httpx.AsyncClient, name: str, params: dict[str, str]) -> list[list[str]]:
    response = await http.get(f"/reports/{name}.csv", headers=OPS, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith(f'attachment; filename="{name}_')
    assert response.text.endswith("\r\n")
    return list(csv.reader(io.StringIO(response.text)))


@pytest.fixture
def period(sessions: sessionmaker[Session]) -> Iterator[datetime]:
    """The start of the test's hour, with its rows loaded; they go again afterwards (they are no
    whole orders: the session's other tests list orders)."""
    tag = secrets.token_hex(4)
    start = datetime(1980, 1, 1, tzinfo=UTC) + timedelta(hours=secrets.randbelow(100_000))
    _load(sessions, start, tag)
    yield start
    with sessions.begin() as s:
        for table in (ShipmentEventRow, ShipmentRow, OrderRow):
            s.execute(delete(table).where(table.order_id.like(f"RPT-{tag}-%")))


async def test_each_breakdown_is_a_table_of_its_own(http: httpx.AsyncClient, period: datetime) -> None:
    start = period
    params = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    assert set(HEADERS) == set(REPORT_TABLES)

    tables = {name: await _table(http, name, params) for name in REPORT_TABLES}
    for name, rows in tables.items():
        assert rows[0] == HEADERS[name], name
        assert all(len(row) == len(HEADERS[name]) for row in rows), f"{name}: every row as wide as its header"

    assert tables["parcel-steps"][1:] == [
        ["pick", "1", "60.0", "60.0", "60.0"],
        ["pack", "1", "30.0", "30.0", "30.0"],
        ["label", "1", "600.0", "600.0", "600.0"],
        ["transit", "1", "3600.0", "3600.0", "3600.0"],
        ["delivery", "1", "1200.0", "1200.0", "1200.0"],
    ]
    assert tables["parcel-steps-by-warehouse"][1:] == [["WH-EAST", *row] for row in tables["parcel-steps"][1:]]
    assert tables["parcel-steps-by-carrier"][1:] == [["sf", *row] for row in tables["parcel-steps"][1:]]
    assert tables["warehouses"][1:] == [["WH-EAST", "1", "1", "0", "0"]]
    assert tables["carriers"][1:] == [["sf", "1", "1", "0", "0"]]
    assert tables["channels"][1:] == [["marketplace", "1", "1", "0", "0", "0", "0"], ["web", "1", "0", "1", "1", "0", "1"]]
    assert tables["cancellations"][1:] == [["'=HYPERLINK(1)", "1"]], "a reason that looks like a formula is defused"
    assert tables["returns"][1:] == [["damaged", "1"]]
    assert tables["return-resolutions"][1:] == [["exchange", "1"]]
    assert tables["carrier-exceptions"][1:] == []
    assert tables["rates"][1:] == [
        ["return_rate", "1.0"], ["refund_return_rate", "0.0"], ["exchange_rate", "1.0"], ["cancellation_rate", "0.5"]
    ]
    assert tables["inventory-turns"][-1][0] == "all"

    report = (await http.get("/reports/summary", headers=OPS, params=params)).json()
    assert report["exchange_rate"] == 1.0 and report["refund_return_rate"] == 0.0
    assert [step["step"] for step in report["parcel_steps"]] == ["pick", "pack", "label", "transit", "delivery"]
    assert report["channels"][1]["exchanges"] == 1 and report["by_carrier"][0]["key"] == "sf"
    assert "stock_outs" in report["inventory"] and "by_status" in report, "new figures beside the old ones"


async def test_tables_keep_the_summary_checks(http: httpx.AsyncClient) -> None:
    assert (await http.get("/reports/channels.csv", headers=CLIENT)).status_code == 403
    bad = await http.get("/reports/channels.csv", headers=OPS, params={"from": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"
    assert (await http.get("/reports/no-such-table.csv", headers=OPS)).status_code == 422
    assert (await http.get("/reports/summary.csv", headers=OPS, params={"to": "2000-01-01T00:00:00Z"})).text.startswith(
        "figure,key,value"
    ), "the summary's own CSV is still the summary"
