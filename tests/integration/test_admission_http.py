"""Admission control of POST /orders (issue 18, api/admission.py): past the limit of submissions in
flight, a submission is refused with 503 problem+json and Retry-After, and nothing of it is
recorded; the same request repeated once a slot is free is accepted as a new order (201)."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.admission import OVERLOADED_TYPE, Admission
from api.app import create_app
from config.settings import Settings
from domain import ids
from tests.conftest import CLIENT, OPS
from tests.integration.helpers import new_sku, order_body


@pytest_asyncio.fixture
async def limited(
    settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[tuple[httpx.AsyncClient, Admission]]:
    """The API with room for one submission at a time, and its counter."""
    app = create_app(settings.model_copy(update={"max_submissions_in_flight": 1}), client=client, sessions=sessions)
    admission = Admission(1)
    app.state.admission = admission
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60) as http:
        yield http, admission


async def _workflow_exists(client: Client, order_id: str) -> bool:
    try:
        await client.get_workflow_handle(ids.order_workflow_id(order_id)).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_overloaded_submission_is_503_with_retry_after_and_changes_nothing(
    limited: tuple[httpx.AsyncClient, Admission], client: Client
) -> None:
    http, admission = limited
    sku = await new_sku(http, {"WH-EAST": 5})
    body = order_body(sku)
    assert admission.try_enter()  # another submission holds the only slot
    try:
        refused = await http.post("/orders", headers=CLIENT, json=body)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) >= 1
        problem = refused.json()
        assert problem["type"] == OVERLOADED_TYPE and problem["status"] == 503
        # Nothing was recorded: no order, no workflow, no claim of its id, no stock reserved.
        assert (await http.get(f"/orders/{body['order_id']}", headers=OPS)).status_code == 404
        assert not await _workflow_exists(client, body["order_id"])
        stock = (await http.get(f"/inventory/{sku}", headers=OPS)).json()
        assert all(level["reserved"] == 0 for level in stock["warehouses"]), stock
        # A shop's order through its channel submits the same way: refused the same way, before
        # its payload is even read.
        channel = await http.post("/channels/storefront/orders", headers=CLIENT, json={"any": "thing"})
        assert channel.status_code == 503 and channel.json()["type"] == OVERLOADED_TYPE
        assert channel.headers["retry-after"]
        # Reads are not submissions: they pass while submissions are refused.
        assert (await http.get("/orders", headers=CLIENT)).status_code == 200
    finally:
        admission.leave()
    assert admission.in_flight == 0

    # The same request, repeated after Retry-After, is a first submission: 201, not a repeat.
    accepted = await http.post("/orders", headers=CLIENT, json=body)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["order_id"] == body["order_id"]
    assert await _workflow_exists(client, body["order_id"])
    assert admission.in_flight == 0  # the slot is given back after an accepted submission
    assert admission.refused == 2


async def test_slot_is_given_back_after_a_refused_body(limited: tuple[httpx.AsyncClient, Admission]) -> None:
    http, admission = limited
    invalid = await http.post("/orders", headers=CLIENT, json=order_body("SKU-NO-SUCH-THING"))
    assert invalid.status_code == 422, invalid.text
    assert admission.in_flight == 0
    unauthenticated = await http.post("/orders", json=order_body("SKU-NO-SUCH-THING"))
    assert unauthenticated.status_code == 401
    assert admission.in_flight == 0 and admission.refused == 0


def test_admission_counts_and_refuses_past_its_limit() -> None:
    admission = Admission(2)
    assert admission.try_enter() and admission.try_enter()
    assert not admission.try_enter()
    admission.leave()
    assert admission.try_enter()
    assert admission.refused == 1
    unlimited = Admission(0)
    assert all(unlimited.try_enter() for _ in range(1000))
    with pytest.raises(ValueError):
        Admission(-1)
