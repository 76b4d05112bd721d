"""Issue 6.1: the worker is SIGKILLed three times while orders are in flight and restarted each
time; every order still closes, with one capture per order and stock conserved."""

import asyncio
import os
import signal
import time

import httpx

from tests.reliability.conftest import until
from tests.reliability.orders import Submissions, assert_nothing_lost, stocked_sku, submit_orders
from tests.reliability.stack import Stack

ORDERS = int(os.environ.get("OMS_RELIABILITY_ORDERS", "200"))
ON_HAND = 3 * ORDERS + 50


async def test_worker_killed_three_times_loses_no_order(stack: Stack) -> None:
    started = time.monotonic()
    stack.start()
    kills: list[str] = []

    def kill_and_restart(moment: str) -> None:
        code = stack.worker.kill(signal.SIGKILL)
        assert code == -signal.SIGKILL
        kills.append(f"{moment}: {stack.statuses(list(seen.accepted))}")
        stack.worker.start()

    seen = Submissions()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        sku = await stocked_sku(api, ON_HAND)
        submitting = asyncio.create_task(submit_orders(api, sku, ORDERS, seen))

        # 1: during intake, a quarter of the orders accepted.
        await until(lambda: len(seen.accepted) >= ORDERS // 4, 300, "a quarter of the orders accepted")
        kill_and_restart("intake")
        await submitting
        in_flight = len(seen.accepted)

        def count(*statuses: str) -> int:
            by_status = stack.statuses(list(seen.accepted))
            return sum(by_status.get(s, 0) for s in statuses)

        # 2: a third of the parcels on their way (labels bought, stock shipped).
        await until(lambda: count("shipped", "delivered", "closed") >= ORDERS // 3, 600, "a third shipped")
        kill_and_restart("shipping")
        # 3: half of the orders closed, the rest between payment and delivery.
        await until(lambda: count("closed") >= ORDERS // 2, 600, "half closed")
        kill_and_restart("closing")

        await until(lambda: count("closed") == ORDERS, 900, f"all {ORDERS} orders closed")

    figures = assert_nothing_lost(stack, seen, sku, ON_HAND)
    print("\n".join(kills))
    print(
        f"RELIABILITY worker-crash: orders={in_flight} in flight, worker SIGKILLed {len(kills)}x and restarted"
        f" {stack.worker.starts - 1}x, closed={figures['orders']} captures={figures['captures']}"
        f" labels={figures['labels']} units shipped={figures['units']} (stock {ON_HAND}->{ON_HAND - figures['units']}),"
        f" POST repeats={seen.repeats}, duration={time.monotonic() - started:.0f}s"
    )
