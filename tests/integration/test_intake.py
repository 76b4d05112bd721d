"""Submission: validation with every bad field named, idempotency, duplicates, auth, concurrency.
A bad request starts no workflow and changes no stock."""

import asyncio
import copy
import secrets

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from tests.conftest import CLIENT, OPS, WAREHOUSE
from tests.integration.helpers import (
    new_sku,
    order_body,
    stock_of,
    submit,
    wait_for_status,
)


async def assert_no_workflow(client: Client, order_id: str) -> None:
    with pytest.raises(RPCError):
        await client.get_workflow_handle(f"order-{order_id}").describe()


async def test_repeating_a_submission_returns_the_first_answer(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    first = await api.post("/orders", headers=CLIENT, json=body)
    assert first.status_code == 201
    again = await api.post("/orders", headers=CLIENT, json=body)
    assert again.status_code == 200
    assert again.json() == first.json()

    changed = copy.deepcopy(body)
    changed["lines"][0]["quantity"] = 2
    conflict = await api.post("/orders", headers=CLIENT, json=changed)
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "/problems/idempotency-conflict"
    await wait_for_status(api, body["order_id"], "fulfilling")
    assert (await stock_of(api, sku))["reserved"] == 1


async def test_concurrent_duplicates_make_one_workflow(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    responses = await asyncio.gather(*(api.post("/orders", headers=CLIENT, json=body) for _ in range(10)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 9 + [201]
    assert len({r.text for r in responses}) == 1, "every repeat gets the same answer"
    runs = [wf async for wf in client.list_workflows(f"WorkflowId = 'order-{body['order_id']}'")]
    assert len(runs) <= 1  # visibility may lag; the reservation below is the real proof
    await wait_for_status(api, body["order_id"], "fulfilling")
    assert (await stock_of(api, sku))["reserved"] == 1


async def test_idempotency_key_header_names_one_order(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    del body["order_id"]
    key = secrets.token_hex(8)
    first = await api.post("/orders", headers={**CLIENT, "Idempotency-Key": key}, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["order_id"].startswith("ORD-")
    again = await api.post("/orders", headers={**CLIENT, "Idempotency-Key": key}, json=body)
    assert again.status_code == 200
    assert again.json()["order_id"] == first.json()["order_id"]
    body["notes"] = "a different order"
    conflict = await api.post("/orders", headers={**CLIENT, "Idempotency-Key": key}, json=body)
    assert conflict.status_code == 409


async def test_channel_order_number_is_recognised_as_duplicate(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    channel_order_id = f"TM-{secrets.token_hex(4)}"
    first = await submit(api, order_body(sku, channel="marketplace", channel_order_id=channel_order_id))
    second_body = order_body(sku, channel="marketplace", channel_order_id=channel_order_id)
    response = await api.post("/orders", headers=CLIENT, json=second_body)
    assert response.status_code == 409
    assert response.json()["order_id"] == first["order_id"]
    await assert_no_workflow(client, second_body["order_id"])


@pytest.mark.parametrize(
    ("mutate", "fields"),
    [
        (lambda b: b["customer"].pop("email"), {"customer.email"}),
        (lambda b: b["lines"][0].update(quantity=0), {"lines[0].quantity"}),
        (lambda b: b.update(channel="fax"), {"channel"}),
        (lambda b: b.update(surprise=True), {"surprise"}),
        (lambda b: b["lines"][0].update(unit_price="1.00"), {"lines[0].unit_price"}),
        (lambda b: b["lines"][0].update(sku="NO-SUCH-SKU"), {"lines[0].sku"}),
        (lambda b: b["shipping_address"].update(postal_code="12"), {"shipping_address.postal_code"}),
        (lambda b: b.update(lines=[]), {"lines"}),
        (lambda b: (b["customer"].update(email="nope"), b.update(currency="cny")), {"customer.email", "currency"}),
        (lambda b: b.update(payment={"method": "card"}), {"payment.token"}),
    ],
)
async def test_bad_input_is_refused_with_every_field_named(
    api: httpx.AsyncClient, client: Client, mutate, fields: set[str]  # type: ignore[no-untyped-def]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    mutate(body)
    response = await api.post("/orders", headers=CLIENT, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= problem.keys()
    assert {error["field"] for error in problem["errors"]} == fields
    await assert_no_workflow(client, body["order_id"])
    assert (await stock_of(api, sku))["reserved"] == 0


async def test_malformed_json_is_a_problem_not_a_crash(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders", headers={**CLIENT, "Content-Type": "application/json"}, content=b"{nope")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_keys_and_roles_are_enforced(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    assert (await api.post("/orders", json=order_body(sku))).status_code == 401
    assert (await api.post("/orders", headers={"X-API-Key": "wrong"}, json=order_body(sku))).status_code == 401
    assert (await api.post("/orders", headers=WAREHOUSE, json=order_body(sku))).status_code == 403
    forbidden = await api.put(f"/catalog/{sku}", headers=CLIENT, json={"name": "x", "price": "1.00"})
    assert forbidden.status_code == 403
    assert forbidden.json()["status"] == 403
    assert (await api.post("/warehouse/shipments/nope/picked", headers=CLIENT, json={})).status_code == 403
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/orders/unknown-order", headers=OPS)).status_code == 404


async def test_thirty_concurrent_orders_for_ten_units_never_oversell(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 10})
    bodies = [order_body(sku) for _ in range(30)]
    responses = await asyncio.gather(*(api.post("/orders", headers=CLIENT, json=b) for b in bodies))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]

    async def settled(order_id: str) -> str:
        while True:
            status = (await api.get(f"/orders/{order_id}", headers=CLIENT)).json()["status"]
            if status in ("fulfilling", "backordered"):
                return status
            await asyncio.sleep(0.05)

    outcomes = await asyncio.wait_for(asyncio.gather(*(settled(b["order_id"]) for b in bodies)), 120)
    assert outcomes.count("fulfilling") == 10
    assert outcomes.count("backordered") == 20, "the rest wait for stock; none is oversold"
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (10, 10, 0)


async def test_readiness_and_metrics(api: httpx.AsyncClient) -> None:
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"database": "up", "temporal": "up"}
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert 'oms_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text
    assert "oms_orders_submitted_total" in metrics.text


async def test_receipts_and_counts_adjust_stock_with_the_discrepancy(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-WEST": 5})
    receipt = await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-WEST", "sku": sku, "quantity": 50})
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["on_hand"] == 55
    count = await api.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": "WH-WEST", "sku": sku, "counted": 47})
    assert count.status_code == 201
    assert count.json()["discrepancy"] == -8
    assert (await stock_of(api, sku, "WH-WEST"))["on_hand"] == 47
    unknown = await api.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": "WH-NOPE", "sku": sku, "counted": 1})
    assert unknown.status_code == 404
    assert (await api.post("/warehouse/receipts", headers=CLIENT, json={"warehouse": "WH-WEST", "sku": sku, "quantity": 1})).status_code == 403


async def test_money_is_a_decimal_string_not_a_float(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["lines"][0]["unit_price"] = 99.0
    response = await api.post("/orders", headers=CLIENT, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lines[0].unit_price"]
    body["lines"][0]["unit_price"] = "99"
    accepted = await api.post("/orders", headers=CLIENT, json=body)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["lines"][0]["unit_price"] == "99.00"
