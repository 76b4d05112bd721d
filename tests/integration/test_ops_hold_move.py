"""Ops hold, release and move over HTTP, with the real app, worker, Temporal and PostgreSQL: a held
order's parcel is not picked until release (the warehouse's confirmation is kept), a parcel not yet
picked moves to another warehouse with its stock (reserved moves, on_hand stays), and the actions
that do not apply are 409 problem details."""

import re
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from config.settings import Settings
from tests.conftest import OPS, eventually
from tests.integration.helpers import (
    carrier_event,
    confirm_pick,
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)
from tests.integration.test_console_http import KEYS, UI, console, sign_in


async def act(api: httpx.AsyncClient, order_id: str, action: str, **body: Any) -> httpx.Response:
    return await api.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": action, **body})


def _ops_events(order: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["event"], e["actor"]) for e in order["timeline"] if e["event"].startswith("ops.")]


async def test_a_held_order_is_not_picked_until_release_then_ships(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    parcel = await wait_for_shipment(api, order_id, "picking")
    assert "hold" in (await get_order(api, order_id))["available_actions"]

    no_note = await act(api, order_id, "hold")
    assert no_note.status_code == 422
    assert [e["field"] for e in no_note.json()["errors"]] == ["note"]

    held = await act(api, order_id, "hold", note="customer asked to wait")
    assert held.status_code == 200, held.text
    body = held.json()
    assert body["status"] == "fulfilling"
    assert {k: body["hold"][k] for k in ("reason", "by")} == {
        "reason": "customer asked to wait",
        "by": "dev-ops",
    }
    assert "release" in body["available_actions"] and "hold" not in body["available_actions"]

    await confirm_pick(api, parcel["shipment_id"])  # accepted and kept, not applied
    again = await act(api, order_id, "note", note="checking the parcel stays put")
    assert again.status_code == 200
    assert (await get_order(api, order_id))["shipments"][0]["status"] == "picking"
    assert (await stock_of(api, sku))["on_hand"] == 4, "no label, no stock shipped during the hold"

    released = await act(api, order_id, "release")
    assert released.status_code == 200, released.text
    assert released.json()["hold"] is None
    labelled = await wait_for_shipment(api, order_id, "label_created")
    assert (await stock_of(api, sku))["on_hand"] == 3
    await carrier_event(api, labelled["carrier"], labelled["tracking_number"], "in_transit")
    shipped = await wait_for_status(api, order_id, "shipped")
    assert _ops_events(shipped) == [
        ("ops.hold", "dev-ops"),
        ("ops.note", "dev-ops"),
        ("ops.release", "dev-ops"),
    ]


async def test_hold_after_hand_over_and_release_without_hold_are_conflicts(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    await wait_for_shipment(api, order_id, "picking")

    no_hold = await act(api, order_id, "release")
    assert no_hold.status_code == 409
    assert no_hold.headers["content-type"].startswith("application/problem+json")
    assert no_hold.json()["type"] == "/problems/action-not-applicable"

    shipment = await ship_to_carrier(api, order_id)
    await carrier_event(api, shipment["carrier"], shipment["tracking_number"], "in_transit")
    shipped = await wait_for_status(api, order_id, "shipped")
    assert "hold" not in shipped["available_actions"] and "move" not in shipped["available_actions"]

    late = await act(api, order_id, "hold", note="too late")
    assert late.status_code == 409
    assert "with the carrier" in late.json()["detail"]
    assert _ops_events(await get_order(api, order_id)) == []


async def test_a_parcel_moves_to_a_warehouse_with_the_stock(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 3})
    order = await submit(api, order_body(sku, quantity=2))
    order_id = order["order_id"]
    parcel = await wait_for_shipment(api, order_id, "picking")
    assert parcel["warehouse"] == "WH-EAST"
    response = await api.put(f"/inventory/{sku}/WH-WEST", headers=OPS, json={"on_hand": 5})
    assert response.status_code == 200, response.text
    east, west = await stock_of(api, sku, "WH-EAST"), await stock_of(api, sku, "WH-WEST")
    assert (east["on_hand"], east["reserved"], west["on_hand"], west["reserved"]) == (3, 2, 5, 0)

    bad = await act(api, order_id, "move", params={"shipment_id": parcel["shipment_id"]})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["params.warehouse"]

    moved = await act(
        api,
        order_id,
        "move",
        note="east is flooded",
        params={"shipment_id": parcel["shipment_id"], "warehouse": "WH-WEST"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["shipments"][0]["warehouse"] == "WH-WEST"
    east, west = await stock_of(api, sku, "WH-EAST"), await stock_of(api, sku, "WH-WEST")
    assert (east["on_hand"], east["reserved"], west["on_hand"], west["reserved"]) == (3, 0, 5, 2), (
        "stock conserved"
    )

    async def at_west() -> dict[str, Any] | None:
        shipment = (await get_order(api, order_id))["shipments"][0]
        return shipment if shipment["warehouse"] == "WH-WEST" and shipment["status"] == "picking" else None

    await eventually(at_west)
    await confirm_pick(api, parcel["shipment_id"])
    await wait_for_shipment(api, order_id, "label_created")
    east, west = await stock_of(api, sku, "WH-EAST"), await stock_of(api, sku, "WH-WEST")
    assert (east["on_hand"], east["reserved"], west["on_hand"], west["reserved"]) == (3, 0, 3, 0)
    entry = [e for e in (await get_order(api, order_id))["timeline"] if e["event"] == "ops.move"]
    assert len(entry) == 1 and entry[0]["actor"] == "dev-ops" and entry[0]["detail"]["from"] == "WH-EAST"


async def test_a_move_to_a_warehouse_without_the_stock_is_a_conflict(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 3, "WH-WEST": 1})
    order = await submit(api, order_body(sku, quantity=2))
    order_id = order["order_id"]
    parcel = await wait_for_shipment(api, order_id, "picking")
    assert parcel["warehouse"] == "WH-EAST"

    refused = await act(
        api, order_id, "move", params={"shipment_id": parcel["shipment_id"], "warehouse": "WH-WEST"}
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/out-of-stock"
    assert "WH-WEST has 1 of" in refused.json()["detail"]
    east, west = await stock_of(api, sku, "WH-EAST"), await stock_of(api, sku, "WH-WEST")
    assert (east["reserved"], west["reserved"]) == (2, 0)
    after = await get_order(api, order_id)
    assert after["shipments"][0]["warehouse"] == "WH-EAST" and _ops_events(after) == []


async def test_the_console_order_page_offers_hold_and_move_and_applies_them(
    api: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 3, "WH-WEST": 3})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    parcel = await wait_for_shipment(api, order_id, "picking")
    other = "WH-WEST" if parcel["warehouse"] == "WH-EAST" else "WH-EAST"
    async with console(Settings(api_keys=KEYS), client, sessions) as http:
        assert (await sign_in(http, "dev-ops-key")).status_code == 303
        page = await http.get(f"{UI}/orders/{order_id}")
        assert page.status_code == 200
        assert '<option value="hold">' in page.text and '<option value="move">' in page.text
        assert f'<option value="{parcel["shipment_id"]}">' in page.text and 'name="warehouse"' in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None

        async def post(**form: str) -> None:
            answer = await http.post(
                f"{UI}/orders/{order_id}/actions",
                data={"csrf_token": token.group(1), "next": "order", **form},
            )
            assert answer.status_code == 303, answer.text

        await post(action="move", shipment_id=parcel["shipment_id"], warehouse=other)
        await post(action="hold", note="wait for the customer")
    after = await get_order(api, order_id)
    assert after["shipments"][0]["warehouse"] == other
    assert after["hold"]["by"] == "dev-ops" and "release" in after["available_actions"]
    assert [e for e, _ in _ops_events(after)] == ["ops.move", "ops.hold"]
