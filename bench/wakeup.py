"""Mass wake-up (`oms bench --park 2000 --wake-together`, issue 18): many parked orders whose
return windows end at the same instant, then every one of them must close with no failed workflow
task (the SDK's deadlock detector fails a task whose activation does not yield within 2 s, which
a saturated machine tripped before: docs/performance.md, "Orders parked").

How the windows are made to end together. An order's window is counted from its own delivery
(workflows/order/after_sales.py: delivered_at + return window), and orders are delivered one
after another, so their windows end as spread out as their deliveries. The bench cannot move
them without changing the product; instead it takes the worker away while they end:

1. orders are parked in a return window longer than the parking takes (`--return-window`, or
   by default 1 s per order and 60 s more);
2. once all are delivered, every worker process is stopped (SIGTERM: a graceful stop);
3. the bench waits until the last window has ended: on the server every order's timer has fired
   and its workflow task waits on the task queue;
4. the workers start again, all the wake-ups before them at once, with an empty cache: each
   order is replayed from its history in a new sandbox instance before it can close. That is
   the harshest form of a mass wake-up (a deploy, or a worker restart, at the moment a sale's
   windows end), harsher than timers firing on a warm worker.

Counted from the histories (each order's and each parcel's): WorkflowTaskFailed events (the
target: zero) and WorkflowTaskTimedOut events (a task handed to a worker that did not answer in
time, e.g. a sticky queue of the stopped worker), with the first few failure messages.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus

from bench.burst import PeakMemory
from bench.drive import drive_to_delivered
from bench.stack import Stack
from domain import ids

FAILED = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
TIMED_OUT = EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
# Waiting for the stopped worker's last window to end: this much past the estimate.
WINDOW_MARGIN_SECONDS = 3.0


def default_window(park: int) -> timedelta:
    """Long enough for `park` orders to be delivered first (this machine parks 1.5-2.8 orders/s)."""
    return timedelta(seconds=60 + park)


async def statuses(client: Client, order_ids: list[str], concurrency: int = 32) -> dict[str, str]:
    """Each order workflow's execution status now (RUNNING, COMPLETED, ...)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(order_id: str) -> tuple[str, str]:
        async with gate:
            description = await client.get_workflow_handle(ids.order_workflow_id(order_id)).describe()
            status = description.status
            return order_id, status.name if status is not None else "UNKNOWN"

    return dict(await asyncio.gather(*(one(order_id) for order_id in order_ids)))


async def failed_tasks(
    client: Client, workflow_ids: list[str], since: datetime | None = None, concurrency: int = 16
) -> dict[str, Any]:
    """WorkflowTaskFailed and WorkflowTaskTimedOut events over these workflows' histories (and
    how many of the failures came at or after `since`)."""
    gate = asyncio.Semaphore(concurrency)
    failed = timed_out = failed_since = 0
    messages: Counter[str] = Counter()
    causes: Counter[str] = Counter()  # "<cause> (before|since) the wake"
    timeouts: Counter[str] = Counter()
    failing: list[str] = []

    def when(event: Any) -> str:
        if since is None:
            return ""
        return " since the wake" if event.event_time.ToDatetime(tzinfo=UTC) >= since else " before the wake"

    async def one(workflow_id: str) -> None:
        nonlocal failed, timed_out, failed_since
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        mine = 0
        for event in history.events:
            if event.event_type == FAILED:
                mine += 1
                if since is None or event.event_time.ToDatetime(tzinfo=UTC) >= since:
                    failed_since += 1
                attributes = event.workflow_task_failed_event_attributes
                messages[attributes.failure.message.splitlines()[0][:160] if attributes.failure.message else "?"] += 1
                cause = WorkflowTaskFailedCause.Name(attributes.cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
                causes[cause + when(event)] += 1
            elif event.event_type == TIMED_OUT:
                timed_out += 1
                kind = TimeoutType.Name(event.workflow_task_timed_out_event_attributes.timeout_type)
                timeouts[kind.removeprefix("TIMEOUT_TYPE_") + when(event)] += 1
        if mine:
            failed += mine
            failing.append(workflow_id)

    await asyncio.gather(*(one(workflow_id) for workflow_id in workflow_ids))
    return {
        "workflow_task_failed": failed,
        "workflow_task_failed_since_the_wake": failed_since,
        "workflow_task_timed_out": timed_out,
        "workflows_with_failed_tasks": len(failing),
        "failure_causes": dict(causes),
        "timeouts": dict(timeouts),
        "failure_messages": dict(messages.most_common(5)),
        "failing_samples": failing[:5],
    }


async def close_times(client: Client, order_ids: list[str], concurrency: int = 32) -> list[datetime | None]:
    gate = asyncio.Semaphore(concurrency)

    async def one(order_id: str) -> datetime | None:
        async with gate:
            handle = client.get_workflow_handle(ids.order_workflow_id(order_id))
            try:
                await asyncio.wait_for(handle.result(), 1800)
            except Exception:  # noqa: BLE001 - an order that did not close is counted
                return None
            description = await handle.describe()
            if description.status is not WorkflowExecutionStatus.COMPLETED:
                return None
            return description.close_time

    return list(await asyncio.gather(*(one(order_id) for order_id in order_ids)))


def restart_workers(stack: Stack, stopped: list[str]) -> None:
    for name in stopped:
        stack.spawn(name, [sys.executable, "-m", "cli", "worker"])


def stop_workers(stack: Stack) -> list[str]:
    """SIGTERM every worker process (graceful: in-flight tasks finish), wait until they are gone."""
    import contextlib
    import os
    import subprocess

    names = [name for name in stack.procs if name.startswith("worker")]
    for name in names:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stack.procs[name].popen.pid, 15)
    for name in names:
        popen = stack.procs[name].popen
        try:
            popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, 9)
            popen.wait()
    return names


async def run_wakeup(
    stack: Stack,
    http: httpx.AsyncClient,
    client: Client,
    sku: str,
    count: int,
    concurrency: int,
    window: timedelta,
    *,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    say(f"wake-together: parking {count} orders (return window {window})")
    parking_started = time.monotonic()
    parked = await drive_to_delivered(http, sku, count, concurrency, lambda: None)
    parked_in = time.monotonic() - parking_started
    delivered = [o.key for o in parked if o.ok]
    last_delivered = max((o.finished for o in parked if o.ok), default=time.monotonic())
    stopped = stop_workers(stack)
    before = await statuses(client, delivered)
    # The last window ends at most `window` after the last delivery was seen.
    wait = last_delivered + window.total_seconds() + WINDOW_MARGIN_SECONDS - time.monotonic()
    say(f"wake-together: {len(delivered)} parked in {parked_in:.0f} s; workers stopped; windows end in {wait:.0f} s")
    if wait > 0:
        await asyncio.sleep(wait)
    running = [order_id for order_id, status in before.items() if status == "RUNNING"]
    with PeakMemory(stack) as memory:
        woken_wall = datetime.now(UTC)
        restart_workers(stack, stopped)
        say("wake-together: workers started; waiting for every order to close")
        closed = await close_times(client, running)
    times = [t for t in closed if t is not None]
    workflow_ids = [ids.order_workflow_id(o) for o in delivered]
    workflow_ids += [ids.shipment_workflow_id(ids.shipment_id(o, 1)) for o in delivered]
    tasks = await failed_tasks(client, workflow_ids, since=woken_wall)
    return {
        "orders": count,
        "parked": len(delivered),
        "return_window_s": window.total_seconds(),
        "parking_s": round(parked_in, 1),
        # Orders whose window ended before the workers were stopped (should be none: then the
        # window was shorter than the parking).
        "closed_before_the_wake": sum(1 for status in before.values() if status == "COMPLETED"),
        "open_at_the_wake": len(running),
        "closed": len(times),
        "not_closed": len(closed) - len(times),
        "time_to_first_close_s": round((min(times) - woken_wall).total_seconds(), 2) if times else None,
        "time_to_close_all_s": round((max(times) - woken_wall).total_seconds(), 2)
        if times and len(times) == len(closed)
        else None,
        **tasks,
        "peak_rss_mib": memory.peaks_mib(),
        # The target: no workflow task failed while the orders woke and closed, nor was given up
        # after the worker took it (START_TO_CLOSE: a task it held 10 s without answering).
        # Failures before, while parking, are reported above with their causes.
        "ok": tasks["workflow_task_failed_since_the_wake"] == 0
        and not tasks["timeouts"].get("START_TO_CLOSE since the wake")
        and len(times) == len(running) == count,
    }

