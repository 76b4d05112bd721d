"""Issue 6.3: the Temporal dev server is SIGKILLed and restarted on its database file, and
PostgreSQL is stopped and restarted, while orders are in flight. No accepted order is lost, the
worker and the API reconnect by themselves (neither is restarted), and /readyz answers 503 while
an outage lasts and 200 after."""

import asyncio
import signal
import time
from typing import Any

import httpx

from tests.integration.helpers import order_body
from tests.reliability.conftest import until
from tests.reliability.orders import Submissions, assert_nothing_lost, stocked_sku, submit_one, submit_orders
from tests.reliability.stack import CLIENT, Stack

BATCH = 20
# How long each outage is held. Long enough for the worker's polls and the API's calls to fail
# many times over, so "reconnects by itself" is not a matter of a lucky retry.
OUTAGE_SECONDS = 20.0
ON_HAND = 3 * 3 * BATCH + 10


async def readiness(api: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await api.get("/readyz", timeout=10)
    body = response.json()
    return response.status_code, body.get("checks", body)


async def test_temporal_and_postgres_outages_lose_no_accepted_order(stack: Stack) -> None:
    started = time.monotonic()
    stack.start()
    seen = Submissions()
    outages: list[str] = []
    refused_bodies: list[dict[str, Any]] = []  # submitted during an outage; the storefront repeats them

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        sku = await stocked_sku(api, ON_HAND)

        def count(*statuses: str) -> int:
            by_status = stack.statuses(list(seen.accepted))
            return sum(by_status.get(s, 0) for s in statuses)

        async def down(component: str) -> str:
            """/readyz names `component` down, and keeps saying so while the outage lasts; an order
            submitted meanwhile is refused with a problem (not accepted, so the client repeats it)."""
            await until(lambda: _down(api, component), 60, f"/readyz answering 503 with {component} down")
            refused = await api.post("/orders", headers=CLIENT, json=(body := order_body(sku)))
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["type"] == "/problems/service-unavailable"
            assert refused.headers["retry-after"]
            refused_bodies.append(body)
            answers = 0
            held_until = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < held_until:
                assert await _down(api, component), f"/readyz must say {component} is down while it is"
                answers += 1
                await asyncio.sleep(0.5)
            return (
                f"{answers} x 503 over {OUTAGE_SECONDS:.0f}s, POST /orders meanwhile: {refused.status_code}"
            )

        async def back() -> float:
            began = time.monotonic()
            await until(lambda: _ready(api), 120, "/readyz answering 200 again")
            return time.monotonic() - began

        await submit_orders(api, sku, BATCH, seen)
        await until(
            lambda: count("fulfilling", "shipped", "delivered", "closed") >= BATCH // 2, 300, "orders moving"
        )

        # Temporal: SIGKILL mid-run, restart on the same database file.
        in_flight = BATCH - count("closed")
        stack.temporal.kill(signal.SIGKILL)
        during = await down("temporal")
        stack.start_temporal()
        recovered = await back()
        outages.append(
            f"temporal SIGKILL with {in_flight} in flight; {during}; ready {recovered:.1f}s after restart"
        )
        await submit_orders(api, sku, BATCH, seen)

        # PostgreSQL: stopped (fast shutdown drops every connection) and started again.
        await until(
            lambda: count("fulfilling", "shipped", "delivered", "closed") >= BATCH, 300, "orders moving"
        )
        in_flight = len(seen.accepted) - count("closed")
        stack.stop_postgres()
        during = await down("database")
        stack.start_postgres()
        recovered = await back()
        outages.append(
            f"postgres stop with {in_flight} in flight; {during}; ready {recovered:.1f}s after restart"
        )
        await submit_orders(api, sku, BATCH // 2, seen)
        for body in refused_bodies:
            await submit_one(api, body, seen)

        try:
            await until(lambda: count("closed") == len(seen.accepted), 900, "every accepted order closed")
        except AssertionError:
            print("statuses:", stack.statuses(list(seen.accepted)))
            print("open orders:", stack.open_orders(list(seen.accepted)))
            raise

    assert stack.worker.running and stack.worker.starts == 1, "the worker reconnected by itself"
    assert stack.api.running and stack.api.starts == 1, "the API reconnected by itself"
    figures = assert_nothing_lost(stack, seen, sku, ON_HAND)
    print("\n".join(outages))
    print(
        f"RELIABILITY outages: temporal SIGKILL+restart and postgres stop+start mid-run,"
        f" accepted={len(seen.accepted)} closed={figures['orders']} captures={figures['captures']}"
        f" worker/api restarts=0, POST repeats={seen.repeats}, duration={time.monotonic() - started:.0f}s"
    )


async def _down(api: httpx.AsyncClient, component: str) -> bool:
    code, checks = await readiness(api)
    return code == 503 and checks.get(component) == "down"


async def _ready(api: httpx.AsyncClient) -> bool:
    code, _ = await readiness(api)
    return code == 200
