"""Replenishment over HTTP against real PostgreSQL (issue 19, deliverable 1): reorder rules (CRUD,
validation naming every bad field, audit rows), the proposal on a hand-made data set with every
figure exact, and transfers between warehouses (both legs audited, 409 when short, 422 for bad
fields, idempotent by Idempotency-Key, concurrent transfers never overdraw, low-stock crossings).

The API runs in-process on the session's database; these routes need no Temporal, so none is started.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from api.app import create_app
from config.settings import Settings
from domain.models import OrderLine
from store.models import (
    NotificationOutboxRow,
    ReorderRuleRow,
    ReservationRow,
    StockAdjustmentRow,
    StockLevelRow,
    StockTransferRow,
)
from tests.conftest import CLIENT, OPS, WAREHOUSE

EAST, WEST = "WH-EAST", "WH-WEST"


@pytest_asyncio.fixture
async def http(sessions: sessionmaker[Session]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000)
    app = create_app(settings, sessions=sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test", timeout=60
    ) as client:
        yield client


async def new_sku(http: httpx.AsyncClient, **levels: dict[str, int]) -> str:
    """A SKU of the test's own; `levels` maps a warehouse to its PUT /inventory body."""
    sku = f"SKU-R-{secrets.token_hex(4).upper()}"
    r = await http.put(f"/catalog/{sku}", headers=OPS, json={"name": f"replenishment {sku}", "price": "10.00"})
    assert r.status_code == 201, r.text
    for warehouse, body in levels.items():
        r = await http.put(f"/inventory/{sku}/{warehouse.replace('_', '-')}", headers=OPS, json=body)
        assert r.status_code == 200, r.text
    return sku


def adjustments(sessions: sessionmaker[Session], sku: str, *reasons: str) -> list[StockAdjustmentRow]:
    with sessions() as s:
        query = select(StockAdjustmentRow).where(StockAdjustmentRow.sku == sku).order_by(StockAdjustmentRow.id)
        if reasons:
            query = query.where(StockAdjustmentRow.reason.in_(reasons))
        return list(s.scalars(query).all())


def level(sessions: sessionmaker[Session], sku: str, warehouse: str) -> StockLevelRow | None:
    with sessions() as s:
        return s.get(StockLevelRow, {"sku": sku, "warehouse": warehouse})


# ---------------------------------------------------------------- reorder rules


async def test_reorder_rule_crud_is_audited(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(http)
    url = f"/inventory/reorder-rules/{sku}/{EAST}"

    r = await http.put(url, headers=OPS, json={"minimum": 10, "maximum": 50, "lead_time_days": 6})
    assert r.status_code == 201, r.text
    assert r.json() | {"updated_at": None} == {
        "sku": sku, "warehouse": EAST, "minimum": 10, "maximum": 50, "lead_time_days": 6,
        "updated_by": "dev-ops", "updated_at": None,
    }
    r = await http.put(url, headers=OPS, json={"minimum": 5, "maximum": 5, "lead_time_days": 0})
    assert r.status_code == 200, r.text
    assert (r.json()["minimum"], r.json()["maximum"], r.json()["lead_time_days"]) == (5, 5, 0)

    r = await http.get(url, headers=OPS)
    assert r.status_code == 200 and r.json()["maximum"] == 5
    await http.put(f"/inventory/reorder-rules/{sku}/{WEST}", headers=OPS, json={"minimum": 1, "maximum": 2, "lead_time_days": 3})
    r = await http.get("/inventory/reorder-rules", headers=OPS, params={"sku": sku})
    assert [(x["warehouse"], x["minimum"]) for x in r.json()] == [(EAST, 5), (WEST, 1)]
    r = await http.get("/inventory/reorder-rules", headers=OPS, params={"sku": sku, "warehouse": WEST})
    assert [x["warehouse"] for x in r.json()] == [WEST]

    r = await http.delete(url, headers=OPS)
    assert r.status_code == 204
    assert (await http.get(url, headers=OPS)).status_code == 404
    again = await http.delete(url, headers=OPS)
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"

    audit = [(a.warehouse, a.reason, a.delta_on_hand, a.actor, a.detail) for a in adjustments(
        sessions, sku, "reorder_rule_set", "reorder_rule_deleted")]
    assert audit == [
        (EAST, "reorder_rule_set", 0, "dev-ops", {"minimum": 10, "maximum": 50, "lead_time_days": 6, "previous": None}),
        (EAST, "reorder_rule_set", 0, "dev-ops", {
            "minimum": 5, "maximum": 5, "lead_time_days": 0,
            "previous": {"minimum": 10, "maximum": 50, "lead_time_days": 6}}),
        (WEST, "reorder_rule_set", 0, "dev-ops", {"minimum": 1, "maximum": 2, "lead_time_days": 3, "previous": None}),
        (EAST, "reorder_rule_deleted", 0, "dev-ops", {"previous": {"minimum": 5, "maximum": 5, "lead_time_days": 0}}),
    ]


async def test_a_bad_rule_names_every_bad_field_and_writes_nothing(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    r = await http.put(
        "/inventory/reorder-rules/SKU-NOPE-404/WH-NOWHERE",
        headers=OPS,
        json={"minimum": -1, "maximum": -5, "lead_time_days": -2},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/invalid-request"
    assert [e["field"] for e in r.json()["errors"]] == ["sku", "warehouse", "minimum", "maximum", "lead_time_days"]

    sku = await new_sku(http)
    r = await http.put(f"/inventory/reorder-rules/{sku}/{EAST}", headers=OPS, json={"minimum": 9, "maximum": 8, "lead_time_days": 400})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["maximum", "lead_time_days"]
    for body, field in (
        ({"minimum": 1, "maximum": 2}, "lead_time_days"),
        ({"minimum": "1", "maximum": 2, "lead_time_days": 1, "extra": 1}, "extra"),
        ({"minimum": 10**12, "maximum": 2, "lead_time_days": 1}, "minimum"),
        ({"minimum": 1.5, "maximum": 2, "lead_time_days": 1}, "minimum"),
    ):
        r = await http.put(f"/inventory/reorder-rules/{sku}/{EAST}", headers=OPS, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    r = await http.put(f"/inventory/reorder-rules/bad%20sku/{EAST}", headers=OPS, json={"minimum": 1, "maximum": 2, "lead_time_days": 1})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["sku"]

    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReorderRuleRow).where(ReorderRuleRow.sku == sku)) == 0
    assert adjustments(sessions, sku, "reorder_rule_set") == []


async def test_only_ops_touch_rules_proposals_and_transfers(http: httpx.AsyncClient) -> None:
    for key in (CLIENT, WAREHOUSE):
        assert (await http.get("/inventory/reorder-rules", headers=key)).status_code == 403
        assert (await http.get("/inventory/replenishment", headers=key)).status_code == 403
        body = {"sku": "X", "from_warehouse": EAST, "to_warehouse": WEST, "quantity": 1}
        assert (await http.post("/inventory/transfers", headers=key, json=body)).status_code == 403
    assert (await http.get("/inventory/replenishment")).status_code == 401


# ---------------------------------------------------------------- the proposal, on a hand-made data set


def _hand_made(sessions: sessionmaker[Session], a: str) -> None:
    """SKU `a` at WH-EAST: on_hand 40, reserved 22 (two open reservations: 12 made 5 days ago,
    10 made 40 days ago), a reservation of 7 released 3 days ago, shipments of 9 (3 days ago) and
    20 (12 days ago), one of 30 45 days ago (outside the window), a voided label putting 4 back 2
    days ago, a receipt of 50 yesterday (not demand). At WH-WEST: 100 shipped yesterday."""
    with sessions.begin() as s:
        now = s.execute(select(func.now())).scalar_one()
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == a, StockLevelRow.warehouse == EAST).values(reserved=22))
        s.execute(
            insert(ReservationRow),
            [
                {"order_id": f"{a}-o1", "sku": a, "warehouse": EAST, "quantity": 12, "status": "reserved",
                 "created_at": now - timedelta(days=5), "updated_at": now - timedelta(days=5)},
                {"order_id": f"{a}-o2", "sku": a, "warehouse": EAST, "quantity": 10, "status": "reserved",
                 "created_at": now - timedelta(days=40), "updated_at": now - timedelta(days=40)},
                {"order_id": f"{a}-o3", "sku": a, "warehouse": EAST, "quantity": 7, "status": "released",
                 "created_at": now - timedelta(days=4), "updated_at": now - timedelta(days=3)},
                {"order_id": f"{a}-o4", "sku": a, "warehouse": EAST, "quantity": 9, "status": "shipped",
                 "created_at": now - timedelta(days=6), "updated_at": now - timedelta(days=3)},
            ],
        )
        s.execute(
            insert(StockAdjustmentRow),
            [
                {"sku": a, "warehouse": EAST, "delta_on_hand": -9, "reason": "shipment", "actor": "orderflow",
                 "detail": {}, "at": now - timedelta(days=3)},
                {"sku": a, "warehouse": EAST, "delta_on_hand": -20, "reason": "shipment", "actor": "orderflow",
                 "detail": {}, "at": now - timedelta(days=12)},
                {"sku": a, "warehouse": EAST, "delta_on_hand": -30, "reason": "shipment", "actor": "orderflow",
                 "detail": {}, "at": now - timedelta(days=45)},
                {"sku": a, "warehouse": EAST, "delta_on_hand": 4, "reason": "restock_cancelled_label",
                 "actor": "orderflow", "detail": {}, "at": now - timedelta(days=2)},
                {"sku": a, "warehouse": EAST, "delta_on_hand": 50, "reason": "receipt", "actor": "dock",
                 "detail": {}, "at": now - timedelta(days=1)},
                {"sku": a, "warehouse": WEST, "delta_on_hand": -100, "reason": "shipment", "actor": "orderflow",
                 "detail": {}, "at": now - timedelta(days=1)},
            ],
        )


async def test_the_proposal_is_exact_on_a_hand_made_data_set(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    a = await new_sku(http, WH_EAST={"on_hand": 40, "safety_stock": 2}, WH_WEST={"on_hand": 100})
    b = await new_sku(http)  # a rule, no stock level at all
    _hand_made(sessions, a)
    for sku, warehouse, rule in (
        (a, EAST, {"minimum": 10, "maximum": 50, "lead_time_days": 6}),
        (a, WEST, {"minimum": 0, "maximum": 5, "lead_time_days": 0}),
        (b, EAST, {"minimum": 3, "maximum": 7, "lead_time_days": 10}),
    ):
        r = await http.put(f"/inventory/reorder-rules/{sku}/{warehouse}", headers=OPS, json=rule)
        assert r.status_code == 201, r.text

    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": a})
    assert r.status_code == 200, r.text
    # shipped 9 + 20 - 4 = 25; reserved in the window and held: 12; demand 37 over 30 days;
    # lead-time demand ceil(37 x 6 / 30) = ceil(7.4) = 8; reorder at 10 + 8 = 18; unreserved
    # 40 - 22 = 18 is at it: order up to 50 + 8 = 58, that is 40 more.
    assert r.json()["items"] == [
        {
            "sku": a, "warehouse": EAST, "minimum": 10, "maximum": 50, "lead_time_days": 6,
            "on_hand": 40, "reserved": 22, "unreserved": 18, "safety_stock": 2, "open_reservations": 2,
            "demand_window_days": 30, "shipped": 25, "reserved_recently": 12, "demand": 37,
            "daily_demand": "1.233", "lead_time_demand": 8, "reorder_at": 18, "order_up_to": 58,
            "needed": True, "proposed_quantity": 40,
        }
    ]
    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": a, "all": "true"})
    west = [row for row in r.json()["items"] if row["warehouse"] == WEST]
    assert [(w["shipped"], w["demand"], w["lead_time_demand"], w["reorder_at"], w["needed"], w["proposed_quantity"])
            for w in west] == [(100, 100, 0, 0, False, 0)]

    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": b})
    row = r.json()["items"][0]
    assert (row["on_hand"], row["unreserved"], row["demand"], row["lead_time_demand"], row["reorder_at"],
            row["order_up_to"], row["proposed_quantity"]) == (0, 0, 0, 0, 3, 7, 7)

    # One more unit free lifts it over the reorder point: nothing needed, and left out by default.
    with sessions.begin() as s:
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == a, StockLevelRow.warehouse == EAST).values(on_hand=41))
    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": a})
    assert r.json()["items"] == []
    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": a, "warehouse": EAST, "all": "true"})
    assert [(x["unreserved"], x["needed"], x["proposed_quantity"]) for x in r.json()["items"]] == [(19, False, 0)]


async def test_demand_counts_what_the_inventory_reserved_and_shipped(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """The audit reasons the proposal reads are the ones the inventory adapter writes."""
    sku = await new_sku(http, WH_EAST={"on_hand": 30})
    inventory = SqlInventory(sessions)
    inventory.reserve(f"{sku}-A", [OrderLine(sku=sku, quantity=4, unit_price=Decimal("10.00"))], "east")
    inventory.reserve(f"{sku}-B", [OrderLine(sku=sku, quantity=6, unit_price=Decimal("10.00"))], "east")
    inventory.reserve(f"{sku}-C", [OrderLine(sku=sku, quantity=5, unit_price=Decimal("10.00"))], "east")
    inventory.ship(f"{sku}-A", EAST)
    inventory.release(f"{sku}-C")
    await http.put(f"/inventory/reorder-rules/{sku}/{EAST}", headers=OPS, json={"minimum": 20, "maximum": 40, "lead_time_days": 15})
    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": sku})
    [row] = r.json()["items"]
    # on_hand 26, reserved 6; demand 4 shipped + 6 held = 10; ceil(10 x 15 / 30) = 5
    assert (row["on_hand"], row["reserved"], row["unreserved"], row["open_reservations"], row["shipped"],
            row["reserved_recently"], row["demand"], row["lead_time_demand"], row["reorder_at"],
            row["proposed_quantity"]) == (26, 6, 20, 1, 4, 6, 10, 5, 25, 25)


async def test_replenishment_and_rules_do_not_shadow_a_sku(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 3})
    r = await http.get(f"/inventory/{sku}", headers=OPS)
    assert r.status_code == 200 and r.json()["available"] == 3
    r = await http.get("/inventory/replenishment", headers=OPS, params={"sku": "SKU-NO-RULE"})
    assert r.status_code == 200 and r.json()["items"] == []


# ---------------------------------------------------------------- transfers


def _transfer(sku: str, quantity: int, source: str = EAST, to: str = WEST, **extra: Any) -> dict[str, Any]:
    return {"sku": sku, "from_warehouse": source, "to_warehouse": to, "quantity": quantity, **extra}


async def test_a_transfer_moves_unreserved_stock_with_both_legs_audited(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 10, "reorder_point": 2}, WH_WEST={"on_hand": 0, "reorder_point": 5})
    SqlInventory(sessions).reserve(f"{sku}-A", [OrderLine(sku=sku, quantity=3, unit_price=Decimal("10.00"))], "east")
    west_before = level(sessions, sku, WEST)
    assert west_before is not None and west_before.low_stock_alerted  # 0 <= 5

    r = await http.post("/inventory/transfers", headers=OPS, json=_transfer(sku, 7, note="rebalance\nfor the sale"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body | {"transfer_id": 0, "at": None} == {
        "transfer_id": 0, "sku": sku, "from_warehouse": EAST, "to_warehouse": WEST, "quantity": 7,
        "note": "rebalance\nfor the sale", "actor": "dev-ops", "at": None,
        "source": {"warehouse": EAST, "on_hand": 3, "reserved": 3, "unreserved": 0, "available": 0},
        "destination": {"warehouse": WEST, "on_hand": 7, "reserved": 0, "unreserved": 7, "available": 7},
        "woken": [],
    }
    legs = [(a.warehouse, a.reason, a.delta_on_hand, a.actor, a.detail) for a in adjustments(
        sessions, sku, "transfer_out", "transfer_in")]
    detail = {"transfer_id": body["transfer_id"], "from_warehouse": EAST, "to_warehouse": WEST,
              "note": "rebalance\nfor the sale"}
    assert legs == [(EAST, "transfer_out", -7, "dev-ops", detail), (WEST, "transfer_in", 7, "dev-ops", detail)]

    # Low stock follows the crossing rules: EAST went from 7 to 0 available (<= 2): one alert;
    # WEST rose from 0 to 7 (> 5): re-armed.
    east, west = level(sessions, sku, EAST), level(sessions, sku, WEST)
    assert east is not None and east.low_stock_alerted and east.low_stock_crossings == 1
    assert west is not None and not west.low_stock_alerted
    with sessions() as s:
        alerts = s.scalars(
            select(NotificationOutboxRow.dedupe_key).where(
                NotificationOutboxRow.kind == "low_stock", NotificationOutboxRow.dedupe_key.like(f"lowstock:{sku}:%")
            ).order_by(NotificationOutboxRow.id)
        ).all()
    assert len([k for k in alerts if EAST in k]) == 1

    r = await http.get("/inventory/transfers", headers=OPS, params={"sku": sku})
    assert [t["transfer_id"] for t in r.json()] == [body["transfer_id"]]
    r = await http.get(f"/inventory/{sku}", headers=OPS)
    assert {w["warehouse"]: w["on_hand"] for w in r.json()["warehouses"]} == {EAST: 3, WEST: 7}


async def test_a_transfer_beyond_the_unreserved_stock_is_409_and_moves_nothing(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 10, "safety_stock": 2})
    SqlInventory(sessions).reserve(f"{sku}-A", [OrderLine(sku=sku, quantity=3, unit_price=Decimal("10.00"))], "east")
    r = await http.post("/inventory/transfers", headers=OPS, json=_transfer(sku, 8))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/out-of-stock"
    assert (r.json()["unreserved"], r.json()["requested"]) == (7, 8)
    # From a warehouse with no level of the SKU at all.
    r = await http.post("/inventory/transfers", headers=OPS, json=_transfer(sku, 1, source=WEST, to=EAST))
    assert r.status_code == 409 and r.json()["unreserved"] == 0

    east = level(sessions, sku, EAST)
    assert east is not None and (east.on_hand, east.reserved) == (10, 3)
    assert level(sessions, sku, WEST) is None
    assert adjustments(sessions, sku, "transfer_out", "transfer_in") == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StockTransferRow).where(StockTransferRow.sku == sku)) == 0
    # Safety stock is unreserved: it may move (the level then alerts as low).
    r = await http.post("/inventory/transfers", headers=OPS, json=_transfer(sku, 7))
    assert r.status_code == 201, r.text
    assert r.json()["source"] == {"warehouse": EAST, "on_hand": 3, "reserved": 3, "unreserved": 0, "available": 0}


async def test_bad_transfers_name_every_bad_field(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 10})
    inactive = f"WH-T-{secrets.token_hex(3).upper()}"
    r = await http.put(f"/warehouses/{inactive}", headers=OPS, json={"name": "closed", "region": "east", "active": False})
    assert r.status_code == 201, r.text

    async def fields(body: dict[str, Any]) -> list[str]:
        r = await http.post("/inventory/transfers", headers=OPS, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["type"] == "/problems/invalid-request"
        return [e["field"] for e in r.json()["errors"]]

    assert await fields(_transfer("SKU-NOPE-404", -3, source="WH-NOPE", to="WH-NOPE")) == [
        "sku", "from_warehouse", "to_warehouse", "quantity"]
    assert await fields(_transfer(sku, 0, source=EAST, to=EAST)) == ["to_warehouse", "quantity"]
    assert await fields(_transfer(sku, 1, to=inactive)) == ["to_warehouse"]
    assert await fields(_transfer(sku, 10**9)) == ["quantity"]
    assert await fields(_transfer(sku, 1, note="bad\x00note")) == ["note"]
    assert await fields(_transfer(sku, 1, note="x" * 501)) == ["note"]
    assert await fields({"sku": sku, "from_warehouse": EAST, "to_warehouse": WEST, "quantity": "two", "from": EAST}) == [
        "quantity", "from"]
    assert await fields({"sku": sku}) == ["from_warehouse", "to_warehouse", "quantity"]
    assert await fields(_transfer("bad sku", 1)) == ["sku"]
    east = level(sessions, sku, EAST)
    assert east is not None and east.on_hand == 10
    assert adjustments(sessions, sku, "transfer_out", "transfer_in") == []
    # From an inactive warehouse is allowed (emptying it); there is just nothing there.
    r = await http.post("/inventory/transfers", headers=OPS, json=_transfer(sku, 1, source=inactive, to=EAST))
    assert r.status_code == 409


async def test_a_transfer_is_idempotent_by_its_key(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 10})
    key = {**OPS, "Idempotency-Key": f"move-{sku}"}
    first = await http.post("/inventory/transfers", headers=key, json=_transfer(sku, 4))
    assert first.status_code == 201, first.text
    repeat = await http.post("/inventory/transfers", headers=key, json=_transfer(sku, 4))
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == first.json()
    other = await http.post("/inventory/transfers", headers=key, json=_transfer(sku, 5))
    assert other.status_code == 409 and other.json()["type"] == "/problems/idempotency-conflict"
    # Concurrent repeats under a fresh key: one transfer.
    key2 = {**OPS, "Idempotency-Key": f"move2-{sku}"}
    answers = await asyncio.gather(*(http.post("/inventory/transfers", headers=key2, json=_transfer(sku, 1)) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["transfer_id"] for a in answers}) == 1

    east, west = level(sessions, sku, EAST), level(sessions, sku, WEST)
    assert east is not None and west is not None and (east.on_hand, west.on_hand) == (5, 5)
    assert len(adjustments(sessions, sku, "transfer_out")) == 2


async def test_concurrent_transfers_never_overdraw(http: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(http, WH_EAST={"on_hand": 10}, WH_WEST={"on_hand": 4})
    # Eight ask for 3 from EAST (only three can have it) while four move 1 back the other way.
    requests = [_transfer(sku, 3) for _ in range(8)] + [_transfer(sku, 1, source=WEST, to=EAST) for _ in range(4)]
    answers = await asyncio.gather(*(http.post("/inventory/transfers", headers=OPS, json=b) for b in requests))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    assert statuses[8:] == [201] * 4  # WEST always had its 4 (plus whatever arrived)
    out_ok = statuses[:8].count(201)
    # EAST had 10 plus up to 4 coming back: at least 3 and at most 4 of the 3-unit moves fit.
    assert 3 <= out_ok <= 4
    east, west = level(sessions, sku, EAST), level(sessions, sku, WEST)
    assert east is not None and west is not None
    assert east.on_hand == 10 - 3 * out_ok + 4 and west.on_hand == 4 + 3 * out_ok - 4
    assert east.on_hand >= 0 and west.on_hand >= 0 and east.on_hand + west.on_hand == 14
    deltas = {EAST: 0, WEST: 0}
    for a in adjustments(sessions, sku, "transfer_out", "transfer_in"):
        deltas[a.warehouse] += a.delta_on_hand
    assert deltas == {EAST: east.on_hand - 10, WEST: west.on_hand - 4}


async def test_a_transfer_that_loses_a_deadlock_starts_again(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """Another transaction locks the SKU's levels the other way round (as an ops `move` to
    WH-WEST does: the destination first). PostgreSQL aborts the transfer, whose deadlock check
    runs first (this side waits 10 s before checking); the transfer starts again and succeeds."""
    import threading

    from sqlalchemy import text

    from store.transfers import TransferRequest, transfer_stock

    sku = await new_sku(http, WH_EAST={"on_hand": 10}, WH_WEST={"on_hand": 10})
    request = TransferRequest(sku=sku, from_warehouse=EAST, to_warehouse=WEST, quantity=2, note=None, actor="test")
    results: list[Any] = []
    with sessions.begin() as s:
        s.execute(text("SET LOCAL deadlock_timeout = '10s'"))
        lock = select(StockLevelRow).where(StockLevelRow.sku == sku).with_for_update()
        s.execute(lock.where(StockLevelRow.warehouse == WEST)).all()
        mover = threading.Thread(target=lambda: results.append(transfer_stock(sessions, request)))
        mover.start()

        def waiting() -> bool:  # the transfer holds EAST and waits for WEST
            with sessions() as other:
                return bool(other.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active'"
                )))

        for _ in range(200):
            if waiting():
                break
            await asyncio.sleep(0.02)
        s.execute(lock.where(StockLevelRow.warehouse == EAST)).all()  # the cycle: the transfer is aborted
        s.execute(update(StockLevelRow).where(StockLevelRow.sku == sku, StockLevelRow.warehouse == WEST).values(on_hand=11))
    mover.join(timeout=30)
    assert not mover.is_alive()
    [(result, created)] = results
    assert created and result["source"]["on_hand"] == 8 and result["destination"]["on_hand"] == 13
    assert len(adjustments(sessions, sku, "transfer_out")) == 1


async def test_a_transfer_wakes_the_orders_waiting_for_the_sku(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """Stock of a closed (inactive) warehouse is never allocated: an order for it backorders.
    Moving it to an active warehouse wakes the order, as a receipt there would (the whole stack)."""
    from tests.integration.helpers import order_body, submit, wait_for_shipment, wait_for_status

    closed = f"WH-T-{secrets.token_hex(3).upper()}"
    r = await api.put(f"/warehouses/{closed}", headers=OPS, json={"name": "closing", "region": "east", "active": False})
    assert r.status_code == 201, r.text
    sku = await new_sku(api, WH_EAST={"on_hand": 0})
    r = await api.put(f"/inventory/{sku}/{closed}", headers=OPS, json={"on_hand": 5})
    assert r.status_code == 200, r.text
    order = await submit(api, order_body(sku, quantity=2, price="10.00"))
    await wait_for_status(api, order["order_id"], "backordered")

    key = {**OPS, "Idempotency-Key": f"empty-{closed}"}
    r = await api.post("/inventory/transfers", headers=key, json=_transfer(sku, 3, source=closed, to=EAST))
    assert r.status_code == 201, r.text
    assert r.json()["woken"] == [{"order_id": order["order_id"], "reserved": True, "status": "allocating"}]
    await wait_for_shipment(api, order["order_id"], "picking")
    east = level(sessions, sku, EAST)
    assert east is not None and (east.on_hand, east.reserved) == (3, 2)
    repeat = await api.post("/inventory/transfers", headers=key, json=_transfer(sku, 3, source=closed, to=EAST))
    assert repeat.status_code == 200 and repeat.json() == r.json()


# ---------------------------------------------------------------- `oms ops` over the served API


@pytest_asyncio.fixture(scope="session")
async def replen_api_url(
    settings: Settings, client: Any, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[str]:
    from tests.serving import served

    async with served(create_app(settings, client=client, sessions=sessions)) as url:
        yield url


async def oms_ops(api_url: str, *args: str) -> Any:
    from typer.testing import CliRunner

    from cli import app as oms

    argv = ["ops", *args, "--api-url", api_url, "--api-key", "dev-ops-key"]
    return await asyncio.to_thread(CliRunner().invoke, oms, argv, env={"COLUMNS": "240"})


async def test_rules_proposals_and_transfers_through_the_cli(
    api: httpx.AsyncClient, replen_api_url: str, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, WH_EAST={"on_hand": 12}, WH_WEST={"on_hand": 1})
    result = await oms_ops(replen_api_url, "reorder-rule", sku, WEST, "--min", "4", "--max", "9", "--lead-time", "3")
    assert result.exit_code == 0, result.output
    assert f"reorder rule {sku} at {WEST}: min 4, max 9, lead time 3 d" in result.output

    result = await oms_ops(replen_api_url, "replenishment", "--sku", sku)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if sku in line)
    # unreserved 1 <= reorder at 4 + 0: order up to 9, that is 8
    assert [c.strip() for c in row.split("│") if c.strip()] == [
        sku, WEST, "4", "9", "3", "1", "0", "1", "0", "0", "4", "9", "8"]

    result = await oms_ops(replen_api_url, "transfer", sku, "8", "--from", EAST, "--to", WEST, "--note", "[red]top up[/red]",
                           "--idempotency-key", f"cli-{sku}")
    assert result.exit_code == 0, result.output
    assert f"8 x {sku} {EAST} -> {WEST}; {EAST} on hand 4 (4 unreserved), {WEST} on hand 9" in result.output
    again = await oms_ops(replen_api_url, "transfer", sku, "8", "--from", EAST, "--to", WEST, "--note", "[red]top up[/red]",
                          "--idempotency-key", f"cli-{sku}")
    assert again.exit_code == 0 and f"{WEST} on hand 9" in again.output
    short = await oms_ops(replen_api_url, "transfer", sku, "5", "--from", EAST, "--to", WEST)
    assert short.exit_code == 1 and "(409)" in short.output and "4 unreserved units" in short.output
    bad = await oms_ops(replen_api_url, "transfer", sku, "0", "--from", EAST, "--to", EAST)
    assert bad.exit_code == 1 and "to_warehouse: must differ" in bad.output and "quantity: must be 1 or more" in bad.output
    assert len(adjustments(sessions, sku, "transfer_out")) == 1
    with sessions() as s:
        note = s.scalar(select(StockTransferRow.note).where(StockTransferRow.sku == sku))
    assert note == "[red]top up[/red]"
