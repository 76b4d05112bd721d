"""Management report (R13) over real orders: statuses, rates, step durations, ratings."""

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import CLIENT, OPS
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)


async def test_summary_counts_what_happened_in_the_period(api: httpx.AsyncClient) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    sku = await new_sku(api, {"WH-EAST": 5})
    delivered = await submit(api, order_body(sku))
    parcel = await ship_to_carrier(api, delivered["order_id"])
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "delivered")
    await wait_for_status(api, delivered["order_id"], "delivered")
    rated = await api.post(f"/orders/{delivered['order_id']}/feedback", headers=CLIENT, json={"rating": 4, "kind": "review"})
    assert rated.status_code == 201, rated.text
    cancelled = await submit(api, order_body(sku))
    await wait_for_status(api, cancelled["order_id"], "fulfilling")
    assert (await api.post(f"/orders/{cancelled['order_id']}/cancel", headers=CLIENT, json={})).status_code == 200
    end = datetime.now(UTC) + timedelta(seconds=1)

    response = await api.get("/reports/summary", headers=OPS, params={"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["orders"] >= 2
    assert report["by_status"]["delivered"] >= 1 and report["by_status"]["cancelled"] >= 1
    assert 0 < report["cancellation_rate"] < 1
    assert report["on_time_delivery_rate"] == 1.0
    assert report["average_rating"] is not None
    steps = {step["step"]: step for step in report["step_durations"]}
    assert {"verifying", "payment_pending", "fulfilling"} <= steps.keys()
    assert all(step["p95_seconds"] >= step["p50_seconds"] >= 0 for step in steps.values())

    empty = await api.get("/reports/summary", headers=OPS, params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"})
    assert empty.json()["orders"] == 0 and empty.json()["cancellation_rate"] is None
    assert (await api.get("/reports/summary", headers=CLIENT)).status_code == 403


async def test_summary_csv_has_every_figure_of_the_json_report(api: httpx.AsyncClient) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    sku = await new_sku(api, {"WH-EAST": 2})
    order = await submit(api, order_body(sku))
    await wait_for_status(api, order["order_id"], "fulfilling")
    params = {"from": start.isoformat(), "to": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}

    report = (await api.get("/reports/summary", headers=OPS, params=params)).json()
    response = await api.get("/reports/summary.csv", headers=OPS, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="summary_')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["figure", "key", "value"]
    figures = {(figure, key): value for figure, key, value in rows[1:]}
    assert figures[("orders", "")] == str(report["orders"])
    assert all(figures[("by_status", s)] == str(n) for s, n in report["by_status"].items())
    assert all(figures[("throughput_per_day", d)] == str(n) for d, n in report["throughput_per_day"].items())
    assert all(figures[("step_p95_seconds", s["step"])] == str(s["p95_seconds"]) for s in report["step_durations"])
    assert figures[("cancellation_rate", "")] == str(report["cancellation_rate"])
    assert figures[("return_rate", "")] == ("" if report["return_rate"] is None else str(report["return_rate"]))
    assert (await api.get("/reports/summary.csv", headers=CLIENT)).status_code == 403
    bad = await api.get("/reports/summary.csv", headers=OPS, params={"from": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"
