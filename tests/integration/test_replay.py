"""Determinism and versioning (docs/versioning.md).

- Every history committed under tests/histories/ (one per lifecycle path and workflow type,
  recorded by `make histories`) replays against the current WORKFLOWS: a change to workflow code
  that would break orders already in flight fails here.
- The replay check itself is proven able to fail: a copy of ShipmentWorkflow with one extra
  command, registered under the same name, is refused on a committed history.
- Histories made now by the live stack replay too (what `make histories` would record next).
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from domain.models import RateQuote, ShipmentInput, ShipmentView
from tests.conftest import CLIENT, TEST_DATA_CONVERTER
from tests.histories.recording import PATHS, history_files, load, recorded_files
from tests.integration.helpers import (
    carrier_event,
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    submit,
    wait_for_status,
)
from worker import WORKFLOWS, sandbox_runner
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow
from workflows.shipment import ShipmentWorkflow


def _replayer(workflows: list[type]) -> Replayer:
    # The committed histories are encrypted with the committed test key: replay decodes with it.
    return Replayer(workflows=workflows, data_converter=TEST_DATA_CONVERTER, workflow_runner=sandbox_runner())


def test_histories_cover_every_recorded_path_and_workflow_type() -> None:
    files = recorded_files()
    paths = {f.name.split(".")[0] for f in files}
    assert paths == set(PATHS.values()), "run `make histories` (docs/versioning.md)"
    kinds = {f.name.split(".")[1] for f in files}
    assert kinds == {w.__name__ for w in WORKFLOWS}


async def _replay_failures(replayer: Replayer, histories: dict[str, WorkflowHistory]) -> dict[str, str]:
    """name -> why its replay failed, for every history that does not replay."""

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories.values():
            yield history

    names = {h.run_id: name for name, h in histories.items()}
    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    return {names.get(run_id, run_id): str(error) for run_id, error in results.replay_failures.items()}


async def test_every_committed_history_replays_against_the_current_workflows() -> None:
    histories = {f.name: load(f) for f in history_files()}
    assert histories
    assert not await _replay_failures(_replayer(list(WORKFLOWS)), histories)


@workflow.defn(name="ShipmentWorkflow")
class ShipmentWorkflowWithAnExtraTimer(ShipmentWorkflow):
    """The kind of change that must go behind `workflow.patched`: a timer before rate shopping
    adds a command that the recorded histories do not have."""

    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentView:
        return await super().run(inp)

    async def _shop_rates(self) -> RateQuote:
        await workflow.sleep(timedelta(seconds=1))
        return await super()._shop_rates()


def _happy_path_shipment() -> WorkflowHistory:
    return load(next(f for f in recorded_files() if f.name == "happy-path-closed.ShipmentWorkflow.json"))


async def test_replay_catches_a_non_deterministic_change() -> None:
    history = _happy_path_shipment()
    # Unsandboxed: the modified class lives in this test module, which the sandbox would re-import.
    unchanged = Replayer(
        workflows=[OrderWorkflow, ShipmentWorkflow, ReturnWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    await unchanged.replay_workflow(history)  # the control: the same history, the same runner, passes

    changed = Replayer(
        workflows=[OrderWorkflow, ShipmentWorkflowWithAnExtraTimer, ReturnWorkflow],
        data_converter=TEST_DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(NondeterminismError):
        await changed.replay_workflow(history)
    # ... and the check that replays every committed history reports it under the file's name.
    failures = await _replay_failures(changed, {"happy-path-closed.ShipmentWorkflow.json": history})
    assert list(failures) == ["happy-path-closed.ShipmentWorkflow.json"]
    assert "nondeterminism" in failures["happy-path-closed.ShipmentWorkflow.json"].lower()


async def test_histories_of_live_delivered_and_cancelled_orders_replay(api: httpx.AsyncClient, client: Client) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    delivered = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, delivered["order_id"])
    for status in ("in_transit", "delivered"):
        await carrier_event(api, "economy", shipment["tracking_number"], status)
    await wait_for_status(api, delivered["order_id"], "delivered")

    # Cash on delivery, captured at delivery (patch cod-capture-on-delivery-20261202).
    cod = await submit(api, order_body(sku, payment={"method": "cod"}))
    cod_parcel = await ship_to_carrier(api, cod["order_id"])
    for status in ("in_transit", "delivered"):
        await carrier_event(api, cod_parcel["carrier"], cod_parcel["tracking_number"], status)
    for _ in range(300):
        if (await get_order(api, cod["order_id"]))["payment"]["status"] == "captured":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the cod order was not captured at delivery")

    cancelled = await submit(api, order_body(sku))
    await ship_to_carrier(api, cancelled["order_id"])
    response = await api.post(f"/orders/{cancelled['order_id']}/cancel", headers=CLIENT, json={})
    assert response.status_code == 200

    workflow_ids = [
        f"order-{delivered['order_id']}",
        f"shipment-{shipment['shipment_id']}",
        f"order-{cod['order_id']}",
        f"order-{cancelled['order_id']}",
        f"shipment-{cancelled['order_id']}-P1",
    ]
    histories = {w: await client.get_workflow_handle(w).fetch_history() for w in workflow_ids}
    assert not await _replay_failures(_replayer(list(WORKFLOWS)), histories)
