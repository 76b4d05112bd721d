"""Driving the real workflows the way the API, the warehouse and the carriers do, without them.

Orders start with the same Update-with-Start as `api.temporal_calls.submit_order`; commands are
the workflow's updates and facts its signals, all by their typed handles; reads are the
workflows' `state` queries. Timers are fast-forwarded per workflow on the time-skipping dev server.
"""

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor, Worker

from domain import ids
from domain.enums import OpsActionKind, OrderStatus, ReturnStatus, ShipmentStatus, TrackingStatus
from domain.models import (
    Address,
    CancelRequest,
    Customer,
    OpsAction,
    OrderInput,
    OrderLine,
    OrderPolicy,
    OrderRequest,
    OrderView,
    PaymentRequest,
    PickConfirmation,
    ReturnReceipt,
    ReturnRequest,
    ReturnView,
    ShipmentView,
    SubmitResult,
    TimelineEntry,
    TrackingEvent,
)
from tests.workflows.stubs import Stubs
from worker import WORKFLOWS, sandbox_runner
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow
from workflows.shipment import ShipmentWorkflow


def stub_worker(
    env: WorkflowEnvironment,
    task_queue: str,
    activities: list[Callable[..., Any]],
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A worker with the real workflows (OrderWorkflow, ShipmentWorkflow, ReturnWorkflow) and
    the given stub activities, in the production sandbox and its pass-through modules (worker.py).
    `interceptors`: a test's way to hold a workflow's step for a while (a child's start)."""
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        workflow_runner=sandbox_runner(),
        interceptors=interceptors,
    )

T = TypeVar("T")

# What the projection must agree on with the workflow once it has caught up. Left out:
# - shipments: the parcels a fulfilment starts are added after its `fulfilment.started`
#   transition and reach the projection with the next one (parcels have rows of their own);
# - times: `workflow.now()` read after a local activity differs by milliseconds between the first
#   run (what the projection got) and a replay of the workflow (what the query answers).
PROJECTED_FIELDS: dict[str, Any] = {
    "status": True, "needs_attention": True, "attention_reason": True, "available_actions": True,
    "lines": True, "totals": True, "payment": True, "hold": {"reason", "codes", "info_requested"},
    "cancellation_reason": True, "returns": True, "shipping_address": True, "version": True,
}

WAIT = 20.0  # seconds a test waits for a workflow to reach a state before it fails


def order_request(*lines: tuple[str, int, str], **changes: Any) -> OrderRequest:
    """A valid web order of (sku, quantity, unit price) lines, to a customer of its own."""
    phone = "+8613800000000"
    request = OrderRequest(
        order_id=f"WF-{secrets.token_hex(5)}",
        channel="web",
        customer=Customer(id=f"cust-{secrets.token_hex(4)}", email="li.lei@example.com", phone=phone, name="Li Lei"),
        lines=[OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price)) for sku, quantity, price in lines],
        currency="CNY",
        shipping_address=Address(
            name="Li Lei", line1="1 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN", phone=phone
        ),
        payment=PaymentRequest(method="card", token="tok_visa"),
    )
    return request.model_copy(update=changes)


@dataclass
class Orders:
    env: WorkflowEnvironment
    task_queue: str
    stubs: Stubs
    started: list[str] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    # --- the order ------------------------------------------------------------------------

    async def submit(
        self, request: OrderRequest, policy: OrderPolicy | None = None, *, task_timeout: timedelta | None = None
    ) -> OrderView:
        """POST /orders without HTTP: the API's Update-with-Start, answered with the verdict.
        `task_timeout`: the workflow task timeout, when a test needs it short (the API sets none)."""
        assert request.order_id is not None
        inp = OrderInput(
            order_id=request.order_id,
            request=request,
            request_hash=f"hash-of-{request.order_id}",
            received_at=datetime.now(UTC),
            policy=policy or OrderPolicy(),
        )
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            inp,
            id=ids.order_workflow_id(inp.order_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            task_timeout=task_timeout,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORDER_STATUS, "received"),
                    SearchAttributePair(sa.CUSTOMER_ID, request.customer.id),
                    SearchAttributePair(sa.CHANNEL, request.channel.value),
                    SearchAttributePair(sa.NEEDS_ATTENTION, False),
                ]
            ),
        )
        self.started.append(ids.order_workflow_id(inp.order_id))
        result: SubmitResult = await self.client.execute_update_with_start_workflow(
            OrderWorkflow.submit, inp, start_workflow_operation=start
        )
        assert result.created
        return result.order

    def order(self, order_id: str) -> WorkflowHandle[OrderWorkflow, OrderView]:
        return self.client.get_workflow_handle_for(OrderWorkflow.run, ids.order_workflow_id(order_id))

    async def state(self, order_id: str) -> OrderView:
        """The order as its workflow has it: the `state` query while it runs, its result once it
        has ended. (A query to an ended workflow replays its whole history on the worker; replay
        is tests/integration/test_replay.py's and tests/workflows/test_replay.py's concern.)"""
        handle = self.order(order_id)
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            try:
                return await handle.query(OrderWorkflow.state)
            except WorkflowQueryFailedError:
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    raise
                # It ended between the two calls.
        return await handle.result()

    async def wait(self, order_id: str, check: Callable[[OrderView], object], what: str) -> OrderView:
        return await _until(lambda: self.state(order_id), check, f"order {order_id}: {what}")

    async def wait_status(self, order_id: str, status: OrderStatus) -> OrderView:
        return await self.wait(order_id, lambda o: o.status is status, status.value)

    async def ops(self, order_id: str, kind: OpsActionKind, note: str | None = None, **params: Any) -> OrderView:
        return await self.order(order_id).execute_update(
            OrderWorkflow.ops_action, OpsAction(action=kind, note=note, params=params, actor="ops-tester")
        )

    async def cancel(self, order_id: str, reason: str = "customer changed their mind") -> OrderView:
        return await self.order(order_id).execute_update(OrderWorkflow.cancel, CancelRequest(reason=reason))

    async def projected(self, order_id: str) -> OrderView:
        """The order once the projection has caught up with it: every transition written once and
        in order, and the newest snapshot agreeing with the workflow's state on what the door
        records (PROJECTED_FIELDS)."""
        state = await self.wait(
            order_id,
            lambda o: self.stubs.projected(order_id) and self.stubs.projected(order_id)[-1].seq == o.version,
            "projection caught up",
        )
        records = self.stubs.projected(order_id)
        assert [r.seq for r in records] == list(range(1, state.version + 1))
        assert [_entry(r.entry) for r in records] == [_entry(e) for e in state.timeline]
        newest = records[-1].order.model_dump(mode="json", include=PROJECTED_FIELDS)
        live = state.model_dump(mode="json", include=PROJECTED_FIELDS)
        assert newest == live, {k: (newest[k], live[k]) for k in live if newest[k] != live[k]}
        return state

    async def sent(self, order_id: str, kind: str) -> list[str]:
        """Wait until a message of `kind` about the order went out; the kinds sent so far."""

        async def kinds() -> list[str]:
            return self.stubs.kinds(order_id)

        found: list[str] = await _until(kinds, lambda sent: kind in sent, f"{kind} message for {order_id}")
        return found

    # --- parcels --------------------------------------------------------------------------

    def parcel(self, shipment_id: str) -> WorkflowHandle[ShipmentWorkflow, ShipmentView]:
        return self.client.get_workflow_handle_for(ShipmentWorkflow.run, ids.shipment_workflow_id(shipment_id))

    async def parcel_state(self, shipment_id: str) -> ShipmentView:
        async def query() -> ShipmentView | None:
            try:
                return await self.parcel(shipment_id).query(ShipmentWorkflow.state)
            except RPCError as error:
                if error.status is RPCStatusCode.NOT_FOUND:
                    return None  # the order has not started it yet
                raise

        found = await _until(query, lambda view: view is not None, f"parcel {shipment_id} started")
        assert found is not None
        return found

    async def wait_parcel(self, shipment_id: str, status: ShipmentStatus) -> ShipmentView:
        await self.parcel_state(shipment_id)
        return await _until(
            lambda: self.parcel(shipment_id).query(ShipmentWorkflow.state),
            lambda view: view.status is status,
            f"parcel {shipment_id}: {status.value}",
        )

    async def pick(self, shipment_id: str) -> ShipmentView:
        """The warehouse confirms the pick; returns the parcel once its label is bought."""
        await self.wait_parcel(shipment_id, ShipmentStatus.PICKING)
        await self.parcel(shipment_id).signal(ShipmentWorkflow.pick_confirmed, PickConfirmation(picker="picker-7"))
        return await self.wait_parcel(shipment_id, ShipmentStatus.LABEL_CREATED)

    async def carrier(self, shipment_id: str, status: TrackingStatus, detail: str | None = None) -> None:
        """A carrier webhook about the parcel (its label must have been bought)."""
        view = await self.parcel_state(shipment_id)
        assert view.tracking_number is not None, "no label yet"
        event = TrackingEvent(tracking_number=view.tracking_number, status=status, detail=detail, at=datetime.now(UTC))
        await self.parcel(shipment_id).signal(ShipmentWorkflow.tracking_event, event)

    async def hand_over(self, shipment_id: str) -> None:
        """Picked, labelled and scanned by the carrier: the parcel is in transit."""
        await self.pick(shipment_id)
        await self.carrier(shipment_id, TrackingStatus.IN_TRANSIT)
        await self.wait_parcel(shipment_id, ShipmentStatus.IN_TRANSIT)

    async def deliver(self, order_id: str, shipment_id: str) -> OrderView:
        await self.hand_over(shipment_id)
        await self.carrier(shipment_id, TrackingStatus.DELIVERED)
        return await self.wait(
            order_id,
            lambda o: any(s.shipment_id == shipment_id and s.status is ShipmentStatus.DELIVERED for s in o.shipments),
            f"{shipment_id} delivered",
        )

    # --- returns --------------------------------------------------------------------------

    def rma(self, rma_id: str) -> WorkflowHandle[ReturnWorkflow, ReturnView]:
        return self.client.get_workflow_handle_for(ReturnWorkflow.run, ids.return_workflow_id(rma_id))

    async def request_return(self, order_id: str, request: ReturnRequest) -> ReturnView:
        return await self.order(order_id).execute_update(OrderWorkflow.request_return, request)

    async def receive_return(self, rma_id: str, receipt: ReturnReceipt) -> None:
        """The warehouse books the returned parcel in (once its return label is bought)."""
        await _until(
            lambda: self.rma(rma_id).query(ReturnWorkflow.state),
            lambda view: view.status is ReturnStatus.IN_TRANSIT,
            f"return {rma_id} in transit",
        )
        await self.rma(rma_id).signal(ReturnWorkflow.received, receipt)

    # --- time -----------------------------------------------------------------------------

    async def fast_forward(self, handle: WorkflowHandle[Any, Any], duration: timedelta) -> bool:
        """Move one workflow's clock on by `duration`: its timers that fall due fire. False when
        the workflow ended before the whole duration had passed."""
        return await self.env.fast_forward(handle, duration)

    async def terminate_started(self) -> None:
        """End what a test left running (its children go with it), so nothing waits on a dead queue."""
        for workflow_id in self.started:
            try:
                await self.client.get_workflow_handle(workflow_id).terminate("test over")
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise


async def _until(read: Callable[[], Awaitable[T]], check: Callable[[T], object], what: str) -> T:
    """Read until `check` accepts what was read, for up to WAIT seconds of real time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        last = await read()
        if check(last):
            return last
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {WAIT}s: {what}; last seen: {_brief(last)}")
        await asyncio.sleep(0.05)


def _entry(entry: TimelineEntry) -> tuple[str, str, str, list[str]]:
    """A timeline entry without its times (see PROJECTED_FIELDS)."""
    return (entry.status.value, entry.event, entry.actor, sorted(entry.detail))


def _brief(view: object) -> str:
    if isinstance(view, OrderView):
        return f"{view.status.value}, last events {[e.event for e in view.timeline[-5:]]}, attention {view.attention_reason}"
    if isinstance(view, ShipmentView):
        return f"{view.status.value} ({view.last_event})"
    return repr(view)
