"""A structural property, not a timing: the history a single-parcel order leaves in Temporal.

Every event is stored, replayed on each cache miss and counted against the 50k-event limit, so
the order's history size is part of its cost. The count is deterministic for a given path.
"""

from datetime import timedelta

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain import ids
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)

# The target is at most 60 on a real server (issue 7). The order takes 57 there: the time-skipping
# test server adds two events of its own (options updated, time skipping transitioned), so 59
# here. Pinned where it stands, so that any growth is a decision (docs/performance.md).
MAX_ORDER_EVENTS = 59
# Its parcel, pinned likewise (81 events before its short steps became local activities): rates,
# label, stock hand-over and notifications are markers in the parcel's workflow tasks, and no
# activity task is scheduled at all.
MAX_PARCEL_EVENTS = 58


def structural_size(types: list[str]) -> int:
    """The history's size without workflow tasks that timed out. On a loaded machine a workflow
    task can outlast its 10 s timeout; the server then schedules it again (3 events more: the
    machine's doing, not the workflow's)."""
    return len(types) - 3 * types.count("EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT")


async def test_single_parcel_order_history_stays_small(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    order_id = order["order_id"]
    shipment = await ship_to_carrier(api, order_id)
    for status in ("in_transit", "out_for_delivery", "delivered"):
        assert (await carrier_event(api, "economy", shipment["tracking_number"], status)).status_code == 202
    await wait_for_status(api, order_id, "delivered")
    handle = client.get_workflow_handle(f"order-{order_id}")
    await temporal_env.fast_forward(handle, timedelta(days=31))
    await wait_for_status(api, order_id, "closed")
    await handle.result()

    history = await handle.fetch_history()
    types = [EventType.Name(event.event_type) for event in history.events]
    counts = {name: types.count(name) for name in sorted(set(types))}
    assert structural_size(types) <= MAX_ORDER_EVENTS, f"{len(types)} events: {counts}"
    assert types[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"

    parcel = await client.get_workflow_handle(ids.shipment_workflow_id(shipment["shipment_id"])).fetch_history()
    parcel_types = [EventType.Name(event.event_type) for event in parcel.events]
    parcel_counts = {name: parcel_types.count(name) for name in sorted(set(parcel_types))}
    assert structural_size(parcel_types) <= MAX_PARCEL_EVENTS, f"{len(parcel_types)} events: {parcel_counts}"
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" not in parcel_counts, parcel_counts
    assert parcel_types[-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
