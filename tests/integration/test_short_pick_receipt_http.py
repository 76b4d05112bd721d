"""A receipt wakes a backordered short pick over the real stack (short-pick-wakes-on-receipt-
20261202): under OMS_SHORT_PICK_POLICY=backorder the missing lines wait, listed in the order's
`short_waits`; `POST /warehouse/receipts` of their SKU at the other warehouse wakes the order
(`woken`), and the missing lines ship at once as a new parcel, long before the backorder's
deadline."""

from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import Settings
from tests.conftest import WAREHOUSE, eventually
from tests.integration.helpers import get_order, new_sku, order_body, order_once, submit, wait_for_shipment
from tests.integration.test_short_pick_http import kinds, pick


async def test_a_receipt_at_the_other_warehouse_ships_the_backordered_shortfall(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    backordering = Settings(task_queue=settings.task_queue, short_pick_policy="backorder")
    app = create_app(backordering, client=client, sessions=sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bo.test", timeout=60
    ) as bo_api:
        sku = await new_sku(bo_api, {"WH-EAST": 3, "WH-WEST": 0})
        order = await submit(bo_api, order_body(sku, quantity=3))
    oid = order["order_id"]
    parcel = await wait_for_shipment(api, oid, "picking")
    assert parcel["warehouse"] == "WH-EAST"

    response = await pick(api, parcel["shipment_id"], [{"sku": sku, "quantity": 1}])
    assert response.status_code == 202, response.text
    waiting = await order_once(api, oid, lambda o: bool(o["short_waits"]))
    (wait,) = waiting["short_waits"]
    assert wait["shipment_id"] == parcel["shipment_id"] and wait["missing"] == [{"sku": sku, "quantity": 2}]
    assert len(waiting["shipments"]) == 1

    receipt = await api.post(
        "/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-WEST", "sku": sku, "quantity": 5}
    )
    assert receipt.status_code == 201, receipt.text
    (woken,) = receipt.json()["woken"]
    assert woken["order_id"] == oid and woken["reserved"] is True

    current = await order_once(api, oid, lambda o: len(o["shipments"]) == 2 and not o["short_waits"])
    second = current["shipments"][1]
    assert second["warehouse"] == "WH-WEST" and [
        (line["sku"], line["quantity"]) for line in second["lines"]
    ] == [(sku, 2)]
    ended = next(e for e in current["timeline"] if e["event"] == "short_pick.backorder_ended")
    assert ended["detail"]["handling"] == "reallocated" and ended["detail"]["new"] == second["shipment_id"]
    assert datetime.fromisoformat(ended["at"]) < datetime.fromisoformat(wait["until"]), "before the deadline"
    await wait_for_shipment(api, oid, "picking", 1)
    await eventually(lambda: kinds(sessions, oid).count("short_picked") == 2)

    again = await api.post(
        "/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-WEST", "sku": sku, "quantity": 1}
    )
    assert again.status_code == 201 and again.json()["woken"] == [], "nothing waits for it any more"
    assert (await get_order(api, oid))["short_waits"] == []
