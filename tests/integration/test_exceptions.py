"""Exception orders (R2, R5, R9, R15): holds, backorders, stuck steps and amendments, each ending
in the right state with the right compensations, and every ops action recorded with its actor."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from store.models import NotificationOutboxRow, PaymentRow
from tests.conftest import CLIENT, OPS, WAREHOUSE, eventually
from tests.integration.helpers import (
    cleared,
    confirm_pick,
    flagged,
    get_order,
    new_sku,
    order_body,
    order_once,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)


async def act(api: httpx.AsyncClient, order_id: str, action: str, **body: Any) -> httpx.Response:
    return await api.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": action, **body})


def outbox_kinds(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(NotificationOutboxRow.kind).where(NotificationOutboxRow.order_id == order_id)))


def operations(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(PaymentRow.operation).where(PaymentRow.order_id == order_id)))


# --- verification holds ----------------------------------------------------------------


async def test_high_value_order_is_held_listed_and_approved(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="6000.00")
    held = await submit(api, order_body(sku, price="6000.00"), **OPS)  # ops read the hold's codes
    assert held["status"] == "on_hold", "the answer to the submission is the hold"
    assert held["hold"]["codes"] == ["high_value"]
    assert set(held["available_actions"]) >= {"approve", "reject", "request_info", "cancel", "note"}
    assert (await stock_of(api, sku))["reserved"] == 0, "nothing is reserved or charged while held"

    listed = (await api.get("/ops/orders?status=on_hold", headers=OPS)).json()["items"]
    entry = next(item for item in listed if item["order_id"] == held["order_id"])
    assert "review threshold" in entry["reason"]
    assert entry["age_seconds"] >= 0
    await eventually(lambda: "on_hold" in outbox_kinds(sessions, held["order_id"]))  # the customer is told we are checking

    retry = await act(api, held["order_id"], "retry")
    assert retry.status_code == 409, "retry does not apply to a hold"
    approved = await act(api, held["order_id"], "approve", note="called the customer")
    assert approved.status_code == 200, approved.text
    await wait_for_shipment(api, held["order_id"], "picking")
    order = await order_once(api, held["order_id"], lambda o: o["status"] == "fulfilling")
    approval = next(e for e in order["timeline"] if e["event"] == "ops.approve")
    assert approval["actor"] == "dev-ops"
    assert approval["detail"]["note"] == "called the customer"
    assert order["hold"] is None
    assert operations(sessions, held["order_id"]) == ["authorize", "capture"]


async def test_rejected_hold_cancels_without_charging(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="6000.00")
    held = await submit(api, order_body(sku, price="6000.00"))
    info = await act(api, held["order_id"], "request_info", note="please confirm the address")
    assert info.status_code == 200
    await eventually(lambda: "info_requested" in outbox_kinds(sessions, held["order_id"]))
    rejected = await act(api, held["order_id"], "reject", note="fraud pattern")
    assert rejected.status_code == 200
    cancelled = await wait_for_status(api, held["order_id"], "cancelled")
    assert cancelled["cancellation_reason"] == "rejected on review: fraud pattern"
    assert operations(sessions, held["order_id"]) == []
    assert (await act(api, held["order_id"], "approve")).status_code == 409


async def test_unanswered_hold_cancels_after_the_hold_timeout(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    body = order_body(await new_sku(api, {"WH-EAST": 5}))
    body["customer"].pop("phone")
    body["shipping_address"]["phone"] = None
    held = await submit(api, body, **OPS)
    assert held["hold"]["codes"] == ["address_incomplete"]
    await temporal_env.fast_forward(client.get_workflow_handle(held["workflow_id"]), timedelta(hours=49))
    cancelled = await wait_for_status(api, held["order_id"], "cancelled")
    assert cancelled["cancellation_reason"] == "hold timed out"


async def test_blocklisted_contact_and_velocity_hold(api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]) -> None:
    strict = Settings(task_queue=settings.task_queue, risk_blocklist="bad@example.com", risk_velocity_limit=2)
    app = create_app(strict, client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strict.test", timeout=60) as strict_api:
        sku = await new_sku(strict_api, {"WH-EAST": 20})
        blocked = order_body(sku)
        blocked["customer"]["email"] = "Bad@Example.com"
        assert (await submit(strict_api, blocked, **OPS))["hold"]["codes"] == ["blocklisted_contact"]
        repeat_customer = order_body(sku)["customer"]
        answers = [await submit(strict_api, order_body(sku, customer=repeat_customer), **OPS) for _ in range(3)]
        assert [a["status"] for a in answers] == ["allocating", "allocating", "on_hold"]
        assert answers[2]["hold"]["codes"] == ["velocity"]


# --- backorders ------------------------------------------------------------------------


async def test_backordered_order_is_woken_by_a_receipt_first_come_first_served(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 0})
    first = await submit(api, order_body(sku, quantity=2))
    await wait_for_status(api, first["order_id"], "backordered")
    second = await submit(api, order_body(sku, quantity=2))
    await wait_for_status(api, second["order_id"], "backordered")
    await eventually(lambda: "backordered" in outbox_kinds(sessions, first["order_id"]))
    assert operations(sessions, first["order_id"]) == [], "no charge while waiting for stock"

    receipt = await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-EAST", "sku": sku, "quantity": 3})
    assert receipt.status_code == 201, receipt.text
    woken = receipt.json()["woken"]
    assert woken[0] == {"order_id": first["order_id"], "reserved": True, "status": "allocating"}
    assert [w["reserved"] for w in woken] == [True, False], "the oldest order is served first"
    await wait_for_shipment(api, first["order_id"], "picking")
    assert (await get_order(api, second["order_id"]))["status"] == "backordered"

    await api.post("/warehouse/receipts", headers=WAREHOUSE, json={"warehouse": "WH-EAST", "sku": sku, "quantity": 1})
    await wait_for_shipment(api, second["order_id"], "picking")
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (4, 4)


async def test_backorder_times_out_and_cancels(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 1})
    order = await submit(api, order_body(sku, quantity=2))
    await wait_for_status(api, order["order_id"], "backordered")
    await temporal_env.fast_forward(client.get_workflow_handle(order["workflow_id"]), timedelta(days=15))
    cancelled = await wait_for_status(api, order["order_id"], "cancelled")
    assert cancelled["cancellation_reason"] == "backorder not filled in time"
    assert operations(sessions, order["order_id"]) == []
    assert (await stock_of(api, sku))["reserved"] == 0
    await eventually(lambda: "cancelled" in outbox_kinds(sessions, order["order_id"]))


async def test_backorder_policy_ship_available_ships_what_is_there(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session], temporal_env: WorkflowEnvironment
) -> None:
    partial = Settings(task_queue=settings.task_queue, backorder_policy="ship_available")
    app = create_app(partial, client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://partial.test", timeout=60) as partial_api:
        stocked = await new_sku(partial_api, {"WH-EAST": 5})
        short = await new_sku(partial_api, {"WH-EAST": 1})
        body = order_body(stocked)
        body["lines"].append({"sku": short, "quantity": 3, "unit_price": "99.00"})
        order = await submit(partial_api, body)
        await wait_for_status(api, order["order_id"], "backordered")
        # The order lives on after the timeout (its parcel waits for a pick), so the fast-forward
        # cannot finish: run it in the background until the order has moved on.
        forward = asyncio.create_task(
            temporal_env.fast_forward(client.get_workflow_handle(order["workflow_id"]), timedelta(days=15))
        )
        try:
            shipping = await wait_for_status(api, order["order_id"], "fulfilling")
        finally:
            forward.cancel()
    assert {(line["sku"], line["quantity"]) for line in shipping["lines"]} == {(stocked, 1), (short, 1)}
    assert shipping["totals"]["grand_total"] == "210.00"
    await eventually(lambda: "partially_available" in outbox_kinds(sessions, order["order_id"]))


async def test_cancelling_a_backordered_order_releases_nothing_and_charges_nothing(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 0})
    order = await submit(api, order_body(sku))
    await wait_for_status(api, order["order_id"], "backordered")
    response = await act(api, order["order_id"], "cancel", note="customer gave up")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancellation_reason"] == "customer gave up"
    assert operations(sessions, order["order_id"]) == []
    assert (await stock_of(api, sku))["reserved"] == 0


# --- stuck orders ----------------------------------------------------------------------


async def test_undeliverable_postal_code_needs_attention_until_fixed_and_retried(
    api: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")

    stuck = await eventually(lambda: flagged(api, order["order_id"]))
    assert "000000" in stuck["attention_reason"]
    assert {"retry", "reroute", "cancel"} <= set(stuck["available_actions"])
    listed = (await api.get("/ops/orders?needs_attention=true", headers=OPS)).json()["items"]
    assert order["order_id"] in [item["order_id"] for item in listed]
    await eventually(lambda: "ops_attention" in outbox_kinds(sessions, order["order_id"]))  # ops are notified

    async def in_visibility() -> bool:
        query = f"NeedsAttention = true AND WorkflowId = '{order['workflow_id']}'"
        return len([wf async for wf in client.list_workflows(query)]) == 1

    await eventually(in_visibility)
    assert (await act(api, order["order_id"], "approve")).status_code == 409

    fixed = dict(body["shipping_address"], postal_code="310000")
    patched = await api.patch(f"/orders/{order['order_id']}/shipping-address", headers=CLIENT, json=fixed)
    assert patched.status_code == 200, patched.text
    retried = await act(api, order["order_id"], "retry", note="address corrected")
    assert retried.status_code == 200, retried.text
    labelled = await wait_for_shipment(api, order["order_id"], "label_created")
    assert labelled["tracking_number"]
    settled = await eventually(lambda: cleared(api, order["order_id"]))
    assert settled["shipping_address"]["postal_code"] == "310000"
    late = await api.patch(f"/orders/{order['order_id']}/shipping-address", headers=CLIENT, json=fixed)
    assert late.status_code == 409, "the address is locked once a label exists"



async def test_reroute_to_another_carrier(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")
    await eventually(lambda: flagged(api, order["order_id"]))
    fixed = dict(body["shipping_address"], postal_code="310000")
    assert (await api.patch(f"/orders/{order['order_id']}/shipping-address", headers=CLIENT, json=fixed)).status_code == 200
    bad = await act(api, order["order_id"], "reroute")
    assert bad.status_code == 422, "reroute needs params.carrier"
    response = await act(api, order["order_id"], "reroute", params={"carrier": "swift"})
    assert response.status_code == 200, response.text
    labelled = await wait_for_shipment(api, order["order_id"], "label_created")
    assert labelled["carrier"] == "swift", "a standard order would have gone economy"



async def test_pick_past_its_sla_needs_attention_and_ops_can_skip_the_wait(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku, priority="expedited"))
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    assert (await act(api, order["order_id"], "skip")).status_code == 409, "nothing to skip within the SLA"
    # Expedited: the 24h picking SLA is halved; 13 virtual hours breach it.
    await temporal_env.fast_forward(client.get_workflow_handle(f"shipment-{shipment['shipment_id']}"), timedelta(hours=13))
    stuck = await eventually(lambda: flagged(api, order["order_id"]))
    assert "picking over its SLA of 12:00:00" in stuck["attention_reason"]
    assert "skip" in stuck["available_actions"]
    skipped = await act(api, order["order_id"], "skip", note="picked, scanner broken")
    assert skipped.status_code == 200, skipped.text
    labelled = await wait_for_shipment(api, order["order_id"], "label_created")
    assert labelled["last_event"]
    settled = await eventually(lambda: cleared(api, order["order_id"]))
    events = [e["event"] for e in settled["timeline"]]
    assert "ops.skip" in events



# --- actions that do not apply ---------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "reject", "request_info", "retry", "skip", "reroute"])
async def test_actions_that_do_not_apply_answer_409(api: httpx.AsyncClient, action: str) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_shipment(api, order["order_id"], "picking")
    response = await act(api, order["order_id"], action, params={"carrier": "swift"})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    note = await act(api, order["order_id"], "note", note="customer called")
    assert note.status_code == 200


async def test_cancel_after_hand_over_by_ops_is_409(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    from tests.integration.helpers import carrier_event

    await carrier_event(api, "economy", shipment["tracking_number"], "in_transit")
    await wait_for_status(api, order["order_id"], "shipped")
    assert (await act(api, order["order_id"], "cancel")).status_code == 409


# --- a step out of retries parks the order ---------------------------------------------


async def _impatient_api(settings: Settings, client: Client, sessions: sessionmaker[Session]) -> httpx.AsyncClient:
    """An API whose orders give activities two attempts: tok_flaky's two failures use them up."""
    impatient = Settings(task_queue=settings.task_queue, activity_attempts=2)
    app = create_app(impatient, client=client, sessions=sessions)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://impatient.test", timeout=60)


async def test_payment_out_of_retries_parks_until_ops_retry(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    async with await _impatient_api(settings, client, sessions) as impatient:
        sku = await new_sku(impatient, {"WH-EAST": 5})
        order = await submit(impatient, order_body(sku, payment={"method": "card", "token": "tok_flaky"}))
    parked = await eventually(lambda: flagged(api, order["order_id"]))
    assert parked["status"] == "payment_pending"
    assert "payment authorization failed" in parked["attention_reason"]
    assert set(parked["available_actions"]) >= {"retry", "cancel"}
    assert "skip" not in parked["available_actions"], "a payment cannot be skipped"
    assert (await act(api, order["order_id"], "skip")).status_code == 409

    retried = await act(api, order["order_id"], "retry", note="gateway back")
    assert retried.status_code == 200, retried.text
    await wait_for_shipment(api, order["order_id"], "picking")
    assert operations(sessions, order["order_id"]) == ["authorize", "capture"], "charged exactly once"
    events = [e["event"] for e in (await get_order(api, order["order_id"]))["timeline"]]
    assert events.index("step.parked") < events.index("ops.retry") < events.index("payment.captured")


async def test_cancel_while_parked_voids_what_went_through(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    async with await _impatient_api(settings, client, sessions) as impatient:
        sku = await new_sku(impatient, {"WH-EAST": 5})
        order = await submit(impatient, order_body(sku, payment={"method": "card", "token": "tok_flaky"}))
    await eventually(lambda: flagged(api, order["order_id"]))
    response = await api.post(f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={"reason": "too slow"})
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["needs_attention"] is False
    # The authorization in doubt is looked up by its key and voided; no capture ever happened.
    assert operations(sessions, order["order_id"]) in (["authorize", "void"], [])
    assert "capture" not in operations(sessions, order["order_id"])
    assert (await stock_of(api, sku))["reserved"] == 0


async def test_client_cancels_a_held_order(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="6000.00")
    held = await submit(api, order_body(sku, price="6000.00"))
    response = await api.post(f"/orders/{held['order_id']}/cancel", headers=CLIENT, json={"reason": "changed my mind"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["hold"] is not None, "the hold stays on record"
    assert operations(sessions, held["order_id"]) == []
