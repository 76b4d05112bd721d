"""The three drivers, each at the same concurrency: our orders over HTTP to closed, the bare
workflow over Update-with-Start to completed, and the bare insert route. Each records, per
item, when it was sent, when the first answer came and when it was finished."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare_workflow import BARE_TASK_QUEUE, BareShape, BareWorkflow
from domain import ids

OPS = {"X-API-Key": "dev-ops-key"}
CLIENT = {"X-API-Key": "dev-client-key"}
WAREHOUSE = "WH-EAST"
# How often the parking driver asks whether an order has reached delivered.
DELIVERED_POLL_SECONDS = 2.0


@dataclass
class Outcome:
    """Monotonic seconds: sent, first answer (the POST / the update), finished (closed)."""

    sent: float
    answered: float
    finished: float
    ok: bool
    key: str = ""

    @property
    def latency(self) -> float:
        return self.answered - self.sent


Tick = Callable[[], None]


async def bounded(count: int, concurrency: int, one: Callable[[int], Awaitable[Outcome]]) -> list[Outcome]:
    """Run `one(i)` for i in range(count), at most `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def guarded(index: int) -> Outcome:
        async with gate:
            return await one(index)

    return list(await asyncio.gather(*(guarded(i) for i in range(count))))


async def request(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call, retried on a dropped connection (a keep-alive connection the server closed
    just as it was reused): safe here, every call is a read or an idempotent submission."""
    for attempt in range(3):
        try:
            return await http.request(method, url, **kwargs)
        except httpx.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def prepare_sku(http: httpx.AsyncClient, units: int) -> str:
    """A SKU of the bench's own with enough stock for every order (one unit each)."""
    sku = f"SKU-BENCH-{secrets.token_hex(3).upper()}"
    response = await http.put(
        f"/catalog/{sku}", headers=OPS, json={"name": f"bench item {sku}", "price": "10.00", "weight_grams": 400}
    )
    response.raise_for_status()
    response = await http.put(f"/inventory/{sku}/{WAREHOUSE}", headers=OPS, json={"on_hand": units})
    response.raise_for_status()
    return sku


def order_body(sku: str) -> dict[str, Any]:
    """A plain single-parcel order; a customer of its own so the velocity rule never holds it."""
    return {
        "order_id": f"B-{secrets.token_hex(6)}",
        "channel": "web",
        "customer": {
            "id": f"bench-{secrets.token_hex(4)}",
            "email": "bench@example.com",
            "phone": "+8613800000000",
            "name": "Bench",
        },
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "10.00"}],
        "currency": "CNY",
        "shipping_address": {
            "name": "Bench",
            "line1": "1 Road",
            "line2": None,
            "city": "Hangzhou",
            "region": "ZJ",
            "postal_code": "310000",
            "country": "CN",
            "phone": "+8613800000000",
        },
        "shipping_speed": "standard",
        "priority": "normal",
        "payment": {"method": "card", "token": "tok_visa"},
    }


async def one_order(http: httpx.AsyncClient, client: Client, sku: str) -> Outcome:
    body = order_body(sku)
    sent = time.monotonic()
    response = await request(http, "POST", "/orders", headers=CLIENT, json=body)
    answered = time.monotonic()
    if response.status_code != 201:
        return Outcome(sent, answered, answered, False, body["order_id"])
    handle = client.get_workflow_handle(ids.order_workflow_id(body["order_id"]))
    try:
        result = await handle.result()
        ok = getattr(result, "status", None) == "closed" or (isinstance(result, dict) and result.get("status") == "closed")
    except Exception:  # noqa: BLE001 - a failed order is counted, not fatal to the run
        ok = False
    return Outcome(sent, answered, time.monotonic(), ok, body["order_id"])


async def drive_orders(
    http: httpx.AsyncClient, client: Client, sku: str, count: int, concurrency: int, tick: Tick
) -> list[Outcome]:
    async def one(_: int) -> Outcome:
        outcome = await one_order(http, client, sku)
        tick()
        return outcome

    return await bounded(count, concurrency, one)


async def drive_bare_workflows(
    client: Client, shape: BareShape, count: int, concurrency: int, tick: Tick
) -> list[Outcome]:
    run = secrets.token_hex(3)

    async def one(index: int) -> Outcome:
        start = WithStartWorkflowOperation(
            BareWorkflow.run,
            shape,
            id=f"bench-bare-{run}-{index}",
            task_queue=BARE_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        sent = time.monotonic()
        await client.execute_update_with_start_workflow(BareWorkflow.submit, shape, start_workflow_operation=start)
        answered = time.monotonic()
        handle = await start.workflow_handle()
        for _ in range(shape.signals):
            await handle.signal(BareWorkflow.step)
        ok = await handle.result() == shape.signals
        tick()
        return Outcome(sent, answered, time.monotonic(), ok)

    return await bounded(count, concurrency, one)


async def drive_bare_inserts(http: httpx.AsyncClient, count: int, concurrency: int, tick: Tick) -> list[Outcome]:
    async def one(index: int) -> Outcome:
        sent = time.monotonic()
        response = await request(http, "POST", "/bare", json=order_body("SKU-BARE"))
        answered = time.monotonic()
        tick()
        return Outcome(sent, answered, answered, response.status_code == 201)

    return await bounded(count, concurrency, one)


async def drive_to_delivered(http: httpx.AsyncClient, sku: str, count: int, concurrency: int, tick: Tick) -> list[Outcome]:
    """Orders driven to `delivered` and left there, parked in their (long) return window."""

    async def one(_: int) -> Outcome:
        body = order_body(sku)
        sent = time.monotonic()
        response = await request(http, "POST", "/orders", headers=CLIENT, json=body)
        answered = time.monotonic()
        ok = response.status_code == 201
        while ok:
            current = await request(http, "GET", f"/orders/{body['order_id']}", headers=CLIENT)
            status = current.json().get("status") if current.status_code == 200 else None
            if status == "delivered":
                break
            if status in ("cancelled", "closed"):
                ok = False
            # An order takes many seconds to reach delivered; polling slowly keeps the API's
            # CPU (which the worker needs on a small machine) out of the parking rate.
            await asyncio.sleep(DELIVERED_POLL_SECONDS)
        tick()
        return Outcome(sent, answered, time.monotonic(), ok, body["order_id"])

    return await bounded(count, concurrency, one)
