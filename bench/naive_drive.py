"""The naive baseline's driver (bench/naive_workflow.py), at the same concurrency as the others.

Each order is started with Update-with-Start and answered once accepted, like one of ours; then
the driver sends its parcel's four events as signals, as the simulator sends ours (the pick
confirmation and the carrier's three webhooks). The parcel exists only once the order has paid
and started it, so a signal that finds no parcel yet is sent again after a short back-off (50 ms
at first, as often as the simulator polls, then up to 200 ms); those retries are counted, they
cost the server a little, and are the naive baseline's to pay.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from bench.drive import Outcome, bounded
from bench.naive_workflow import (
    NAIVE_TASK_QUEUE,
    PARCEL_EVENTS,
    NaiveOrderWorkflow,
    NaiveParcelWorkflow,
    parcel_workflow_id,
)

FIRST_RETRY_SECONDS = 0.05
MAX_RETRY_SECONDS = 0.2


async def signal_when_there(parcel: WorkflowHandle[NaiveParcelWorkflow, int], event: str) -> int:
    """Send `event` to the parcel as soon as it exists; how many sends found no parcel yet."""
    missed, pause = 0, FIRST_RETRY_SECONDS
    while True:
        try:
            await parcel.signal(NaiveParcelWorkflow.event, event)
            return missed
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
        missed += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_RETRY_SECONDS)


async def one_naive_order(
    client: Client, workflow_id: str, wait_seconds: float, task_queue: str = NAIVE_TASK_QUEUE
) -> tuple[Outcome, int]:
    """One naive order from submit to closed, and how many parcel signals had to be sent again."""
    start = WithStartWorkflowOperation(
        NaiveOrderWorkflow.run,
        wait_seconds,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    sent = time.monotonic()
    await client.execute_update_with_start_workflow(
        NaiveOrderWorkflow.submit, wait_seconds, start_workflow_operation=start
    )
    answered = time.monotonic()
    handle = await start.workflow_handle()
    parcel: WorkflowHandle[NaiveParcelWorkflow, int] = client.get_workflow_handle_for(
        NaiveParcelWorkflow.run, parcel_workflow_id(workflow_id)
    )
    missed = 0
    for event in PARCEL_EVENTS:
        missed += await signal_when_there(parcel, event)
    try:
        ok = await handle.result() == "closed"
    except WorkflowFailureError:  # counted as not finished, like a failed order of ours
        ok = False
    return Outcome(sent, answered, time.monotonic(), ok, workflow_id), missed


async def drive_naive_orders(
    client: Client, wait_seconds: float, count: int, concurrency: int, tick: Callable[[], None]
) -> tuple[list[Outcome], int]:
    """`count` naive orders, `concurrency` at a time; their outcomes and the parcel signals sent
    again in all."""
    run = secrets.token_hex(3)
    missed = 0

    async def one(index: int) -> Outcome:
        nonlocal missed
        outcome, again = await one_naive_order(client, f"bench-naive-{run}-{index}", wait_seconds)
        missed += again
        tick()
        return outcome

    return await bounded(count, concurrency, one), missed
