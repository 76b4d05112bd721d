"""The operations API (queue and actions), address changes and backorder wake-ups, over the
real app, worker, Temporal and PostgreSQL."""

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import CLIENT, OPS, WAREHOUSE, eventually
from tests.integration.helpers import (
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)

NEW_ADDRESS = {
    "name": "Han Meimei", "line1": "88 West Lake Road", "line2": "Room 5", "city": "Hangzhou",
    "region": "ZJ", "postal_code": "310007", "country": "CN", "phone": "+8613900000000",
}


async def act(api: httpx.AsyncClient, order_id: str, action: str, **body: Any) -> httpx.Response:
    return await api.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": action, **body})


async def test_ops_endpoints_need_an_ops_key(api: httpx.AsyncClient) -> None:
    assert (await api.get("/ops/orders")).status_code == 401
    assert (await api.get("/ops/orders", headers=CLIENT)).status_code == 403
    assert (await api.get("/ops/orders", headers=WAREHOUSE)).status_code == 403
    refused = await api.post("/ops/orders/ANY/actions", headers=CLIENT, json={"action": "note", "note": "x"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await api.post("/ops/orders/ANY/actions", json={"action": "note"})).status_code == 401
    assert (await api.get("/ops/orders", headers=OPS)).status_code == 200


async def test_actions_on_unknown_orders_and_bad_bodies(api: httpx.AsyncClient) -> None:
    unknown = await act(api, "NO-SUCH-ORDER", "note", note="hello")
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404

    extra = await act(api, "NO-SUCH-ORDER", "note", note="hello", actor="someone else")
    assert extra.status_code == 422
    assert [e["field"] for e in extra.json()["errors"]] == ["actor"]

    bad_kind = await act(api, "NO-SUCH-ORDER", "explode")
    assert bad_kind.status_code == 422
    assert [e["field"] for e in bad_kind.json()["errors"]] == ["action"]

    too_long = await act(api, "NO-SUCH-ORDER", "note", note="x" * 2001)
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["note"]

    not_a_dict = await act(api, "NO-SUCH-ORDER", "retry", params=["swift"])
    assert not_a_dict.status_code == 422

    no_carrier = await act(api, "NO-SUCH-ORDER", "reroute", params={})
    assert no_carrier.status_code == 422
    assert [e["field"] for e in no_carrier.json()["errors"]] == ["params.carrier"]

    bad_filter = await api.get("/ops/orders?status=stuck", headers=OPS)
    assert bad_filter.status_code == 422


async def test_an_action_on_a_finished_order_is_a_conflict(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 2})
    order = await submit(api, order_body(sku))
    await wait_for_shipment(api, order["order_id"], "picking")
    cancelled = await api.post(f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={"reason": "test"})
    assert cancelled.status_code == 200, cancelled.text

    async def workflow_done() -> httpx.Response | None:
        response = await act(api, order["order_id"], "approve")
        return response if response.status_code == 409 else None

    refused = await eventually(workflow_done)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 409


async def test_stuck_order_is_in_the_ops_queue_with_reason_and_age(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"  # the carriers refuse the label
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    from tests.integration.helpers import confirm_pick

    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")

    async def listed() -> dict[str, Any] | None:
        response = await api.get("/ops/orders?needs_attention=true&limit=500", headers=OPS)
        assert response.status_code == 200, response.text
        return next((i for i in response.json()["items"] if i["order_id"] == order["order_id"]), None)

    item = await eventually(listed)
    assert set(item) == {
        "order_id", "status", "needs_attention", "reason", "since", "age_seconds", "available_actions",
        "customer_id", "total", "workflow_id",
    }
    assert item["needs_attention"] is True
    assert item["reason"]
    assert item["customer_id"] == order["customer"]["id"]
    assert item["total"] == order["totals"]["grand_total"]
    assert item["workflow_id"] == f"order-{order['order_id']}"
    since = datetime.fromisoformat(item["since"])
    assert 0 <= item["age_seconds"] <= (datetime.now(UTC) - since).total_seconds() + 1

    everything = (await api.get("/ops/orders?limit=500", headers=OPS)).json()["items"]
    assert order["order_id"] in [i["order_id"] for i in everything]
    created = [(await get_order(api, i["order_id"]))["created_at"] for i in everything[-3:]]
    assert created == sorted(created)  # oldest first
    held = (await api.get("/ops/orders?status=on_hold&limit=500", headers=OPS)).json()["items"]
    assert order["order_id"] not in [i["order_id"] for i in held]


async def test_note_goes_into_the_timeline_with_the_ops_actor(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_shipment(api, order["order_id"], "picking")
    await wait_for_status(api, order["order_id"], "fulfilling")

    response = await act(api, order["order_id"], "note", note="customer called about gift wrap")
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["order_id"] == order["order_id"]
    assert after["status"] == "fulfilling"

    async def noted() -> dict[str, Any] | None:
        entries = (await api.get(f"/orders/{order['order_id']}/timeline", headers=OPS)).json()
        return next((e for e in entries if e["actor"] == "dev-ops"), None)

    entry = await eventually(noted)
    assert "customer called about gift wrap" in json.dumps(entry)


async def test_address_changes_until_the_label_is_bought(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_shipment(api, order["order_id"], "picking")
    path = f"/orders/{order['order_id']}/shipping-address"

    invalid = await api.patch(path, headers=CLIENT, json={**NEW_ADDRESS, "postal_code": "12345"})
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == ["postal_code"]
    extra = await api.patch(path, headers=CLIENT, json={**NEW_ADDRESS, "floor": 3})
    assert extra.status_code == 422
    assert [e["field"] for e in extra.json()["errors"]] == ["floor"]
    assert (await api.patch("/orders/NO-SUCH-ORDER/shipping-address", headers=CLIENT, json=NEW_ADDRESS)).status_code == 404
    assert (await api.patch(path, json=NEW_ADDRESS)).status_code == 401
    assert (await api.patch(path, headers=WAREHOUSE, json=NEW_ADDRESS)).status_code == 403

    changed = await api.patch(path, headers=CLIENT, json=NEW_ADDRESS)
    assert changed.status_code == 200, changed.text
    assert changed.json()["shipping_address"] == NEW_ADDRESS

    async def projected() -> dict[str, Any] | None:
        current = await get_order(api, order["order_id"])
        return current if current["shipping_address"] == NEW_ADDRESS else None

    await eventually(projected)

    await ship_to_carrier(api, order["order_id"])
    locked = await api.patch(path, headers=CLIENT, json={**NEW_ADDRESS, "line1": "1 Other Road"})
    assert locked.status_code == 409
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert (await get_order(api, order["order_id"]))["shipping_address"] == NEW_ADDRESS


async def test_receipt_without_backorders_wakes_nobody(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 1})
    receipt = await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-EAST", "sku": sku, "quantity": 4})
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["on_hand"] == 5
    assert receipt.json()["woken"] == []


async def test_receipts_fill_backorders_first_come_first_served(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 0})
    first = await submit(api, order_body(sku, quantity=2))
    await wait_for_status(api, first["order_id"], "backordered")
    second = await submit(api, order_body(sku, quantity=2))
    await wait_for_status(api, second["order_id"], "backordered")

    receipt = await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-EAST", "sku": sku, "quantity": 3})
    assert receipt.status_code == 201, receipt.text
    woken = receipt.json()["woken"]
    assert [(w["order_id"], w["reserved"]) for w in woken] == [(first["order_id"], True), (second["order_id"], False)]
    assert woken[0]["status"] != "backordered"
    assert woken[1]["status"] == "backordered"
    assert (await stock_of(api, sku))["reserved"] == 2

    receipt = await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-EAST", "sku": sku, "quantity": 1})
    assert [(w["order_id"], w["reserved"]) for w in receipt.json()["woken"]] == [(second["order_id"], True)]
    await wait_for_shipment(api, second["order_id"], "picking")
