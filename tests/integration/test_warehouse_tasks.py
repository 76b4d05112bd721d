"""The warehouse work queue over HTTP (`GET /warehouse/tasks`), with the real app, worker, Temporal
and PostgreSQL: parcels to pick at one warehouse, expedited first, then oldest; a held parcel is
not offered until release, a picked one leaves; returns on their way to the warehouse's dock. And
the simulator picking from it with a key table that holds no ops key.

Each test ships from a warehouse of its own (the only one stocking its SKU), so the queue it reads
holds its parcels alone."""

import asyncio
import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from devstack.simulator import Simulator
from store import projection
from tests.conftest import CLIENT, OPS, TASK_QUEUE, WAREHOUSE, eventually
from tests.integration.helpers import (
    carrier_event,
    confirm_pick,
    flagged,
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_shipment,
    wait_for_status,
)
from tests.serving import served


async def own_warehouse(api: httpx.AsyncClient) -> str:
    code = f"WH-T{secrets.token_hex(3).upper()}"
    response = await api.put(
        f"/warehouses/{code}",
        headers=OPS,
        json={"name": f"test warehouse {code}", "region": "east", "priority": 1, "daily_capacity": 500, "active": True},
    )
    assert response.status_code == 201, response.text
    return code


async def tasks(api: httpx.AsyncClient, warehouse: str, **params: Any) -> dict[str, Any]:
    response = await api.get("/warehouse/tasks", headers=WAREHOUSE, params={"warehouse": warehouse, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def queued(api: httpx.AsyncClient, warehouse: str) -> list[str]:
    return [item["shipment_id"] for item in (await tasks(api, warehouse))["items"]]


async def picking(api: httpx.AsyncClient, sku: str, **overrides: Any) -> dict[str, Any]:
    """A new order of `sku` whose parcel waits for its pick."""
    order = await submit(api, order_body(sku, **overrides))
    return await wait_for_shipment(api, order["order_id"], "picking")


async def until_queue(api: httpx.AsyncClient, warehouse: str, expected: list[str]) -> None:
    async def check() -> bool | None:
        return True if await queued(api, warehouse) == expected else None

    await eventually(check)


async def test_expedited_first_then_oldest_with_lines_and_pages(api: httpx.AsyncClient) -> None:
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 20})
    old = await picking(api, sku)
    newer = await picking(api, sku)
    rushed = await picking(api, sku, priority="expedited")
    express = await picking(api, sku, shipping_speed="express")

    body = await tasks(api, warehouse)
    items = body["items"]
    assert [i["shipment_id"] for i in items] == [
        rushed["shipment_id"], express["shipment_id"], old["shipment_id"], newer["shipment_id"],
    ]
    assert [(i["priority"], i["shipping_speed"]) for i in items] == [
        ("expedited", "standard"), ("expedited", "express"), ("normal", "standard"), ("normal", "standard"),
    ]
    assert items[0]["order_id"] == rushed["order_id"]
    assert items[0]["lines"] == [{"sku": sku, "quantity": 1}]
    since = [datetime.fromisoformat(i["since"]) for i in items]
    assert since[0] <= since[1] and since[2] <= since[3]
    assert body["next_cursor"] is None and body["returns"] == []

    first = await tasks(api, warehouse, limit=3)
    assert [i["shipment_id"] for i in first["items"]] == [i["shipment_id"] for i in items[:3]]
    rest = await tasks(api, warehouse, limit=3, cursor=first["next_cursor"])
    assert [i["shipment_id"] for i in rest["items"]] == [newer["shipment_id"]]
    assert rest["next_cursor"] is None

    forged = await api.get("/warehouse/tasks", headers=WAREHOUSE, params={"warehouse": warehouse, "cursor": "bm9wZQ"})
    assert forged.status_code == 422
    assert [e["field"] for e in forged.json()["errors"]] == ["cursor"]


async def test_a_held_parcel_is_not_offered_until_release_and_a_picked_one_leaves(api: httpx.AsyncClient) -> None:
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 10})
    held = await picking(api, sku)
    other = await picking(api, sku)
    await until_queue(api, warehouse, [held["shipment_id"], other["shipment_id"]])

    response = await api.post(
        f"/ops/orders/{held['order_id']}/actions", headers=OPS, json={"action": "hold", "note": "address check"}
    )
    assert response.status_code == 200, response.text
    await until_queue(api, warehouse, [other["shipment_id"]])

    await confirm_pick(api, other["shipment_id"])
    await until_queue(api, warehouse, [])

    response = await api.post(f"/ops/orders/{held['order_id']}/actions", headers=OPS, json={"action": "release"})
    assert response.status_code == 200, response.text
    await until_queue(api, warehouse, [held["shipment_id"]])


async def test_a_late_parcel_stays_on_the_queue(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    """Past its picking SLA the parcel needs attention for its lateness alone: the pick is what
    ends that, so the warehouse still sees it (docs/api.md)."""
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 5})
    parcel = await picking(api, sku, priority="expedited")  # expedited: the 24h picking SLA halves
    await temporal_env.fast_forward(client.get_workflow_handle(f"shipment-{parcel['shipment_id']}"), timedelta(hours=13))
    late = await eventually(lambda: flagged(api, parcel["order_id"]))
    assert "picking over its SLA of 12:00:00" in late["attention_reason"]
    assert late["shipments"][0]["attention_reason"] == "picking over its SLA of 12:00:00"
    assert await queued(api, warehouse) == [parcel["shipment_id"]]
    await confirm_pick(api, parcel["shipment_id"])
    await until_queue(api, warehouse, [])


async def test_a_parcel_waiting_for_ops_for_anything_else_is_not_offered(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """A parcel whose attention reason is anything but its late pick (here a refused projection
    row, as workflows/shipment.py records it) waits for ops, not for the warehouse. The parcel's
    row is written as the parcel would write it, a moment after its last step."""
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 5})
    parcels = [await picking(api, sku) for _ in range(3)]
    await until_queue(api, warehouse, [p["shipment_id"] for p in parcels])
    reasons = [
        "projection refused: invalid byte sequence",
        "picking over its SLA of 1 day, 0:00:00; projection refused: invalid byte sequence",
        "picking over its SLA of 1 day, 0:00:00",
    ]
    for parcel, reason in zip(parcels, reasons, strict=True):
        view = projection.shipment_by_id(sessions, parcel["shipment_id"])
        assert view is not None and view.updated_at is not None and view.status.value == "picking"
        projection.record_shipment(
            sessions,
            # The same version (its step is logged already), a microsecond later: the row wins over
            # the one it replaces, and the parcel's next step (later still) wins over it.
            view.model_copy(
                update={"attention_reason": reason, "updated_at": view.updated_at + timedelta(microseconds=1)}
            ),
        )
    assert await queued(api, warehouse) == [parcels[2]["shipment_id"]]
    await confirm_pick(api, parcels[2]["shipment_id"])
    await until_queue(api, warehouse, [])


async def test_keys_and_parameters(api: httpx.AsyncClient) -> None:
    no_key = await api.get("/warehouse/tasks", params={"warehouse": "WH-EAST"})
    assert no_key.status_code == 401
    wrong_key = await api.get("/warehouse/tasks", headers={"X-API-Key": "not-a-key-of-ours"}, params={"warehouse": "WH-EAST"})
    assert wrong_key.status_code == 401
    client_key = await api.get("/warehouse/tasks", headers=CLIENT, params={"warehouse": "WH-EAST"})
    assert client_key.status_code == 403

    missing = await api.get("/warehouse/tasks", headers=WAREHOUSE)
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in missing.json()["errors"]] == ["warehouse"]

    unknown = await api.get("/warehouse/tasks", headers=WAREHOUSE, params={"warehouse": "WH-NOWHERE"})
    assert unknown.status_code == 404

    empty = await tasks(api, await own_warehouse(api))
    assert empty == {"items": [], "next_cursor": None, "returns": []}


async def test_a_return_whose_label_is_issued_is_expected_at_its_warehouse(api: httpx.AsyncClient) -> None:
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 5})
    order = await submit(api, order_body(sku, quantity=2))
    order_id = order["order_id"]
    parcel = await ship_to_carrier(api, order_id)
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "delivered")
    await wait_for_status(api, order_id, "delivered")

    response = await api.post(
        f"/orders/{order_id}/returns", headers=CLIENT,
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "no_longer_needed"},
    )
    assert response.status_code == 201, response.text
    rma_id = response.json()["rma_id"]

    async def expected() -> list[dict[str, Any]] | None:
        returns: list[dict[str, Any]] = (await tasks(api, warehouse))["returns"]
        return returns or None

    (entry,) = await eventually(expected)
    assert {k: entry[k] for k in ("rma_id", "order_id", "lines")} == {
        "rma_id": rma_id, "order_id": order_id, "lines": [{"sku": sku, "quantity": 1}],
    }
    current = next(r for r in (await get_order(api, order_id))["returns"] if r["rma_id"] == rma_id)
    assert current["status"] == "in_transit" and current["tracking_number"]
    assert all(r["rma_id"] != rma_id for r in (await tasks(api, "WH-EAST"))["returns"])

    received = await api.post(
        f"/returns/{rma_id}/received", headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
    )
    assert received.status_code == 202, received.text

    async def gone() -> bool | None:
        return True if (await tasks(api, warehouse))["returns"] == [] else None

    await eventually(gone)


async def test_the_simulator_picks_from_the_queue_without_an_ops_key(
    api: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    """The simulator's key table holds a warehouse key and nothing else: it finds the parcel on
    its warehouse's queue and picks it; a held parcel it leaves alone."""
    warehouse = await own_warehouse(api)
    sku = await new_sku(api, {warehouse: 10})
    held = await picking(api, sku)
    response = await api.post(
        f"/ops/orders/{held['order_id']}/actions", headers=OPS, json={"action": "hold", "note": "wait"}
    )
    assert response.status_code == 200, response.text
    waiting = await picking(api, sku)
    await until_queue(api, warehouse, [waiting["shipment_id"]])

    async with served(create_app(Settings(task_queue=TASK_QUEUE), client=client, sessions=sessions)) as url:
        settings = Settings(
            api_keys="dev-warehouse:warehouse:dev-warehouse-key", api_url=url, simulator_speed=3600
        )
        simulator = Simulator(settings)
        assert simulator.tracking_key is None  # no ops key, no client key: it plays no carrier
        await asyncio.to_thread(simulator.tick, 0.0)
        actions = await asyncio.to_thread(simulator.tick, 2.0)  # one step (a simulated hour) later
        simulator.client.close()

    picked = [a.shipment_id for a in actions if a.kind == "pick"]
    assert waiting["shipment_id"] in picked and held["shipment_id"] not in picked
    await wait_for_shipment(api, waiting["order_id"], "label_created")
    assert (await get_order(api, held["order_id"]))["shipments"][0]["status"] == "picking"
