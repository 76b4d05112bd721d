"""Short picks over the real stack (issue 17): `POST /warehouse/shipments/{id}/picked` with the
quantities actually picked. The parcel ships what was picked; the units not picked are released
and written off the warehouse's shelf (audit rows `short_pick`); the order reallocates them to
another warehouse or refunds them, per OMS_SHORT_PICK_POLICY. Bad lines are 422s that change
nothing."""

from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import Settings
from store.models import NotificationOutboxRow, PaymentRow, ReservationRow, StockAdjustmentRow, StockLevelRow
from tests.conftest import WAREHOUSE, eventually
from tests.integration.helpers import get_order, new_sku, order_body, order_once, submit, wait_for_shipment


async def pick(api: httpx.AsyncClient, shipment_id: str, lines: list[dict[str, Any]] | None) -> httpx.Response:
    body: dict[str, Any] = {"picker": "wang"} if lines is None else {"picker": "wang", "lines": lines}
    return await api.post(f"/warehouse/shipments/{shipment_id}/picked", headers=WAREHOUSE, json=body)


def short_events(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["detail"] for e in order["timeline"] if e["event"] == "shipment.short_picked"]


class Ledger:
    """The stock of one SKU from a starting point: what was on hand then is on hand now, or left
    through an audited adjustment since (shipped, written off by a short pick); reserved is what
    open reservations hold. Nothing is negative."""

    def __init__(self, sessions: sessionmaker[Session], sku: str) -> None:
        self.sessions, self.sku = sessions, sku
        with sessions() as s:
            self.since = s.scalar(select(func.coalesce(func.max(StockAdjustmentRow.id), 0))) or 0
        self.start = {w: on_hand for w, (on_hand, _) in self._levels().items()}

    def _levels(self) -> dict[str, tuple[int, int]]:
        with self.sessions() as s:
            rows = s.scalars(select(StockLevelRow).where(StockLevelRow.sku == self.sku))
            return {row.warehouse: (row.on_hand, row.reserved) for row in rows}

    def holds(self) -> dict[str, tuple[int, int]]:
        """{warehouse: (on_hand, reserved)}, once the invariant is checked."""
        levels = self._levels()
        with self.sessions() as s:
            deltas: Counter[str] = Counter()
            query = select(StockAdjustmentRow).where(StockAdjustmentRow.sku == self.sku, StockAdjustmentRow.id > self.since)
            for row in s.scalars(query):
                deltas[row.warehouse] += row.delta_on_hand
            held: Counter[str] = Counter()
            open_ = select(ReservationRow).where(ReservationRow.sku == self.sku, ReservationRow.status == "reserved")
            for r in s.scalars(open_):
                held[r.warehouse] += r.quantity
        for warehouse, (on_hand, reserved) in levels.items():
            assert on_hand >= 0 and reserved >= 0
            assert on_hand == self.start[warehouse] + deltas[warehouse], f"{warehouse}: {on_hand} on hand, {deltas}"
            assert reserved == held[warehouse], f"{warehouse}: reserved {reserved}, reservations hold {held[warehouse]}"
        return levels


def adjustments(sessions: sessionmaker[Session], sku: str, reason: str) -> list[tuple[str, int, dict[str, Any]]]:
    with sessions() as s:
        rows = s.scalars(
            select(StockAdjustmentRow).where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.reason == reason).order_by(StockAdjustmentRow.id)
        )
        return [(row.warehouse, row.delta_on_hand, dict(row.detail)) for row in rows]


def kinds(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    with sessions() as s:
        return [row.kind for row in s.scalars(select(NotificationOutboxRow).where(NotificationOutboxRow.order_id == order_id))]


async def test_a_short_pick_is_reallocated_to_the_other_warehouse(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 3, "WH-WEST": 5})
    order = await submit(api, order_body(sku, quantity=3))
    oid = order["order_id"]
    parcel = await wait_for_shipment(api, oid, "picking")
    assert parcel["warehouse"] == "WH-EAST"
    stock = Ledger(sessions, sku)
    assert stock.holds() == {"WH-EAST": (3, 3), "WH-WEST": (5, 0)}

    response = await pick(api, parcel["shipment_id"], [{"sku": sku, "quantity": 1}])
    assert response.status_code == 202, response.text

    current = await order_once(api, oid, lambda o: len(o["shipments"]) == 2 and bool(short_events(o)))
    first, second = current["shipments"]
    assert [(line["sku"], line["quantity"]) for line in first["lines"]] == [(sku, 1)], "ships what was picked"
    assert [(line["sku"], line["quantity"]) for line in first["short_picked"]] == [(sku, 2)]
    assert second["warehouse"] == "WH-WEST" and [(line["sku"], line["quantity"]) for line in second["lines"]] == [(sku, 2)]
    (detail,) = short_events(current)
    assert detail["handling"] == "reallocated" and detail["new"] == second["shipment_id"]
    assert detail["missing"] == [{"sku": sku, "quantity": 2}]

    await wait_for_shipment(api, oid, "label_created", 0)
    assert adjustments(sessions, sku, "short_pick") == [
        ("WH-EAST", -2, {"order_id": oid, "shipment_id": first["shipment_id"], "quantity": 2})
    ]
    levels = stock.holds()
    assert levels["WH-EAST"] == (0, 0), "1 shipped, 2 written off: the shelf did not hold them"
    assert levels["WH-WEST"] == (5, 2), "reserved for the new parcel"
    with sessions() as s:
        assert not list(s.scalars(select(PaymentRow).where(PaymentRow.order_id == oid, PaymentRow.operation == "refund")))
    await eventually(lambda: "short_picked" in kinds(sessions, oid))

    again = await pick(api, first["shipment_id"], [{"sku": sku, "quantity": 1}])
    assert again.status_code == 409, "the same pick again: the parcel is already picked"
    assert len(adjustments(sessions, sku, "short_pick")) == 1

    response = await pick(api, second["shipment_id"], None)
    assert response.status_code == 202, response.text
    await wait_for_shipment(api, oid, "label_created", 1)
    assert stock.holds()["WH-WEST"] == (3, 0)


async def test_a_short_pick_is_refunded_under_the_refund_policy(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    refunding = Settings(task_queue=settings.task_queue, short_pick_policy="refund")
    app = create_app(refunding, client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://refund.test", timeout=60) as refund_api:
        mug = await new_sku(refund_api, {"WH-EAST": 5, "WH-WEST": 5}, price="50.00")
        plate = await new_sku(refund_api, {"WH-EAST": 5}, price="20.00")
        body = order_body(mug, quantity=3, price="50.00")
        body["lines"].append({"sku": plate, "quantity": 2, "unit_price": "20.00"})
        order = await submit(refund_api, body)
    oid = order["order_id"]
    parcel = await wait_for_shipment(api, oid, "picking")
    mugs, plates = Ledger(sessions, mug), Ledger(sessions, plate)

    response = await pick(api, parcel["shipment_id"], [{"sku": mug, "quantity": 1}])  # no plate picked
    assert response.status_code == 202, response.text

    current = await order_once(api, oid, lambda o: bool(short_events(o)) and o["totals"]["refunded"] != "0.00")
    (detail,) = short_events(current)
    assert detail["handling"] == "refunded" and detail["amount"] == "140.00", "2 x 50.00 + 2 x 20.00"
    assert Decimal(current["totals"]["refunded"]) == Decimal("140.00")
    assert len(current["shipments"]) == 1, "no new parcel under the refund policy"
    with sessions() as s:
        refunds = [row.amount for row in s.scalars(select(PaymentRow).where(PaymentRow.order_id == oid, PaymentRow.operation == "refund"))]
    assert refunds == [Decimal("140.00")]
    shipped = await wait_for_shipment(api, oid, "label_created")
    assert [(line["sku"], line["quantity"]) for line in shipped["lines"]] == [(mug, 1)]
    assert mugs.holds()["WH-EAST"] == (2, 0), "1 shipped, 2 written off"
    assert plates.holds()["WH-EAST"] == (3, 0), "2 written off"
    await eventually(lambda: "short_picked" in kinds(sessions, oid))


async def test_picked_lines_that_do_not_fit_the_parcel_are_422s_that_change_nothing(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku, quantity=2))
    oid = order["order_id"]
    parcel = await wait_for_shipment(api, oid, "picking")
    url = parcel["shipment_id"]

    unknown = await pick(api, url, [{"sku": "SKU-NOT-IN-IT", "quantity": 1}])
    assert unknown.status_code == 422, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in unknown.json()["errors"]] == ["lines[0].sku"]

    too_many = await pick(api, url, [{"sku": sku, "quantity": 3}])
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["lines[0].quantity"]

    both = await pick(api, url, [{"sku": sku, "quantity": 5}, {"sku": "SKU-OTHER", "quantity": 1}])
    assert both.status_code == 422
    assert [e["field"] for e in both.json()["errors"]] == ["lines[0].quantity", "lines[1].sku"]

    negative = await pick(api, url, [{"sku": sku, "quantity": -1}])
    assert negative.status_code == 422
    assert any(e["field"] == "lines[0].quantity" for e in negative.json()["errors"])

    unchanged = await get_order(api, oid)
    assert unchanged["shipments"][0]["status"] == "picking"
    assert [(line["sku"], line["quantity"]) for line in unchanged["shipments"][0]["lines"]] == [(sku, 2)]
    assert adjustments(sessions, sku, "short_pick") == []

    exact = await pick(api, url, [{"sku": sku, "quantity": 2}])  # everything picked, listed
    assert exact.status_code == 202, exact.text
    shipped = await wait_for_shipment(api, oid, "label_created")
    assert shipped["short_picked"] == [] and adjustments(sessions, sku, "short_pick") == []
