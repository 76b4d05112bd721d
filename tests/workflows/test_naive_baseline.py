"""The benchmark's naive baseline (bench/naive_workflow.py) is the plain lifecycle it claims to be:
an order of 16 regular activities answered once accepted, one parcel child of 10 regular
activities fed its four events as signals by the driver, and one return-window timer. On the
session's dev server, with the baseline's own worker in the production sandbox; no timing."""

import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.worker import Worker

from bench.naive_drive import one_naive_order
from bench.naive_workflow import (
    ANSWERED_AFTER,
    ORDER_STEPS,
    PARCEL_EVENTS,
    PARCEL_STEPS,
    NaiveOrderWorkflow,
    NaiveParcelWorkflow,
    naive_step,
    parcel_workflow_id,
)
from worker import sandbox_runner


def kinds(events: Sequence[HistoryEvent]) -> list[str]:
    from temporalio.api.enums.v1 import EventType

    return [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events]


async def scheduled_steps(client: Client, events: Sequence[HistoryEvent]) -> list[str]:
    steps: list[str] = []
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            assert attrs.activity_type.name == "naive_step"
            [step] = await client.data_converter.decode(attrs.input.payloads, [str])
            steps.append(step)
    return steps


async def test_naive_order_runs_16_activities_and_its_parcel_10(client: Client) -> None:
    assert len(ORDER_STEPS) == 16 and len(PARCEL_STEPS) == 10
    queue = f"bench-naive-test-{secrets.token_hex(3)}"
    order_id = f"naive-test-{secrets.token_hex(4)}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[NaiveOrderWorkflow, NaiveParcelWorkflow],
            activities=[naive_step],
            activity_executor=executor,
            workflow_runner=sandbox_runner(),
        ):
            outcome, _ = await one_naive_order(client, order_id, 0.1, task_queue=queue)
    assert outcome.ok and outcome.answered <= outcome.finished

    order = (await client.get_workflow_handle(order_id).fetch_history()).events
    order_kinds = kinds(order)
    assert await scheduled_steps(client, order) == list(ORDER_STEPS)
    assert order_kinds.count("ACTIVITY_TASK_COMPLETED") == 16
    assert order_kinds.count("LOCAL_ACTIVITY") == 0 and order_kinds.count("MARKER_RECORDED") == 0
    assert order_kinds.count("TIMER_STARTED") == order_kinds.count("TIMER_FIRED") == 1
    assert order_kinds.count("CHILD_WORKFLOW_EXECUTION_COMPLETED") == 1
    assert order_kinds[-1] == "WORKFLOW_EXECUTION_COMPLETED"
    # Answered like an order: once accepted (the status write), before the rest of the work.
    completed = [i for i, k in enumerate(order_kinds) if k == "ACTIVITY_TASK_COMPLETED"]
    answered_after = ORDER_STEPS.index(ANSWERED_AFTER)
    update_done = order_kinds.index("WORKFLOW_EXECUTION_UPDATE_COMPLETED")
    assert completed[answered_after] < update_done < completed[answered_after + 1]

    parcel = (await client.get_workflow_handle(parcel_workflow_id(order_id)).fetch_history()).events
    parcel_kinds = kinds(parcel)
    assert await scheduled_steps(client, parcel) == list(PARCEL_STEPS)
    assert parcel_kinds.count("ACTIVITY_TASK_COMPLETED") == 10
    signals = [e.workflow_execution_signaled_event_attributes for e in parcel if e.HasField(
        "workflow_execution_signaled_event_attributes")]
    names = [(await client.data_converter.decode(s.input.payloads, [str]))[0] for s in signals]
    assert names == list(PARCEL_EVENTS)
    assert parcel_kinds[-1] == "WORKFLOW_EXECUTION_COMPLETED"
