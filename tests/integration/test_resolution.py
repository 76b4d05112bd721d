"""Resolving what went wrong, over HTTP on the real stack: a parcel back at the sender needs
attention with reship and refund on offer; ops reship it and the order closes after the
replacement's delivery and the return window; a refund beyond the capture is a 409 that changes
nothing; bad params are a 422."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.conftest import CLIENT, OPS, WAREHOUSE, eventually
from tests.integration.helpers import (
    carrier_event,
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
from tests.integration.test_returns import delivered_order, open_return, receive, refunds, wait_for_return


async def _act(api: httpx.AsyncClient, order_id: str, action: str, **body: Any) -> httpx.Response:
    return await api.post(f"/ops/orders/{order_id}/actions", headers=OPS, json={"action": action, **body})


async def _returned_to_sender(api: httpx.AsyncClient) -> dict[str, Any]:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, "economy", shipment["tracking_number"], "in_transit")
    await carrier_event(
        api, "economy", shipment["tracking_number"], "returned_to_sender", "refused by recipient"
    )
    await wait_for_shipment(api, order["order_id"], "returned_to_sender")
    stuck: dict[str, Any] = await eventually(lambda: flagged(api, order["order_id"]))
    return stuck


async def test_returned_to_sender_is_reshipped_by_ops_and_the_order_closes(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    stuck = await _returned_to_sender(api)
    order_id = stuck["order_id"]
    assert stuck["status"] == "shipped"
    assert {"reship", "refund"} <= set(stuck["available_actions"])
    first = stuck["shipments"][0]["shipment_id"]

    answer = await _act(api, order_id, "reship", note="recipient home again", params={"shipment_id": first})

    assert answer.status_code == 200, answer.text
    reshipped = answer.json()
    assert len(reshipped["shipments"]) == 2
    second = reshipped["shipments"][1]["shipment_id"]
    assert reshipped["shipments"][0]["outcome"] == f"reshipped as {second}"
    assert not reshipped["needs_attention"]
    assert "reship" not in reshipped["available_actions"]
    audit = next(e for e in reshipped["timeline"] if e["event"] == "ops.reship")
    assert audit["actor"] == "dev-ops"
    again = await _act(api, order_id, "reship", params={"shipment_id": first})
    assert again.status_code == 409, again.text

    await wait_for_shipment(api, order_id, "picking", index=1)
    await confirm_pick(api, second)
    parcel = await wait_for_shipment(api, order_id, "label_created", index=1)
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "delivered")
    await wait_for_status(api, order_id, "delivered")

    await temporal_env.fast_forward(client.get_workflow_handle(f"order-{order_id}"), timedelta(days=31))
    closed = await wait_for_status(api, order_id, "closed")
    assert not closed["needs_attention"]
    assert closed["payment"]["status"] == "captured"


async def test_returned_to_sender_refunded_by_ops_closes_the_order(api: httpx.AsyncClient) -> None:
    stuck = await _returned_to_sender(api)
    order_id = stuck["order_id"]
    first = stuck["shipments"][0]["shipment_id"]

    answer = await _act(api, order_id, "refund", note="customer gave up", params={"shipment_id": first})

    assert answer.status_code == 200, answer.text
    closed = await wait_for_status(api, order_id, "closed")
    assert closed["totals"]["refunded"] == "99.00"
    assert closed["shipments"][0]["outcome"] == "refunded 99.00"


async def test_a_refund_beyond_the_capture_is_409_and_changes_nothing(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    captured = await order_once(api, order_id, lambda o: "refund" in o["available_actions"])
    assert captured["totals"]["grand_total"] == "111.00"

    beyond = await _act(api, order_id, "refund", note="too generous", params={"amount": "111.01"})

    assert beyond.status_code == 409, beyond.text
    assert beyond.headers["content-type"].startswith("application/problem+json")
    assert "more than is left" in beyond.json()["detail"]
    after = await get_order(api, order_id)
    assert after["totals"]["refunded"] == "0.00"
    assert after["payment"]["status"] == "captured"
    assert not any(e["event"] == "order.refunded" for e in after["timeline"])

    no_note = await _act(api, order_id, "refund", params={"amount": "5.00"})
    assert no_note.status_code == 422
    assert "note" in [e["field"] for e in no_note.json()["errors"]]
    bad = await _act(api, order_id, "refund", note="x", params={"amount": "abc", "lines": [{"sku": ""}]})
    assert bad.status_code == 422
    assert {"params.amount", "params.lines", "params.lines[0].sku", "params.lines[0].quantity"} <= {
        e["field"] for e in bad.json()["errors"]
    }
    no_parcel = await _act(api, order_id, "reship", params={})
    assert no_parcel.status_code == 422

    goodwill = await _act(api, order_id, "refund", note="late, sorry", params={"amount": "10.00"})
    assert goodwill.status_code == 200, goodwill.text
    assert goodwill.json()["totals"]["refunded"] == "10.00"
    assert goodwill.json()["payment"]["status"] == "partially_refunded"
    rest = await _act(api, order_id, "refund", note="all of it", params={"amount": "101.01"})
    assert rest.status_code == 409


async def _claim(
    api: httpx.AsyncClient, order_id: str, headers: dict[str, str] = CLIENT, **body: Any
) -> httpx.Response:
    return await api.post(f"/orders/{order_id}/claims", headers=headers, json=body)


async def test_claims_over_http_reship_reject_and_refusals(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    picking = await wait_for_shipment(api, order_id, "picking")
    first = picking["shipment_id"]

    unshipped = await _claim(api, order_id, kind="not_received", shipment_id=first)
    assert unshipped.status_code == 409, unshipped.text
    assert unshipped.headers["content-type"].startswith("application/problem+json")
    assert (await _claim(api, "NO-SUCH-ORDER", kind="not_received", shipment_id=first)).status_code == 404
    bad = await _claim(api, order_id, kind="lost_it", shipment_id=first, lines=[{"sku": sku, "quantity": 0}])
    assert bad.status_code == 422
    assert {"kind", "lines[0].quantity"} <= {e["field"] for e in bad.json()["errors"]}

    await confirm_pick(api, first)
    parcel = await wait_for_shipment(api, order_id, "label_created")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await order_once(api, order_id, lambda o: o["status"] == "shipped")

    filed = await _claim(api, order_id, kind="not_received", shipment_id=first, comment="nothing came")
    assert filed.status_code == 201, filed.text
    claim = filed.json()
    assert claim["status"] == "open" and claim["kind"] == "not_received" and claim["shipment_id"] == first
    assert claim["lines"] == [{"sku": sku, "quantity": 1}]
    twice = await _claim(api, order_id, kind="damaged", shipment_id=first)
    assert twice.status_code == 409, twice.text
    claimed = await get_order(api, order_id)
    assert claimed["needs_attention"]
    assert {"reship", "refund", "reject_claim"} <= set(claimed["available_actions"])
    assert [c["status"] for c in claimed["claims"]] == ["open"]

    answered = await _act(
        api, order_id, "reship", note="sending another", params={"claim_id": claim["claim_id"]}
    )
    assert answered.status_code == 200, answered.text
    assert [c["status"] for c in answered.json()["claims"]] == ["reshipped"]
    assert not answered.json()["needs_attention"]
    assert len(answered.json()["shipments"]) == 2

    # The replacement is delivered; a claim on it is rejected by ops and the customer is told.
    second = answered.json()["shipments"][1]["shipment_id"]
    await wait_for_shipment(api, order_id, "picking", index=1)
    await confirm_pick(api, second)
    replacement = await wait_for_shipment(api, order_id, "label_created", index=1)
    await carrier_event(api, replacement["carrier"], replacement["tracking_number"], "in_transit")
    await carrier_event(api, replacement["carrier"], replacement["tracking_number"], "delivered")
    await wait_for_status(api, order_id, "delivered")
    damaged = await _claim(api, order_id, kind="damaged", shipment_id=second, comment="cracked")
    assert damaged.status_code == 201, damaged.text
    no_note = await _act(api, order_id, "reject_claim", params={"claim_id": damaged.json()["claim_id"]})
    assert no_note.status_code == 422
    rejected = await _act(
        api,
        order_id,
        "reject_claim",
        note="photos show no damage",
        params={"claim_id": damaged.json()["claim_id"]},
    )
    assert rejected.status_code == 200, rejected.text
    claims = rejected.json()["claims"]
    assert [(c["status"], c["note"]) for c in claims] == [
        ("reshipped", f"reshipped as {second}"),
        ("rejected", "photos show no damage"),
    ]
    assert rejected.json()["totals"]["refunded"] == "0.00"
    assert not rejected.json()["needs_attention"]
    again = await _act(
        api, order_id, "reject_claim", note="again", params={"claim_id": damaged.json()["claim_id"]}
    )
    assert again.status_code == 409


async def test_a_wrong_item_claim_opens_a_return_whose_receipt_refunds_nothing(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """Over HTTP: a wrong_item claim ships the right item and names the return (RMA) the order
    opened for the wrong one; the order read shows it labelled, and the warehouse's receipt on it
    restocks the unit and refunds nothing. Customers cannot ask for resolution `claim` themselves."""
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku, quantity=1)
    order_id = order["order_id"]
    first = order["shipments"][0]["shipment_id"]
    own = await open_return(api, order_id, lines=[{"sku": sku, "quantity": 1}], reason="wrong_item", resolution="claim")
    assert own.status_code == 422, own.text
    assert "resolution" in {e["field"] for e in own.json()["errors"]}

    filed = await _claim(api, order_id, kind="wrong_item", shipment_id=first, comment="a blue one came")

    assert filed.status_code == 201, filed.text
    claim = filed.json()
    rma = f"{order_id}-R1"
    assert (claim["status"], claim["rma_id"]) == ("reshipped", rma)
    labelled = await wait_for_return(api, order_id, rma, "in_transit")
    assert (labelled["reason"], labelled["resolution"]) == ("wrong_item", "claim")
    assert labelled["tracking_number"], "a return label was bought for the wrong item"
    read = await get_order(api, order_id)
    assert [(c["claim_id"], c["rma_id"]) for c in read["claims"]] == [(claim["claim_id"], rma)]
    assert len(read["shipments"]) == 2, "the right item ships"
    on_hand = (await stock_of(api, sku))["on_hand"]

    await receive(api, rma, sku, 1, "resellable")

    done = await wait_for_return(api, order_id, rma, "inspected")
    assert (done["refund_due"], done["refund_amount"]) == ("0.00", "0.00")
    settled: dict[str, Any] = await eventually(
        lambda: _with_event(api, order_id, "return.claim_settled")
    )
    assert settled["totals"]["refunded"] == "0.00" and settled["payment"]["status"] == "captured"
    assert refunds(sessions, order_id) == []
    assert (await stock_of(api, sku))["on_hand"] == on_hand + 1, "the wrong unit is back on hand"
    again = await api.post(
        f"/returns/{rma}/received",
        headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
    )
    assert again.status_code == 409, again.text


async def _with_event(api: httpx.AsyncClient, order_id: str, event: str) -> dict[str, Any] | None:
    order = await get_order(api, order_id)
    return order if any(e["event"] == event for e in order["timeline"]) else None
