"""Cycle counts over HTTP (issue 19, deliverable 2; domain/counts.py) against the real app and
PostgreSQL: the due list exact on a hand-made warehouse, a count over the threshold waiting for
ops, approval against the stock as it is then, rejection, and hostile requests.

No route here talks to Temporal, so the app runs without a client. Each test has a warehouse of
its own, so the plan (ranked per warehouse) sees its items alone. The movements the plan reads
(shipments in the value window, earlier counts) are written as rows, at the times the data set
needs."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from config.settings import Settings
from store.models import StockAdjustmentRow, StockCountRow, StockLevelRow
from tests.conftest import CLIENT, OPS, TASK_QUEUE, WAREHOUSE


@pytest_asyncio.fixture(scope="module")
async def http(sessions: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(task_queue=TASK_QUEUE, rate_limit_per_second=0), sessions=sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60) as h:
        yield h


async def own_warehouse(http: httpx.AsyncClient) -> str:
    code = f"WH-C{secrets.token_hex(3).upper()}"
    response = await http.put(
        f"/warehouses/{code}",
        headers=OPS,
        json={"name": f"count test {code}", "region": "east", "priority": 1, "daily_capacity": 500, "active": True},
    )
    assert response.status_code == 201, response.text
    return code


async def own_sku(
    http: httpx.AsyncClient, warehouse: str, on_hand: int, price: str = "10.00", name: str = "", tag: str = ""
) -> str:
    sku = f"SKU-CC-{tag or secrets.token_hex(3).upper()}{name}"
    response = await http.put(f"/catalog/{sku}", headers=OPS, json={"name": f"count item {sku}", "price": price})
    assert response.status_code == 201, response.text
    response = await http.put(f"/inventory/{sku}/{warehouse}", headers=OPS, json={"on_hand": on_hand})
    assert response.status_code == 200, response.text
    return sku


def shipped(sessions: sessionmaker[Session], sku: str, warehouse: str, units: int, at: datetime, reason: str = "shipment") -> None:
    delta = -units if reason == "shipment" else units
    with sessions.begin() as s:
        s.add(StockAdjustmentRow(sku=sku, warehouse=warehouse, delta_on_hand=delta, reason=reason, actor="orderflow", detail={}, at=at))


def counted_before(sessions: sessionmaker[Session], sku: str, warehouse: str, at: datetime, status: str = "applied") -> None:
    with sessions.begin() as s:
        s.add(
            StockCountRow(
                sku=sku, warehouse=warehouse, counted=1, book=1, reserved=0, discrepancy=0, status=status,
                counted_by="earlier", counted_at=at, applied_delta=0 if status == "applied" else None,
            )
        )


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def due(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await http.get("/warehouse/counts/due", headers=WAREHOUSE, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def on_hand(http: httpx.AsyncClient, sku: str, warehouse: str) -> tuple[int, int]:
    response = await http.get(f"/inventory/{sku}", headers=OPS)
    assert response.status_code == 200, response.text
    level = next(level for level in response.json()["warehouses"] if level["warehouse"] == warehouse)
    return level["on_hand"], level["reserved"]


def audit(sessions: sessionmaker[Session], sku: str, warehouse: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.execute(
            select(StockAdjustmentRow.delta_on_hand, StockAdjustmentRow.reason, StockAdjustmentRow.actor, StockAdjustmentRow.detail)
            .where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.warehouse == warehouse)
            .where(StockAdjustmentRow.reason.not_in(("set_level", "shipment", "restock_cancelled_label")))
            .order_by(StockAdjustmentRow.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_the_due_list_is_exact_on_a_hand_made_warehouse(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    wh = await own_warehouse(http)
    tag = secrets.token_hex(3).upper()  # one prefix: the never-counted ones list by SKU
    now = datetime.now(UTC).replace(microsecond=0)
    # Values shipped in the last 90 days: P1 500, P2 300, P3 100, P4 60, P5 40, P6 0 (of 1000).
    p1 = await own_sku(http, wh, 50, "100.00", "-P1", tag)
    shipped(sessions, p1, wh, 3, now - timedelta(days=10))
    shipped(sessions, p1, wh, 2, now - timedelta(days=11))
    p2 = await own_sku(http, wh, 50, "50.00", "-P2", tag)
    shipped(sessions, p2, wh, 6, now - timedelta(days=20))
    shipped(sessions, p2, wh, 100, now - timedelta(days=100))  # before the window: not counted
    p3 = await own_sku(http, wh, 50, "10.00", "-P3", tag)
    shipped(sessions, p3, wh, 12, now - timedelta(days=30))
    shipped(sessions, p3, wh, 2, now - timedelta(days=29), reason="restock_cancelled_label")  # net 10
    p4 = await own_sku(http, wh, 50, "20.00", "-P4", tag)
    shipped(sessions, p4, wh, 3, now - timedelta(days=40))
    p5 = await own_sku(http, wh, 50, "40.00", "-P5", tag)
    shipped(sessions, p5, wh, 1, now - timedelta(days=50))
    p6 = await own_sku(http, wh, 50, "5.00", "-P6", tag)
    # Counts: P1 (A, every 30 days) 31 days ago; P2 (A) 5 days ago; P3 (B, every 90 days) 100
    # days ago, and rejected 2 days ago (not a count that applied); P5 (C, every 180) 170 days ago.
    counted_before(sessions, p1, wh, now - timedelta(days=31))
    counted_before(sessions, p2, wh, now - timedelta(days=5))
    counted_before(sessions, p3, wh, now - timedelta(days=100))
    counted_before(sessions, p3, wh, now - timedelta(days=2), status="rejected")
    counted_before(sessions, p5, wh, now - timedelta(days=170))

    body = await due(http, warehouse=wh)
    assert [(i["sku"], i["class"], when(i["last_counted_at"]), when(i["due_since"])) for i in body["items"]] == [
        (p4, "B", None, None),  # never counted: first
        (p6, "C", None, None),
        (p3, "B", now - timedelta(days=100), now - timedelta(days=10)),
        (p1, "A", now - timedelta(days=31), now - timedelta(days=1)),
    ]
    assert [(i["shipped_value"], i["picks"]) for i in body["items"]] == [("60.00", 1), ("0.00", 0), ("100.00", 0), ("500.00", 2)]
    assert body["every"] == {"A": "P30D", "B": "P90D", "C": "P180D"} and body["window"] == "P90D"
    assert [i["sku"] for i in (await due(http, warehouse=wh, **{"class": "B"}))["items"]] == [p4, p3]
    assert [i["sku"] for i in (await due(http, warehouse=wh, limit=1))["items"]] == [p4]

    # Counting P4 takes it off the list (B: due again in 90 days); the rest keep their places.
    response = await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": p4, "counted": 50})
    assert response.status_code == 201, response.text
    assert [i["sku"] for i in (await due(http, warehouse=wh))["items"]] == [p6, p3, p1]
    # Every warehouse at once (no filter) lists them too, among the others.
    assert {p6, p3, p1} <= {i["sku"] for i in (await due(http, limit=5000))["items"]}


async def test_due_list_refusals(http: httpx.AsyncClient) -> None:
    assert (await http.get("/warehouse/counts/due", headers=WAREHOUSE, params={"warehouse": "WH-NOPE"})).status_code == 404
    assert (await http.get("/warehouse/counts/due", headers=WAREHOUSE, params={"class": "D"})).status_code == 422
    assert (await http.get("/warehouse/counts/due", headers=WAREHOUSE, params={"limit": 0})).status_code == 422
    assert (await http.get("/warehouse/counts/due", headers=CLIENT)).status_code == 403
    assert (await http.get("/warehouse/counts/due")).status_code == 401


async def test_a_small_discrepancy_applies_at_once(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 100)
    response = await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 92})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["on_hand"], body["discrepancy"], body["status"]) == (92, -8, "applied")
    assert await on_hand(http, sku, wh) == (92, 0)
    assert audit(sessions, sku, wh) == [(-8, "count", "dev-warehouse", {"counted": 92, "count_id": body["count_id"]})]
    record = (await http.get(f"/warehouse/counts/{body['count_id']}", headers=WAREHOUSE)).json()
    assert (record["status"], record["book"], record["counted_by"], record["applied_delta"]) == ("applied", 100, "dev-warehouse", -8)


async def test_a_large_discrepancy_waits_and_approval_applies_it_to_the_stock_of_then(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 100)
    response = await http.post(
        "/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 70, "note": "aisle 4"}
    )
    assert response.status_code == 202, response.text
    held = response.json()
    assert {k: held[k] for k in ("status", "book", "counted", "discrepancy", "note", "counted_by")} == {
        "status": "pending", "book": 100, "counted": 70, "discrepancy": -30, "note": "aisle 4", "counted_by": "dev-warehouse",
    }
    assert await on_hand(http, sku, wh) == (100, 0)  # nothing changed yet
    assert audit(sessions, sku, wh) == []
    pending = (await http.get("/warehouse/counts/pending", headers=OPS, params={"warehouse": wh})).json()["items"]
    assert [p["count_id"] for p in pending] == [held["count_id"]]
    listed = (await due(http, warehouse=wh))["items"]
    assert [(i["sku"], i["pending_count_id"], i["last_counted_at"]) for i in listed] == [(sku, held["count_id"], None)]

    # 10 units leave the shelf between the count and the approval (ops set the level to 90).
    assert (await http.put(f"/inventory/{sku}/{wh}", headers=OPS, json={"on_hand": 90})).status_code == 200
    # Only ops decide.
    for key in (WAREHOUSE, CLIENT):
        refused = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=key, json={"note": "ok"})
        assert refused.status_code == 403
    assert (await http.post(f"/warehouse/counts/{held['count_id']}/approve", json={"note": "ok"})).status_code == 401
    response = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=OPS, json={"note": "recounted twice"})
    assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["level"]["on_hand"] == 60  # 90 - 30: the shipment since the count stays booked
    count = approved["count"]
    assert {k: count[k] for k in ("status", "decided_by", "decision_note", "on_hand_at_decision", "applied_delta", "on_hand_after")} == {
        "status": "approved", "decided_by": "dev-ops", "decision_note": "recounted twice",
        "on_hand_at_decision": 90, "applied_delta": -30, "on_hand_after": 60,
    }
    assert await on_hand(http, sku, wh) == (60, 0)
    assert audit(sessions, sku, wh) == [
        (
            -30, "count_approved", "dev-ops",
            {"count_id": held["count_id"], "counted": 70, "book": 100, "discrepancy": -30, "counted_by": "dev-warehouse",
             "on_hand_at_approval": 90, "note": "recounted twice"},
        )
    ]
    # Approved: counted, off the due list, out of the pending list; never applied twice.
    assert (await due(http, warehouse=wh))["items"] == []
    assert (await http.get("/warehouse/counts/pending", headers=OPS, params={"warehouse": wh})).json()["items"] == []
    again = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=OPS, json={"note": "again"})
    assert again.status_code == 409 and again.json()["type"] == "/problems/count-not-pending"
    rejected = await http.post(f"/warehouse/counts/{held['count_id']}/reject", headers=OPS, json={"note": "late"})
    assert rejected.status_code == 409
    assert await on_hand(http, sku, wh) == (60, 0)
    assert len(audit(sessions, sku, wh)) == 1


async def test_rejection_changes_nothing_and_a_rejected_count_cannot_be_approved(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 40)
    held = (await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 0})).json()
    assert held["status"] == "pending"
    response = await http.post(f"/warehouse/counts/{held['count_id']}/reject", headers=OPS, json={"note": "wrong shelf"})
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("status", "decided_by", "decision_note", "applied_delta")} == {
        "status": "rejected", "decided_by": "dev-ops", "decision_note": "wrong shelf", "applied_delta": None,
    }
    assert await on_hand(http, sku, wh) == (40, 0)
    assert audit(sessions, sku, wh) == []
    approve = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=OPS, json={"note": "changed my mind"})
    assert approve.status_code == 409
    assert await on_hand(http, sku, wh) == (40, 0)
    # Still due: a rejected count is not a count.
    assert [i["sku"] for i in (await due(http, warehouse=wh))["items"]] == [sku]


async def test_approval_respects_what_is_reserved_then(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 100)
    held = (await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 70})).json()
    # Orders reserve 80 units after the count: approving (100 - 30 = 70) would go below them.
    with sessions.begin() as s:
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == sku, StockLevelRow.warehouse == wh).values(reserved=80))
    response = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=OPS, json={"note": "ok"})
    assert response.status_code == 409 and response.json()["type"] == "/problems/count-below-reserved"
    assert await on_hand(http, sku, wh) == (100, 80)
    record = (await http.get(f"/warehouse/counts/{held['count_id']}", headers=OPS)).json()
    assert record["status"] == "pending"
    # Once they ship or release (reserved 60 again), the approval goes through: 70 >= 60.
    with sessions.begin() as s:
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == sku, StockLevelRow.warehouse == wh).values(reserved=60))
    response = await http.post(f"/warehouse/counts/{held['count_id']}/approve", headers=OPS, json={"note": "ok now"})
    assert response.status_code == 200, response.text
    assert await on_hand(http, sku, wh) == (70, 60)


async def test_a_recount_supersedes_a_waiting_count(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 100)
    first = (await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 50})).json()
    second = (await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 60})).json()
    assert (first["status"], second["status"]) == ("pending", "pending")
    record = (await http.get(f"/warehouse/counts/{first['count_id']}", headers=OPS)).json()
    assert (record["status"], record["decided_by"]) == ("superseded", "dev-warehouse")
    assert [p["count_id"] for p in (await http.get("/warehouse/counts/pending", headers=OPS, params={"warehouse": wh})).json()["items"]] == [
        second["count_id"]
    ]
    assert (await http.post(f"/warehouse/counts/{first['count_id']}/approve", headers=OPS, json={"note": "x"})).status_code == 409
    # A third count close to the book applies at once and supersedes the second.
    third = await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 98})
    assert third.status_code == 201 and third.json()["on_hand"] == 98
    assert (await http.get(f"/warehouse/counts/{second['count_id']}", headers=OPS)).json()["status"] == "superseded"
    assert (await http.get("/warehouse/counts/pending", headers=OPS, params={"warehouse": wh})).json()["items"] == []
    assert audit(sessions, sku, wh) == [(-2, "count", "dev-warehouse", {"counted": 98, "count_id": third.json()["count_id"]})]


async def test_hostile_counts_and_decisions(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    wh = await own_warehouse(http)
    sku = await own_sku(http, wh, 100)

    async def count(**body: Any) -> httpx.Response:
        return await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": sku, "counted": 1, **body})

    assert (await count(counted=-1)).status_code == 422
    assert (await count(counted=1.5)).status_code == 422
    assert (await count(counted=None)).status_code == 422
    assert (await count(counted=10_000_001)).status_code == 422
    assert (await count(sku="SKU-NOPE-COUNT")).status_code == 404
    assert (await count(warehouse="WH-NOPE")).status_code == 404
    assert (await count(note="")).status_code == 422
    assert (await count(extra=True)).status_code == 422
    assert (await http.post("/warehouse/counts", headers=CLIENT, json={"warehouse": wh, "sku": sku, "counted": 1})).status_code == 403
    assert await on_hand(http, sku, wh) == (100, 0)

    held = (await count(counted=10)).json()
    assert held["status"] == "pending"
    url = f"/warehouse/counts/{held['count_id']}"
    assert (await http.post(f"{url}/approve", headers=OPS, json={})).status_code == 422  # no note: no why
    assert (await http.post(f"{url}/approve", headers=OPS, json={"note": ""})).status_code == 422
    assert (await http.post(f"{url}/approve", headers=OPS, json={"note": "x" * 501})).status_code == 422
    assert (await http.post(f"{url}/reject", headers=WAREHOUSE, json={"note": "no"})).status_code == 403
    assert (await http.post("/warehouse/counts/999999999/approve", headers=OPS, json={"note": "x"})).status_code == 404
    assert (await http.post("/warehouse/counts/999999999/reject", headers=OPS, json={"note": "x"})).status_code == 404
    assert (await http.post("/warehouse/counts/abc/approve", headers=OPS, json={"note": "x"})).status_code == 422
    assert (await http.post("/warehouse/counts/0/approve", headers=OPS, json={"note": "x"})).status_code == 422
    assert (await http.get("/warehouse/counts/999999999", headers=OPS)).status_code == 404
    assert (await http.get("/warehouse/counts/pending", headers=CLIENT)).status_code == 403
    assert await on_hand(http, sku, wh) == (100, 0)
    # Below what is reserved, a count is refused as it always was (422), held or not.
    reserved = await own_sku(http, wh, 100)
    with sessions.begin() as s:
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == reserved, StockLevelRow.warehouse == wh).values(reserved=20))
    for counted in (19, 5):  # 1 off (applies at once) and 95 off (held): both refused
        refused = await http.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": wh, "sku": reserved, "counted": counted})
        assert refused.status_code == 422, refused.text
    assert await on_hand(http, reserved, wh) == (100, 20)
