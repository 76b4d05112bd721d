"""Submitting many orders as a storefront would, and the invariants every test checks at the end."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.integration.helpers import new_sku, order_body
from tests.reliability.stack import CLIENT, Stack


@dataclass
class Submissions:
    """What the storefront saw: order id -> quantity of each accepted order, and how many POSTs
    had to be repeated (a timeout or 5xx while a process was down; the repeat is idempotent)."""

    accepted: dict[str, int] = field(default_factory=dict)
    repeats: int = 0


async def submit_one(
    api: httpx.AsyncClient, body: dict[str, Any], seen: Submissions, attempts: int = 30
) -> None:
    """POST until the order is accepted (201, or 200 for a repeat of an accepted one)."""
    for _ in range(attempts):
        try:
            response = await api.post("/orders", headers=CLIENT, json=body)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code in (200, 201):
            assert response.json()["status"] == "allocating", response.text
            seen.accepted[body["order_id"]] = body["lines"][0]["quantity"]
            return
        assert response is None or response.status_code >= 500, response.text
        seen.repeats += 1
        await asyncio.sleep(1)
    raise AssertionError(f"order {body['order_id']} was never accepted")


async def submit_orders(
    api: httpx.AsyncClient, sku: str, count: int, seen: Submissions, *, concurrency: int = 16
) -> None:
    """`count` orders of 1 to 3 units of `sku`, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with gate:
            await submit_one(api, order_body(sku, quantity=1 + number % 3), seen)

    await asyncio.gather(*(one(n) for n in range(count)))


async def stocked_sku(api: httpx.AsyncClient, on_hand: int) -> str:
    """A SKU of the test's own, stocked only in WH-EAST."""
    return await new_sku(api, {"WH-EAST": on_hand})


def assert_nothing_lost(stack: Stack, seen: Submissions, sku: str, on_hand: int) -> dict[str, int]:
    """Every accepted order closed; one capture per order; one active label per parcel; stock
    conserved. Returns figures for the summary line."""
    ids = list(seen.accepted)
    assert stack.statuses(ids) == {"closed": len(ids)}
    captures = dict(
        stack.rows(
            "SELECT order_id, count(*) FROM payments WHERE operation = 'capture' AND order_id = ANY(:ids)"
            " GROUP BY order_id",
            ids=ids,
        )
    )
    assert captures == dict.fromkeys(ids, 1), "exactly one capture per order in the ledger"
    voids_or_refunds = stack.scalar(
        "SELECT count(*) FROM payments WHERE operation IN ('void', 'refund') AND order_id = ANY(:ids)",
        ids=ids,
    )
    assert voids_or_refunds == 0
    labels = stack.rows(
        "SELECT shipment_id, count(*) FROM carrier_labels WHERE status = 'active' AND shipment_id IN"
        " (SELECT shipment_id FROM shipments WHERE order_id = ANY(:ids)) GROUP BY shipment_id",
        ids=ids,
    )
    assert len(labels) == len(ids) and all(count == 1 for _, count in labels), "one label per parcel"
    ordered = sum(seen.accepted.values())
    level = stack.rows(
        "SELECT warehouse, on_hand, reserved FROM stock_levels WHERE sku = :sku ORDER BY warehouse", sku=sku
    )
    assert [tuple(row) for row in level] == [("WH-EAST", on_hand - ordered, 0)], "stock conserved"
    reservations = dict(
        stack.rows(
            "SELECT status, sum(quantity) FROM reservations WHERE order_id = ANY(:ids) GROUP BY status",
            ids=ids,
        )
    )
    assert reservations == {"shipped": ordered}, "every reserved unit shipped once, none left reserved"
    return {"orders": len(ids), "captures": sum(captures.values()), "units": ordered, "labels": len(labels)}
