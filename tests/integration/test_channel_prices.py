"""Channel prices over the real stack (issue 17): discounts and the channel's shipping charge are
accepted and priced, every policy breach is a 422 naming its field, the payment authorizes the
discounted total, and a return of a discounted line refunds what was paid, not the list price."""

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import Settings
from store.models import PaymentRow
from tests.conftest import CLIENT, TASK_QUEUE
from tests.integration.helpers import get_order, new_sku, order_body, submit, wait_for_status
from tests.integration.test_returns import delivered_order, open_return, receive, refunds, wait_for_return

DATA = Path(__file__).parents[1] / "data"


def _ledger(sessions: sessionmaker[Session], order_id: str, operation: str) -> list[str]:
    with sessions() as session:
        return [
            str(amount)
            for amount in session.scalars(
                select(PaymentRow.amount).where(PaymentRow.order_id == order_id, PaymentRow.operation == operation)
            )
        ]


def _two_lines(a: str, b: str, **overrides: Any) -> dict[str, Any]:
    body = order_body(a, quantity=3, price="99.00", **overrides)
    body["lines"].append({"sku": b, "quantity": 1, "unit_price": "50.00"})
    return body


async def test_adjustments_and_the_channels_shipping_charge_are_priced_and_authorized(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    a = await new_sku(api, {"WH-EAST": 5}, price="99.00")
    b = await new_sku(api, {"WH-EAST": 5}, price="50.00")
    body = _two_lines(
        a,
        b,
        adjustments=[
            {"sku": b, "amount": "-10.00", "reason": "price match", "code": "PM"},
            {"sku": None, "amount": "-33.01", "reason": "promo", "code": "WINTER"},
        ],
        shipping_charge="8.00",
    )
    order = await submit(api, body)
    assert order["status"] == "allocating", order
    # items 297.00 + 50.00 = 347.00; B 40.00 after its own 10.00; 33.01 spread over 297 : 40
    assert order["totals"]["items"] == "347.00"
    assert order["totals"]["discounts"] == "43.01"
    assert order["totals"]["shipping"] == "8.00", "the channel's charge, not our free standard shipping"
    assert order["totals"]["grand_total"] == "311.99"
    paid = {line["sku"]: line for line in order["line_prices"]}
    assert paid[a]["discount"] == "29.09" and paid[a]["paid"] == "267.91"
    assert paid[b]["discount"] == "13.92" and paid[b]["paid"] == "36.08"
    assert [adj["code"] for adj in order["adjustments"]] == ["PM", "WINTER"]

    settled = await wait_for_status(api, order["order_id"], "fulfilling")
    assert settled["payment"]["amount"] == "311.99"
    assert _ledger(sessions, order["order_id"], "authorize") == ["311.99"]
    assert _ledger(sessions, order["order_id"], "capture") == ["311.99"]


async def test_every_breach_of_the_price_policy_is_a_422_naming_its_field(api: httpx.AsyncClient) -> None:
    a = await new_sku(api, {"WH-EAST": 5}, price="99.00")
    b = await new_sku(api, {"WH-EAST": 5}, price="50.00")
    shapes = _two_lines(
        a,
        b,
        adjustments=[
            {"sku": None, "amount": "10.00", "reason": "promo"},
            {"sku": a, "amount": "-1.005", "reason": "promo"},
        ],
        shipping_charge="-1.00",
    )
    response = await api.post("/orders", headers=CLIENT, json=shapes)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"adjustments[0].amount", "adjustments[1].amount", "shipping_charge"}

    policy = _two_lines(
        a,
        b,
        adjustments=[
            {"sku": "SKU-NOT-ORDERED", "amount": "-1.00", "reason": "promo"},
            {"sku": b, "amount": "-60.00", "reason": "promo"},
            {"sku": None, "amount": "-150.00", "reason": "promo"},
        ],
    )
    response = await api.post("/orders", headers=CLIENT, json=policy)
    assert response.status_code == 422, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    # B below zero; and 210.00 off 347.00 of items passes the default 50 %
    assert fields == {"adjustments[0].sku", "adjustments[1].amount", "adjustments"}


@pytest_asyncio.fixture
async def coded_api(client: Client, sessions: sessionmaker[Session], worker: None) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(task_queue=TASK_QUEUE, discount_codes="WINTER, PM", max_discount_percent=10)
    app = create_app(settings, client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test", timeout=60) as http:
        yield http


async def test_known_codes_and_the_maximum_percent_come_from_the_settings(coded_api: httpx.AsyncClient) -> None:
    a = await new_sku(coded_api, {"WH-EAST": 5}, price="99.00")
    body = order_body(
        a,
        quantity=2,
        adjustments=[
            {"sku": None, "amount": "-5.00", "reason": "promo", "code": "SUMMER"},
            {"sku": a, "amount": "-5.00", "reason": "promo"},
            {"sku": a, "amount": "-9.81", "reason": "promo", "code": "PM"},
        ],
    )
    response = await coded_api.post("/orders", headers=CLIENT, json=body)
    assert response.status_code == 422, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    # 19.81 off 198.00 passes 10 % (19.80)
    assert fields == {"adjustments[0].code", "adjustments[1].code", "adjustments"}

    body["adjustments"] = [{"sku": None, "amount": "-19.80", "reason": "promo", "code": "WINTER"}]
    response = await coded_api.post("/orders", headers=CLIENT, json=body)
    assert response.status_code == 201, response.text
    # 198.00 - 19.80 + 12.00: free standard shipping counts the list value (299.00), as before
    assert response.json()["totals"]["grand_total"] == "190.20"


async def test_a_return_of_a_discounted_line_refunds_what_was_paid(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="99.00")
    order = await delivered_order(
        api, sku, quantity=3, adjustments=[{"sku": sku, "amount": "-30.00", "reason": "bundle", "code": "B3"}]
    )
    assert order["totals"]["discounts"] == "30.00"
    assert order["totals"]["grand_total"] == "279.00"  # 297.00 - 30.00 + 12.00 shipping
    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="no_longer_needed")
    assert response.status_code == 201, response.text
    rma = response.json()["rma_id"]
    await wait_for_return(api, order["order_id"], rma, "in_transit")
    await receive(api, rma, sku, 1, "resellable")
    done = await wait_for_return(api, order["order_id"], rma, "refunded")
    assert done["refund_amount"] == "89.00", "what was paid for the unit (267.00 / 3), not its list price 99.00"
    assert refunds(sessions, order["order_id"]) == ["89.00"]
    settled = await get_order(api, order["order_id"])
    assert settled["totals"]["refunded"] == "89.00"


async def test_a_discounted_storefront_order_is_taken_at_the_shops_prices(api: httpx.AsyncClient) -> None:
    """Before issue 17 a shop's discount and its own shipping charge were lost: the order was
    charged our Express fee and the list price."""
    sku = await new_sku(api, {"WH-EAST": 5}, price="99.00")
    payload: dict[str, Any] = json.loads((DATA / "storefront_order.json").read_text(encoding="utf-8"))
    payload["id"] = secrets.randbelow(10**12)
    payload["customer"]["id"] = secrets.randbelow(10**9)
    payload["line_items"] = [{"sku": sku, "quantity": 2, "price": "99.00", "total_discount": "8.00"}]
    payload["discount_codes"] = [{"code": "WINTER", "amount": "10.00"}]
    response = await api.post("/channels/storefront/orders", headers=CLIENT, json=payload)
    assert response.status_code == 201, response.text
    totals = response.json()["totals"]
    assert (totals["items"], totals["discounts"], totals["shipping"]) == ("198.00", "18.00", "12.00")
    assert totals["grand_total"] == "192.00"

    payload["id"] = secrets.randbelow(10**12)
    payload["line_items"][0]["total_discount"] = "199.00"
    response = await api.post("/channels/storefront/orders", headers=CLIENT, json=payload)
    assert response.status_code == 422, response.text
    # the line below zero, the code's 10.00 off nothing left, and all of it past the 50 % maximum
    assert {e["field"] for e in response.json()["errors"]} == {
        "line_items[0].total_discount",
        "discount_codes[0].amount",
        "discount_codes",
    }
