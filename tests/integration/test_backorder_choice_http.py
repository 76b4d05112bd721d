"""The backorder choice over HTTP (issue 17): catalog substitutes (PUT/GET /catalog/{sku}) and
POST /orders/{id}/backorder-choice, over the real API, worker, Temporal and PostgreSQL, with a
client key bound to a customer of its own."""

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import DEV_API_KEYS, Settings
from tests.conftest import CLIENT, OPS, TASK_QUEUE, eventually
from tests.integration.helpers import get_order, new_sku, order_body, wait_for_status

CUSTOMER = f"cust-choice-{secrets.token_hex(4)}"
BOUND = {"X-API-Key": "choice-shop-key-0123456789ab"}


@pytest_asyncio.fixture(scope="module")
async def http(client: Client, sessions: sessionmaker[Session], worker: None) -> AsyncIterator[httpx.AsyncClient]:
    keys = f"{DEV_API_KEYS},choice-shop:client:choice-shop-key-0123456789ab:{CUSTOMER}"
    app = create_app(Settings(task_queue=TASK_QUEUE, api_keys=keys, rate_limit_per_second=0), client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test", timeout=60) as h:
        yield h


async def with_substitutes(http: httpx.AsyncClient, sku: str, substitutes: list[str]) -> httpx.Response:
    return await http.put(
        f"/catalog/{sku}", headers=OPS,
        json={"name": f"test item {sku}", "price": "99.00", "weight_grams": 400, "substitutes": substitutes},
    )


async def backordered_order(http: httpx.AsyncClient, sku: str, quantity: int = 2) -> dict[str, Any]:
    """An order of the bound key's customer for `sku` (out of stock), once it asks."""
    body = order_body(sku, quantity)
    body["customer"]["id"] = CUSTOMER
    response = await http.post("/orders", headers=BOUND, json=body)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]

    async def asking() -> dict[str, Any] | None:
        order = await get_order(http, order_id)
        return order if order["status"] == "backordered" and order.get("backorder") else None

    found: dict[str, Any] = await eventually(asking)
    return found


async def choose(http: httpx.AsyncClient, order_id: str, body: dict[str, Any], headers: dict[str, str] = BOUND) -> httpx.Response:
    return await http.post(f"/orders/{order_id}/backorder-choice", headers=headers, json=body)


async def test_catalog_items_list_known_substitutes(http: httpx.AsyncClient) -> None:
    sku, other = await new_sku(http, {"WH-EAST": 0}), await new_sku(http, {"WH-EAST": 5})
    response = await with_substitutes(http, sku, [other])
    assert response.status_code == 200, response.text
    assert response.json()["substitutes"] == [other]
    assert (await http.get(f"/catalog/{sku}", headers=CLIENT)).json()["substitutes"] == [other]

    bad = await with_substitutes(http, sku, [other, "SKU-NOBODY-KNOWS", sku, other])
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad.json()["errors"]] == ["substitutes[1]", "substitutes[2]", "substitutes[3]"]
    assert (await http.get(f"/catalog/{sku}", headers=CLIENT)).json()["substitutes"] == [other], "nothing stored"
    # Left out, an item has none (PUT replaces the item).
    plain = await http.put(f"/catalog/{other}", headers=OPS, json={"name": "plain", "price": "99.00"})
    assert plain.status_code == 200 and plain.json()["substitutes"] == []


async def test_a_customer_takes_a_substitute_for_its_backordered_order(http: httpx.AsyncClient) -> None:
    sku, substitute = await new_sku(http, {"WH-EAST": 0}), await new_sku(http, {"WH-EAST": 5}, price="150.00")
    assert (await with_substitutes(http, sku, [substitute])).status_code == 200
    order = await backordered_order(http, sku)
    assert order["backorder"]["missing"] == [{"sku": sku, "quantity": 2}]
    assert order["backorder"]["substitutes"] == {sku: [substitute]}
    assert "substitute" in order["backorder"]["choices"]
    mine = await http.get(f"/orders/{order['order_id']}", headers=BOUND)
    assert mine.json()["backorder"] == order["backorder"], "the customer reads the question too"

    response = await choose(http, order["order_id"], {"choice": "substitute", "substitutes": {sku: substitute}})

    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["status"] != "backordered" and answered["backorder"] is None
    assert answered["lines"] == [{"sku": substitute, "quantity": 2, "unit_price": "99.00"}]
    assert answered["totals"]["grand_total"] == order["totals"]["grand_total"]
    fulfilling = await wait_for_status(http, order["order_id"], "fulfilling")
    event = next(e for e in fulfilling["timeline"] if e["event"] == "backorder.chosen")
    assert event["actor"] == "choice-shop"
    assert event["detail"] == {"choice": "substitute", "substitutes": {sku: substitute}}


async def test_choices_that_do_not_apply_are_refused(http: httpx.AsyncClient) -> None:
    sku, substitute, stranger = (
        await new_sku(http, {"WH-EAST": 0}), await new_sku(http, {"WH-EAST": 0}), await new_sku(http, {"WH-EAST": 5}),
    )
    assert (await with_substitutes(http, sku, [substitute])).status_code == 200
    order = await backordered_order(http, sku)
    order_id = order["order_id"]

    not_listed = await choose(http, order_id, {"choice": "substitute", "substitutes": {sku: stranger}})
    assert not_listed.status_code == 422, not_listed.text
    assert [e["field"] for e in not_listed.json()["errors"]] == [f"substitutes.{sku}"]
    not_missing = await choose(http, order_id, {"choice": "substitute", "substitutes": {stranger: substitute}})
    assert not_missing.status_code == 422, not_missing.text
    assert [e["field"] for e in not_missing.json()["errors"]] == [f"substitutes.{stranger}", f"substitutes.{sku}"]
    unknown_choice = await choose(http, order_id, {"choice": "later"})
    assert unknown_choice.status_code == 422 and unknown_choice.json()["errors"][0]["field"] == "choice"

    out_of_stock = await choose(http, order_id, {"choice": "substitute", "substitutes": {sku: substitute}})
    assert out_of_stock.status_code == 409, out_of_stock.text
    assert out_of_stock.json()["type"] == "/problems/out-of-stock"
    unchanged = await get_order(http, order_id)
    assert unchanged["status"] == "backordered" and unchanged["lines"] == order["lines"]
    assert not [e for e in unchanged["timeline"] if e["event"] == "backorder.chosen"]

    # Another customer's key does not see the order at all; ops may answer for the customer.
    someone_else = await choose(http, order_id, {"choice": "wait"}, headers={"X-API-Key": "dev-warehouse-key"})
    assert someone_else.status_code == 403
    other_body = order_body(stranger)
    other = (await http.post("/orders", headers=CLIENT, json=other_body)).json()
    refused = await choose(http, other["order_id"], {"choice": "wait"})
    assert refused.status_code == 404, refused.text
    by_ops = await choose(http, order_id, {"choice": "wait"}, headers=OPS)
    assert by_ops.status_code == 200, by_ops.text
    assert by_ops.json()["backorder"]["chosen"] == "wait"
    assert [e["actor"] for e in by_ops.json()["timeline"] if e["event"] == "backorder.chosen"] == ["dev-ops"]

    # Not backordered (the other order is in stock): 409.
    await wait_for_status(http, other["order_id"], "fulfilling")
    not_backordered = await choose(http, other["order_id"], {"choice": "wait"}, headers=CLIENT)
    assert not_backordered.status_code == 409, not_backordered.text
    # Cancelled (its workflow may have ended): 409 too.
    assert (await http.post(f"/orders/{order_id}/cancel", headers=BOUND, json={})).status_code == 200
    after_cancel = await choose(http, order_id, {"choice": "cancel_missing"})
    assert after_cancel.status_code == 409, after_cancel.text
