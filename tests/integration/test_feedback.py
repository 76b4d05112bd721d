"""After-sales feedback and the complaints queue (R11) over the real app, worker, Temporal and
PostgreSQL: reviews once delivered, complaints any time, the ops queue and its resolution, and
`oms ops complaints` / `oms ops resolve-complaint`."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import CLIENT, OPS, WAREHOUSE
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_shipment,
    wait_for_status,
)
from tests.integration.test_ops_cli import api_url, oms_ops  # noqa: F401 - api_url is a fixture

FEEDBACK_KEYS = {"feedback_id", "order_id", "kind", "rating", "comment", "created_at", "complaint_id"}
COMPLAINT_KEYS = {
    "complaint_id", "order_id", "customer_id", "status", "rating", "comment", "feedback_id", "opened_at",
    "age_seconds", "resolved_at", "resolved_by", "note", "service_rating",
}


async def feedback(api: httpx.AsyncClient, order_id: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return await api.post(f"/orders/{order_id}/feedback", headers=headers or CLIENT, json=body)


async def open_complaints(api: httpx.AsyncClient, status: str = "open") -> list[dict[str, Any]]:
    response = await api.get(f"/ops/complaints?status={status}&limit=500", headers=OPS)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def fulfilling_order(api: httpx.AsyncClient) -> dict[str, Any]:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    await wait_for_shipment(api, order["order_id"], "picking")
    return order


async def delivered_order(api: httpx.AsyncClient) -> dict[str, Any]:
    order = await fulfilling_order(api)
    shipment = await ship_to_carrier(api, order["order_id"])
    for status in ("in_transit", "delivered"):
        response = await carrier_event(api, shipment["carrier"], shipment["tracking_number"], status)
        assert response.status_code == 202, response.text
    return await wait_for_status(api, order["order_id"], "delivered")


async def test_feedback_needs_the_right_key(api: httpx.AsyncClient) -> None:
    body = {"rating": 5, "kind": "review"}
    assert (await api.post("/orders/ANY/feedback", json=body)).status_code == 401
    refused = await feedback(api, "ANY", WAREHOUSE, **body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/ops/complaints")).status_code == 401
    assert (await api.get("/ops/complaints", headers=CLIENT)).status_code == 403
    assert (await api.get("/ops/complaints", headers=WAREHOUSE)).status_code == 403
    resolve = await api.post("/ops/complaints/CMP-X/resolve", headers=CLIENT, json={"note": "x"})
    assert resolve.status_code == 403
    assert (await api.post("/ops/complaints/CMP-X/resolve", json={"note": "x"})).status_code == 401
    # Ops are admitted everywhere: an unknown order is then a 404, not a 403.
    assert (await feedback(api, "NO-SUCH-ORDER", OPS, **body)).status_code == 404


async def test_bad_feedback_names_each_field(api: httpx.AsyncClient) -> None:
    order = await fulfilling_order(api)
    oid = order["order_id"]

    async def fields(**body: Any) -> list[str]:
        response = await feedback(api, oid, **body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        return [e["field"] for e in response.json()["errors"]]

    assert await fields(rating=0, kind="review") == ["rating"]
    assert await fields(rating=6, kind="review") == ["rating"]
    assert await fields(rating="5", kind="review") == ["rating"]
    assert await fields(kind="review") == ["rating"]
    assert await fields(rating=3, kind="praise") == ["kind"]
    assert await fields(rating=3, kind="review", stars=5) == ["stars"]
    assert await fields(rating=3, kind="review", comment="x" * 2001) == ["comment"]
    assert await fields(rating=1, kind="complaint") == ["comment"]
    assert await fields(rating=1, kind="complaint", comment="   ") == ["comment"]
    assert sorted(await fields(rating=0, kind="praise")) == ["kind", "rating"]

    unknown = await feedback(api, "NO-SUCH-ORDER", rating=5, kind="review")
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    assert (await api.post("/ops/complaints/CMP-X/resolve", headers=OPS, json={})).status_code == 422
    assert (await api.get("/ops/complaints?status=pending", headers=OPS)).status_code == 422
    assert (await api.get(f"/orders/{oid}/feedback", headers=CLIENT)).json() == []


async def test_review_before_delivery_is_a_conflict_but_a_complaint_is_welcome(api: httpx.AsyncClient) -> None:
    order = await fulfilling_order(api)
    oid = order["order_id"]

    early = await feedback(api, oid, rating=4, kind="review", comment="looks good so far")
    assert early.status_code == 409, early.text
    assert early.headers["content-type"].startswith("application/problem+json")
    assert early.json()["type"] == "/problems/review-not-allowed"

    complaint = await feedback(api, oid, rating=1, kind="complaint", comment="still not shipped")
    assert complaint.status_code == 201, complaint.text
    body = complaint.json()
    assert set(body) == FEEDBACK_KEYS
    assert body["complaint_id"].startswith("CMP-")
    assert (body["order_id"], body["kind"], body["rating"], body["comment"]) == (oid, "complaint", 1, "still not shipped")

    item = next(i for i in await open_complaints(api) if i["complaint_id"] == body["complaint_id"])
    assert set(item) == COMPLAINT_KEYS
    assert (item["order_id"], item["customer_id"], item["status"], item["rating"], item["comment"]) == (
        oid, order["customer"]["id"], "open", 1, "still not shipped",
    )
    assert item["feedback_id"] == body["feedback_id"]
    assert item["resolved_at"] is None and item["resolved_by"] is None and item["service_rating"] is None
    opened = datetime.fromisoformat(item["opened_at"])
    assert 0 <= item["age_seconds"] <= (datetime.now(UTC) - opened).total_seconds() + 1


async def test_review_of_a_delivered_order(api: httpx.AsyncClient) -> None:
    order = await delivered_order(api)
    oid = order["order_id"]

    review = await feedback(api, oid, rating=5, kind="review", comment="fast and well packed")
    assert review.status_code == 201, review.text
    body = review.json()
    assert set(body) == FEEDBACK_KEYS
    assert body["feedback_id"].startswith("FB-")
    assert (body["order_id"], body["kind"], body["rating"], body["comment"], body["complaint_id"]) == (
        oid, "review", 5, "fast and well packed", None,
    )
    assert datetime.fromisoformat(body["created_at"]) <= datetime.now(UTC)

    second = await feedback(api, oid, rating=1, kind="review")
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/already-reviewed"

    listed = (await api.get(f"/orders/{oid}/feedback", headers=CLIENT)).json()
    assert [f["feedback_id"] for f in listed] == [body["feedback_id"]]


async def test_idempotency_key_repeats_the_same_feedback(api: httpx.AsyncClient) -> None:
    order = await fulfilling_order(api)
    oid = order["order_id"]
    headers = {**CLIENT, "Idempotency-Key": f"complaint-{oid}"}
    body = {"rating": 2, "kind": "complaint", "comment": "wrong colour on the product page"}

    first = await api.post(f"/orders/{oid}/feedback", headers=headers, json=body)
    assert first.status_code == 201, first.text
    again = await api.post(f"/orders/{oid}/feedback", headers=headers, json=body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    changed = await api.post(f"/orders/{oid}/feedback", headers=headers, json={**body, "rating": 1})
    assert changed.status_code == 409
    assert changed.json()["type"] == "/problems/idempotency-conflict"
    mine = [i for i in await open_complaints(api) if i["order_id"] == oid]
    assert [i["complaint_id"] for i in mine] == [first.json()["complaint_id"]]


async def test_complaints_queue_oldest_first_and_resolution(api: httpx.AsyncClient) -> None:
    first_order = await fulfilling_order(api)
    second_order = await fulfilling_order(api)
    first = (await feedback(api, first_order["order_id"], rating=2, kind="complaint", comment="late")).json()
    second = (await feedback(api, second_order["order_id"], rating=1, kind="complaint", comment="rude courier")).json()

    queue = await open_complaints(api)
    ids = [i["complaint_id"] for i in queue]
    assert ids.index(first["complaint_id"]) < ids.index(second["complaint_id"])
    opened = [i["opened_at"] for i in queue]
    assert opened == sorted(opened)  # oldest first

    path = f"/ops/complaints/{first['complaint_id']}/resolve"
    resolved = await api.post(path, headers=OPS, json={"note": "apologised, refunded shipping"})
    assert resolved.status_code == 200, resolved.text
    done = resolved.json()
    assert set(done) == COMPLAINT_KEYS
    assert (done["complaint_id"], done["status"], done["resolved_by"], done["note"]) == (
        first["complaint_id"], "resolved", "dev-ops", "apologised, refunded shipping",
    )
    assert datetime.fromisoformat(done["resolved_at"]) >= datetime.fromisoformat(done["opened_at"])

    twice = await api.post(path, headers=OPS, json={"note": "again"})
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")
    assert twice.json()["type"] == "/problems/complaint-already-resolved"
    unknown = await api.post("/ops/complaints/CMP-NO-SUCH/resolve", headers=OPS, json={"note": "x"})
    assert unknown.status_code == 404

    assert first["complaint_id"] not in [i["complaint_id"] for i in await open_complaints(api)]
    assert second["complaint_id"] in [i["complaint_id"] for i in await open_complaints(api)]
    assert first["complaint_id"] in [i["complaint_id"] for i in await open_complaints(api, "resolved")]

    # The customer rates the after-sales service: a review is welcome once the complaint is resolved,
    # even before delivery, and shows on the complaint.
    rating = await feedback(api, first_order["order_id"], rating=4, kind="review", comment="sorted quickly")
    assert rating.status_code == 201, rating.text
    assert rating.json()["complaint_id"] == first["complaint_id"]
    shown = await api.get(f"/ops/complaints/{first['complaint_id']}", headers=OPS)
    assert shown.json()["service_rating"] == 4
    assert (await feedback(api, first_order["order_id"], rating=5, kind="review")).status_code == 409
    # The other order's complaint is still open: no review there yet.
    assert (await feedback(api, second_order["order_id"], rating=5, kind="review")).status_code == 409


async def test_oms_ops_complaints_and_resolve(api: httpx.AsyncClient, api_url: str) -> None:  # noqa: F811
    order = await fulfilling_order(api)
    complaint = (await feedback(api, order["order_id"], rating=1, kind="complaint", comment="box was crushed")).json()
    cid = complaint["complaint_id"]

    listed = await oms_ops(api_url, "complaints", "--limit", "500")
    assert listed.exit_code == 0, listed.output
    assert cid in listed.output and "box was crushed" in listed.output

    resolved = await oms_ops(api_url, "resolve-complaint", cid, "--note", "sent a replacement")
    assert resolved.exit_code == 0, resolved.output
    assert f"complaint {cid}" in resolved.output and "dev-ops" in resolved.output

    again = await oms_ops(api_url, "resolve-complaint", cid, "--note", "again")
    assert again.exit_code == 1
    assert "409" in again.output

    history = await oms_ops(api_url, "complaints", "--resolved", "--limit", "500")
    assert history.exit_code == 0, history.output
    assert cid in history.output and "sent a replacement" in history.output
    assert cid not in (await oms_ops(api_url, "complaints", "--limit", "500")).output


async def test_markup_in_a_complaint_is_printed_literally_by_oms_ops(api: httpx.AsyncClient, api_url: str) -> None:  # noqa: F811
    """A complaint comment full of Rich markup crashed `oms ops complaints` (MarkupError): it is
    printed as the customer typed it, and so is a resolution note."""
    comment = "[/] [bold red]NOW[/] [link=http://x]y[/link] [/bold]"  # short: one line of the table
    order = await fulfilling_order(api)
    complaint = (await feedback(api, order["order_id"], rating=1, kind="complaint", comment=comment)).json()
    cid = complaint["complaint_id"]

    listed = await oms_ops(api_url, "complaints", "--limit", "500")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if cid in line)
    assert comment in row

    resolved = await oms_ops(api_url, "resolve-complaint", cid, "--note", "[/] [red]done")
    assert resolved.exit_code == 0, resolved.output
    history = await oms_ops(api_url, "complaints", "--resolved", "--limit", "500")
    assert history.exit_code == 0, history.output
    row = next(line for line in history.output.splitlines() if cid in line)
    assert comment in row and "[/] [red]done" in row


async def orders_of_one_customer(api: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    """`count` fulfilling orders of one customer of their own (so no other test's complaints count)."""
    sku = await new_sku(api, {"WH-EAST": 5 * count})
    first = order_body(sku)
    orders = [await submit(api, first)] + [
        await submit(api, order_body(sku, customer=first["customer"])) for _ in range(count - 1)
    ]
    for order in orders:
        await wait_for_shipment(api, order["order_id"], "picking")
    return orders


async def complaints_of(api: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/orders/{order_id}/feedback", headers=CLIENT)
    assert response.status_code == 200, response.text
    return [fb for fb in response.json() if fb["kind"] == "complaint"]


async def test_complaints_are_capped_per_order_and_per_customer(api: httpx.AsyncClient) -> None:
    """At most 3 complaints open at once on an order and 5 per customer in 24 hours (the defaults):
    the next one is a 429 that says which cap, its limit and when it resets, and creates nothing."""
    first_order, second_order = await orders_of_one_customer(api, 2)
    a, b = first_order["order_id"], second_order["order_id"]
    keyed = {**CLIENT, "Idempotency-Key": f"first-{a}"}
    first = await feedback(api, a, keyed, rating=1, kind="complaint", comment="late")
    assert first.status_code == 201, first.text
    for n in (2, 3):
        assert (await feedback(api, a, rating=1, kind="complaint", comment=f"still late {n}")).status_code == 201

    refused = await feedback(api, a, rating=1, kind="complaint", comment="fourth")
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert (problem["type"], problem["status"], problem["scope"], problem["limit"]) == (
        "/problems/too-many-complaints", 429, "order", 3,
    )
    assert f"order {a} has 3 open complaints" in problem["detail"] and "resolved" in problem["detail"]
    assert "retry-after" not in refused.headers  # it frees when ops resolve one, not at a time
    assert len(await complaints_of(api, a)) == 3
    assert len([i for i in await open_complaints(api) if i["order_id"] == a]) == 3

    # An idempotent repeat at the cap opens nothing: it is answered as before.
    again = await feedback(api, a, keyed, rating=1, kind="complaint", comment="late")
    assert again.status_code == 200 and again.json() == first.json()

    # Resolving one frees a slot on the order; the service-rating review is not capped.
    resolved = await api.post(f"/ops/complaints/{first.json()['complaint_id']}/resolve", headers=OPS, json={"note": "ok"})
    assert resolved.status_code == 200, resolved.text
    assert (await feedback(api, a, rating=3, kind="review", comment="sorted")).status_code == 201
    assert (await feedback(api, a, rating=1, kind="complaint", comment="fourth")).status_code == 201

    # The customer has 4 complaints today; a 5th on the other order passes, a 6th does not.
    assert (await feedback(api, b, rating=1, kind="complaint", comment="fifth")).status_code == 201
    before = datetime.now(UTC)
    refused = await feedback(api, b, rating=1, kind="complaint", comment="sixth")
    assert refused.status_code == 429, refused.text
    problem = refused.json()
    assert (problem["type"], problem["scope"], problem["limit"]) == ("/problems/too-many-complaints", "customer", 5)
    retry_at = datetime.fromisoformat(problem["retry_at"])
    # The slot frees when the first complaint is 24 hours old.
    assert abs(retry_at - (datetime.fromisoformat(first.json()["created_at"]) + timedelta(hours=24))) < timedelta(seconds=1)
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 24 * 3600
    assert abs((before + timedelta(seconds=retry_after)) - retry_at) < timedelta(seconds=30)
    assert "5 complaints in the last 24 hours" in problem["detail"] and problem["retry_at"] in problem["detail"]
    assert len(await complaints_of(api, b)) == 1


async def test_concurrent_complaints_never_pass_the_caps(api: httpx.AsyncClient) -> None:
    """Twelve complaints of one customer at once, six on each of two orders: exactly five pass
    (the customer's cap), never more than three on one order; the rest are 429."""
    orders = await orders_of_one_customer(api, 2)
    answers = await asyncio.gather(*(
        feedback(api, order["order_id"], rating=1, kind="complaint", comment=f"at once {n}")
        for n in range(6)
        for order in orders
    ))
    assert sorted(r.status_code for r in answers) == [201] * 5 + [429] * 7, [r.text for r in answers]
    per_order = [len(await complaints_of(api, order["order_id"])) for order in orders]
    assert sum(per_order) == 5 and max(per_order) == 3
