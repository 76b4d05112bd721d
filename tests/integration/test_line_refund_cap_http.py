"""The cap per line over the real stack (issue 17.6): a discounted line returned and refunded,
then refunded by an ops refund by lines, pays only what is left of it; once nothing is left, the
ops refund is a 409 that changes nothing; the order shows per SKU what was refunded."""

from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import OPS
from tests.integration.helpers import get_order, new_sku
from tests.integration.test_returns import delivered_order, open_return, receive, refunds, wait_for_return


async def _refund(api: httpx.AsyncClient, order_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": "refund", **body})


async def test_an_ops_refund_of_a_returned_line_pays_only_what_is_left_of_it(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="99.00")
    order = await delivered_order(
        api, sku, quantity=3, adjustments=[{"sku": sku, "amount": "-30.00", "reason": "bundle", "code": "B3"}]
    )
    order_id = order["order_id"]
    assert order["line_prices"][0]["paid"] == "267.00" and order["refunded_lines"] == []
    response = await open_return(api, order_id, lines=[{"sku": sku, "quantity": 2}], reason="no_longer_needed")
    assert response.status_code == 201, response.text
    rma = response.json()["rma_id"]
    await wait_for_return(api, order_id, rma, "in_transit")
    await receive(api, rma, sku, 2, "resellable")
    done = await wait_for_return(api, order_id, rma, "refunded")
    assert done["refund_amount"] == "178.00", "two thirds of 267.00"

    # All three units by lines: 267.00 asked, 89.00 left of the line.
    partial = await _refund(api, order_id, note="faulty batch", params={"lines": [{"sku": sku, "quantity": 3}]})
    assert partial.status_code == 200, partial.text
    answered = partial.json()
    entry = [e for e in answered["timeline"] if e["event"] == "order.refunded"][-1]
    assert entry["detail"]["amount"] == "89.00"
    assert entry["detail"]["lines"] == [{"sku": sku, "amount": "89.00"}]
    assert answered["refunded_lines"] == [{"sku": sku, "quantity": 3, "amount": "267.00"}]
    assert answered["totals"]["refunded"] == "267.00"
    assert refunds(sessions, order_id) == ["178.00", "89.00"]

    again = await _refund(api, order_id, note="once more", params={"lines": [{"sku": sku, "quantity": 1}]})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "nothing is left to refund of those lines" in again.json()["detail"]
    after = await get_order(api, order_id)
    assert after["totals"]["refunded"] == "267.00" and refunds(sessions, order_id) == ["178.00", "89.00"]

    # The shipping (12.00) is left of the capture: a goodwill amount may still pay it back.
    goodwill = await _refund(api, order_id, note="sorry", params={"amount": "12.00"})
    assert goodwill.status_code == 200, goodwill.text
    assert goodwill.json()["totals"]["refunded"] == "279.00"
    assert goodwill.json()["payment"]["status"] == "refunded"
