"""Access control and data leaks (issue 14): a client key reads nothing of another caller's order
through POST /orders' repeat paths, learns no order id and blocks no channel order id through a
409, and reads orders and timelines without ops' notes, key names, risk codes or internal reasons.
Over the real API, worker, Temporal and PostgreSQL, with a key bound to a customer of its own."""

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import DEV_API_KEYS, Settings
from domain import ids
from store.models import ApiIdempotencyRow
from tests.conftest import CLIENT, OPS, TASK_QUEUE, eventually
from tests.integration.helpers import new_sku, order_body

CUST_A = f"cust-a-{secrets.token_hex(4)}"
STORE_CUSTOMER = secrets.randbelow(10**9)  # the storefront maps its customer 123 to `shop-123`
BOUND = {"X-API-Key": "leaks-shop-a-key-0123456789ab"}
NOTE = f"ops-only-note-{secrets.token_hex(4)}"
STOREFRONT_ORDER = (Path(__file__).parents[1] / "data" / "storefront_order.json").read_text(encoding="utf-8")


@pytest_asyncio.fixture(scope="module")
async def http(client: Client, sessions: sessionmaker[Session], worker: None) -> AsyncIterator[httpx.AsyncClient]:
    keys = f"{DEV_API_KEYS},leaks-shop-a:client:leaks-shop-a-key-0123456789ab:{CUST_A}|shop-{STORE_CUSTOMER}"
    app = create_app(Settings(task_queue=TASK_QUEUE, api_keys=keys, rate_limit_per_second=0), client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test", timeout=60) as h:
        yield h


def mine(sku: str, **overrides: Any) -> dict[str, Any]:
    """An order body of the bound key's own customer."""
    body = order_body(sku, **overrides)
    body["customer"]["id"] = CUST_A
    return body


async def ended(http: httpx.AsyncClient, client: Client, order: dict[str, Any]) -> None:
    """Cancel the order and wait until its workflow has closed (a repeat then reads the projection)."""
    response = await http.post(f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={"reason": "test"})
    assert response.status_code == 200, response.text

    async def closed() -> bool:
        description = await client.get_workflow_handle(order["workflow_id"]).describe()
        return description.close_time is not None

    await eventually(closed)


def assert_tells_nothing_of(response: httpx.Response, order: dict[str, Any]) -> None:
    text = response.text
    for secret in (order["customer"]["email"], order["customer"]["id"], order["customer"]["name"], order["workflow_id"]):
        assert secret not in text, (secret, text)


# --- finding 1: every read path checks the customer, repeats included -----------------------


async def test_a_bound_key_cannot_read_an_ended_order_by_posting_its_id(http: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku)
    del body["order_id"]  # a generated id: the victim never chose it, the attacker only saw it
    body["customer"]["email"] = f"victim-{secrets.token_hex(3)}@example.com"
    victim = (await http.post("/orders", headers={**CLIENT, "Idempotency-Key": secrets.token_hex(8)}, json=body)).json()
    await ended(http, client, victim)

    probe = await http.post("/orders", headers=BOUND, json=mine(sku, order_id=victim["order_id"]))
    assert probe.status_code == 409, probe.text
    assert probe.json()["type"] == "/problems/idempotency-conflict"
    assert_tells_nothing_of(probe, victim)
    assert (await http.get(f"/orders/{victim['order_id']}", headers=BOUND)).status_code == 404


async def test_naming_a_running_order_id_blocks_neither_the_order_nor_its_owner(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku)
    del body["order_id"]
    key = secrets.token_hex(8)
    first = await http.post("/orders", headers={**CLIENT, "Idempotency-Key": key}, json=body)
    assert first.status_code == 201, first.text
    victim = first.json()

    probe = await http.post("/orders", headers=BOUND, json=mine(sku, order_id=victim["order_id"]))
    assert probe.status_code == 409, probe.text
    assert_tells_nothing_of(probe, victim)
    # The probe claimed nothing: the owner's repeat by the id it was given still answers.
    again = await http.post("/orders", headers=CLIENT, json={**body, "order_id": victim["order_id"]})
    assert again.status_code == 200, again.text
    assert again.json()["order_id"] == victim["order_id"]


def forget_claim(sessions: sessionmaker[Session], order_id: str) -> None:
    """Make the order look like one from before every order held its id's claim."""
    with sessions.begin() as session:
        session.execute(delete(ApiIdempotencyRow).where(ApiIdempotencyRow.key == ids.api_order_key(order_id)))


def claim_of(sessions: sessionmaker[Session], order_id: str) -> str | None:
    with sessions() as session:
        return session.scalar(
            select(ApiIdempotencyRow.request_hash).where(ApiIdempotencyRow.key == ids.api_order_key(order_id))
        )


async def test_orders_from_before_the_claims_are_neither_read_nor_blocked(
    http: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    """No claim row to meet: the workflow (while it runs) or the customer check (once it ended)
    refuses the probe, and the probe's own claim is dropped again."""
    sku = await new_sku(http, {"WH-EAST": 5})
    running, finished = order_body(sku), order_body(sku)
    for body in (running, finished):
        del body["order_id"]
    orders = []
    for body in (running, finished):
        response = await http.post("/orders", headers={**CLIENT, "Idempotency-Key": secrets.token_hex(8)}, json=body)
        assert response.status_code == 201, response.text
        orders.append(response.json())
    await ended(http, client, orders[1])
    for body, order in zip((running, finished), orders, strict=True):
        forget_claim(sessions, order["order_id"])
        probe = await http.post("/orders", headers=BOUND, json=mine(sku, order_id=order["order_id"]))
        assert probe.status_code == 409, probe.text
        assert_tells_nothing_of(probe, order)
        assert claim_of(sessions, order["order_id"]) is None, "the probe's claim was dropped"
        again = await http.post("/orders", headers=CLIENT, json={**body, "order_id": order["order_id"]})
        assert again.status_code == 200, again.text
        assert again.json()["order_id"] == order["order_id"]


# --- finding 2: a 409 names nothing of another's, and no one blocks another's channel --------


async def test_a_bound_key_learns_no_order_id_from_a_duplicate_channel_order(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    channel_order_id = f"TM-{secrets.token_hex(4)}"
    shop = await http.post("/orders", headers=CLIENT, json=order_body(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert shop.status_code == 201, shop.text

    bound = await http.post("/orders", headers=BOUND, json=mine(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert shop.json()["order_id"] not in bound.text
    assert bound.status_code == 201, "a bound key's channel order ids are its own: no 409 to learn from"
    # Within its own scope the duplicate rule holds, and names its own first order.
    duplicate = await http.post("/orders", headers=BOUND, json=mine(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["type"] == "/problems/duplicate-channel-order"
    assert duplicate.json()["order_id"] == bound.json()["order_id"]


async def test_a_bound_key_cannot_block_the_shops_later_channel_order(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    channel_order_id = f"TM-{secrets.token_hex(4)}"  # the number the marketplace will send next
    squat = await http.post("/orders", headers=BOUND, json=mine(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert squat.status_code == 201, squat.text

    shop = await http.post("/orders", headers=CLIENT, json=order_body(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert shop.status_code == 201, shop.text
    assert squat.json()["order_id"] not in shop.text
    # The shop's own duplicate is still one order, and the shop is told which.
    again = await http.post("/orders", headers=CLIENT, json=order_body(sku, channel="marketplace", channel_order_id=channel_order_id))
    assert again.status_code == 409 and again.json()["order_id"] == shop.json()["order_id"]


async def test_channel_intake_from_a_bound_key_neither_learns_nor_blocks(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5})
    payload = json.loads(STOREFRONT_ORDER)
    payload["id"] = secrets.randbelow(10**12)
    payload["customer"]["id"] = STORE_CUSTOMER
    payload["line_items"] = [{"sku": sku, "quantity": 1, "price": "99.00"}]
    bound = await http.post("/channels/storefront/orders", headers=BOUND, json=payload)
    assert bound.status_code == 201, bound.text
    shop = await http.post("/channels/storefront/orders", headers=CLIENT, json=payload)
    assert shop.status_code == 201, shop.text
    assert bound.json()["order_id"] not in shop.text
    assert (await http.post("/channels/storefront/orders", headers=BOUND, json=payload)).json()["order_id"] == (
        bound.json()["order_id"]
    ), "each caller's repeat answers with its own order"


# --- finding 3: client keys read no ops notes, key names, risk codes or internal reasons ------

LEAKS = (NOTE, "dev-ops", "high_value", "review threshold", "blocklist")


def assert_client_facing(document: Any) -> None:
    text = json.dumps(document)
    for leak in LEAKS:
        assert leak not in text, (leak, text)


async def test_client_keys_read_a_held_order_without_ops_internals(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 5}, price="6000.00")
    body = mine(sku, price="6000.00")
    submitted = await http.post("/orders", headers=BOUND, json=body)
    assert submitted.status_code == 201, submitted.text
    held = submitted.json()
    assert held["status"] == "on_hold"
    assert_client_facing(held)
    assert held["hold"]["reason"] == "on hold for review" and held["hold"]["codes"] == []
    assert held["available_actions"] == []

    order_id = held["order_id"]
    noted = await http.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": "note", "note": NOTE})
    assert noted.status_code == 200, noted.text
    assert NOTE in noted.text and "high_value" in noted.text, "ops see everything"

    for headers in (BOUND, CLIENT):
        order = (await http.get(f"/orders/{order_id}", headers=headers)).json()
        assert_client_facing(order)
        note = next(e for e in order["timeline"] if e["event"] == "ops.note")
        assert (note["actor"], note["detail"]) == ("ops", {})
        timeline = (await http.get(f"/orders/{order_id}/timeline", headers=headers)).json()
        assert_client_facing(timeline)
        assert [e["event"] for e in timeline] == [e["event"] for e in order["timeline"]], "every entry stays"
        listed = (await http.get("/orders", headers=headers, params={"customer_id": CUST_A, "limit": 200})).json()
        assert_client_facing(listed)
        assert order_id in {o["order_id"] for o in listed["items"]}
    repeat = await http.post("/orders", headers=BOUND, json=body)
    assert repeat.status_code == 200, repeat.text
    assert_client_facing(repeat.json())

    ops_view = (await http.get(f"/orders/{order_id}", headers=OPS)).json()
    assert ops_view["hold"]["codes"] == ["high_value"]
    assert any(e["actor"] == "dev-ops" and e["detail"].get("note") == NOTE for e in ops_view["timeline"])

    rejected = await http.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": "reject", "note": NOTE})
    assert rejected.status_code == 200, rejected.text

    async def cancelled() -> dict[str, Any] | None:
        order = (await http.get(f"/orders/{order_id}", headers=BOUND)).json()
        return order if order["status"] == "cancelled" else None

    order = await eventually(cancelled)
    assert order["cancellation_reason"] == "rejected on review"
    assert_client_facing(order)
    assert (await http.get(f"/orders/{order_id}", headers=OPS)).json()["cancellation_reason"] == f"rejected on review: {NOTE}"
    # A repeat of the ended order (read from the projection) is the client's copy too.
    ended_repeat = await http.post("/orders", headers=BOUND, json=body)
    assert ended_repeat.status_code == 200, ended_repeat.text
    assert_client_facing(ended_repeat.json())


async def test_a_clients_own_cancellation_reads_as_it_wrote_it(http: httpx.AsyncClient) -> None:
    sku = await new_sku(http, {"WH-EAST": 0})  # backordered: waits, so the cancel lands before any parcel
    order = (await http.post("/orders", headers=BOUND, json=mine(sku))).json()
    response = await http.post(f"/orders/{order['order_id']}/cancel", headers=BOUND, json={"reason": "changed my mind"})
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["cancellation_reason"] == "changed my mind"
    event = next(e for e in cancelled["timeline"] if e["event"] == "order.cancelled")
    assert (event["actor"], event["detail"]) == ("leaks-shop-a", {"reason": "changed my mind"})
    assert_client_facing(cancelled)
