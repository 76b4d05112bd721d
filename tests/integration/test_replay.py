"""Determinism: histories of real runs replay against the current workflow code without error."""

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import CLIENT
from tests.integration.helpers import (
    carrier_event,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)
from worker import WORKFLOWS, sandbox_runner


async def test_histories_of_delivered_and_cancelled_orders_replay(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    delivered = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, delivered["order_id"])
    for status in ("in_transit", "delivered"):
        await carrier_event(api, "economy", shipment["tracking_number"], status)
    await wait_for_status(api, delivered["order_id"], "delivered")

    cancelled = await submit(api, order_body(sku))
    await ship_to_carrier(api, cancelled["order_id"])
    response = await api.post(f"/orders/{cancelled['order_id']}/cancel", headers=CLIENT, json={})
    assert response.status_code == 200

    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=sandbox_runner())
    workflow_ids = [
        f"order-{delivered['order_id']}",
        f"shipment-{shipment['shipment_id']}",
        f"order-{cancelled['order_id']}",
        f"shipment-{cancelled['order_id']}-P1",
    ]
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{workflow_id}: {result.replay_failure}"
