"""The API's conversations with Temporal: submit (Update-with-Start), cancel, ops actions,
address changes, stock arrivals, and signals.

Refusals raised by workflow update validators come back as ApplicationErrors whose type names a
domain.errors class; they are turned into problem details here, once.
"""

import hashlib
import json
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.problems import ProblemError, refusal_problem
from domain import ids
from domain.errors import BUSINESS_ERRORS
from domain.models import (
    AddressChange,
    AllocationAttempt,
    CancelRequest,
    OpsAction,
    OrderInput,
    OrderRequest,
    OrderView,
    ReturnRequest,
    ReturnView,
    StockArrival,
    SubmitResult,
)
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def request_hash(request: OrderRequest) -> str:
    """Fingerprint of a submission's content (the order id is the key, not the content)."""
    body = request.model_dump(mode="json", exclude={"order_id"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _problem_from_update_failure(error: WorkflowUpdateFailedError) -> ProblemError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in BUSINESS_ERRORS:
        return refusal_problem(cause.type, cause.message, BUSINESS_ERRORS[cause.type].http_status)
    return ProblemError(500, f"the order workflow refused the command: {cause}")


class WorkflowGone(Exception):
    """The workflow does not exist or has completed: answer from the projection."""


async def submit_order(client: Client, task_queue: str, inp: OrderInput) -> SubmitResult:
    request = inp.request
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        inp,
        id=ids.order_workflow_id(inp.order_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A completed order is never started again under the same id.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=(
            f"Order {inp.order_id}: {len(request.lines)} line(s), {request.channel.value}, "
            f"{request.shipping_speed.value}"
        ),
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.ORDER_STATUS, "received"),
                SearchAttributePair(sa.CUSTOMER_ID, request.customer.id),
                SearchAttributePair(sa.CHANNEL, request.channel.value),
                SearchAttributePair(sa.NEEDS_ATTENTION, False),
            ]
        ),
    )
    try:
        return await client.execute_update_with_start_workflow(
            OrderWorkflow.submit, inp, start_workflow_operation=start
        )
    except WorkflowUpdateFailedError as error:
        raise _problem_from_update_failure(error) from error
    except WorkflowAlreadyStartedError as error:
        raise WorkflowGone() from error
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.ALREADY_EXISTS):
            raise WorkflowGone() from error
        raise


def _order_handle(client: Client, order_id: str) -> WorkflowHandle[OrderWorkflow, OrderView]:
    return client.get_workflow_handle_for(OrderWorkflow.run, ids.order_workflow_id(order_id))


async def _order_update(
    client: Client, order_id: str, update: UpdateMethodMultiParam[[OrderWorkflow, ArgT], ResultT], arg: ArgT
) -> ResultT:
    """Run one update on an order: a refusal by its validator becomes a problem (409 mostly);
    a finished or unknown workflow raises WorkflowGone for the caller to answer from the projection."""
    try:
        return await _order_handle(client, order_id).execute_update(update, arg)
    except WorkflowUpdateFailedError as error:
        raise _problem_from_update_failure(error) from error
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowGone() from error
        raise


async def cancel_order(client: Client, order_id: str, request: CancelRequest) -> OrderView:
    """Cancel with compensations; TooLateToCancel after hand-over -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.cancel, request)


async def ops_action(client: Client, order_id: str, action: OpsAction) -> OrderView:
    """Apply an ops action; ActionNotApplicable -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.ops_action, action)


async def change_address(client: Client, order_id: str, change: AddressChange) -> OrderView:
    """New shipping address; AddressLocked (label bought) or ActionNotApplicable -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.change_address, change)


async def stock_arrived(client: Client, order_id: str, arrival: StockArrival) -> AllocationAttempt:
    """Ask a backordered order to reserve again; ActionNotApplicable (no longer backordered) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.stock_arrived, arrival)


async def request_return(client: Client, order_id: str, request: ReturnRequest) -> ReturnView:
    """Open a return; ReturnNotAllowed (window over, undelivered lines) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.request_return, request)


async def signal_workflow(client: Client, workflow_id: str, signal: str, arg: Any) -> bool:
    """False when no such workflow is running."""
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, arg)
        return True
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
