"""The API's conversations with Temporal: submit (Update-with-Start), cancel, ops actions,
address changes, stock arrivals, and the facts from outside (picks, tracking, return receipts).

Every update and signal is sent through a typed handle (`handle.signal(ShipmentWorkflow.pick_confirmed,
...)`), never by a string name: a renamed handler then breaks the type check here, not an order in
production. The names on the wire stay the handlers' own, so recorded histories keep replaying.

Refusals raised by workflow update validators come back as ApplicationErrors whose type names a
domain.errors class; they are turned into problem details here, once.
"""

import hashlib
import json
from collections.abc import Awaitable
from typing import TypeVar

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

from api.problems import ProblemError, invalid_request, refusal_problem
from domain import ids
from domain.errors import BUSINESS_ERRORS
from domain.models import (
    AddressChange,
    AllocationAttempt,
    BackorderChoice,
    CancelRequest,
    ClaimRequest,
    ClaimView,
    ContactChange,
    LinesEdit,
    OpsAction,
    OrderInput,
    OrderRequest,
    OrderView,
    ParcelBack,
    PickConfirmation,
    Problem,
    ReturnReceipt,
    ReturnRequest,
    ReturnView,
    ShipmentView,
    StockArrival,
    SubmitResult,
    TrackingEvent,
)
from workflows import search_attributes as sa
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow
from workflows.shipment import ShipmentWorkflow

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def request_hash(request: OrderRequest) -> str:
    """Fingerprint of a submission's content (the order id is the key, not the content)."""
    body = request.model_dump(mode="json", exclude={"order_id"})
    # Channel prices (issue 17) count only when sent: a body without them hashes as it did before
    # them, so repeating an order submitted before the upgrade is a repeat, not a conflict.
    if not body["adjustments"]:
        del body["adjustments"]
    if body["shipping_charge"] is None:
        del body["shipping_charge"]
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _problem_from_update_failure(error: WorkflowUpdateFailedError) -> ProblemError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == "InvalidOrder" and cause.details:
        # A validator that names the bad fields (as domain.models.Problem dicts): every one of them.
        fields = cause.details[0]
        if isinstance(fields, list) and fields:
            return invalid_request([Problem.model_validate(f) for f in fields])
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


async def edit_lines(client: Client, order_id: str, edit: LinesEdit) -> OrderView:
    """The order's new set of lines; TooLateToEdit (a changed line's parcel picked), OutOfStock,
    PaymentDeclined (the difference) -> 409; InvalidOrder (a SKU gone from the catalog) -> 422."""
    return await _order_update(client, order_id, OrderWorkflow.edit_lines, edit)


async def edit_contact(client: Client, order_id: str, change: ContactChange) -> OrderView:
    """New contact e-mail or phone; TooLateToEdit (the order ended) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.edit_contact, change)


async def stock_arrived(client: Client, order_id: str, arrival: StockArrival) -> AllocationAttempt:
    """Ask a backordered order to reserve again; ActionNotApplicable (no longer backordered) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.stock_arrived, arrival)


async def backorder_choice(client: Client, order_id: str, choice: BackorderChoice) -> OrderView:
    """A backordered order's customer chose; ActionNotApplicable (not backordered) or OutOfStock
    (a substitute out of stock too) -> 409, InvalidOrder (naming the fields) -> 422."""
    return await _order_update(client, order_id, OrderWorkflow.backorder_choice, choice)


async def parcel_back(client: Client, order_id: str, back: ParcelBack) -> ShipmentView:
    """A returned parcel received back; ActionNotApplicable (not returned to sender, received
    back with other lines) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.parcel_back, back)


async def request_return(client: Client, order_id: str, request: ReturnRequest) -> ReturnView:
    """Open a return; ReturnNotAllowed (window over, undelivered lines) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.request_return, request)


async def file_claim(client: Client, order_id: str, request: ClaimRequest) -> ClaimView:
    """File a customer claim; ActionNotApplicable (not handed over, already claimed) -> 409."""
    return await _order_update(client, order_id, OrderWorkflow.file_claim, request)


def _shipment_handle(client: Client, shipment_id: str) -> WorkflowHandle[ShipmentWorkflow, ShipmentView]:
    return client.get_workflow_handle_for(ShipmentWorkflow.run, ids.shipment_workflow_id(shipment_id))


async def confirm_pick(client: Client, shipment_id: str, confirmation: PickConfirmation) -> bool:
    """The warehouse picked a parcel; False when no such parcel is open."""
    return await _delivered(
        _shipment_handle(client, shipment_id).signal(ShipmentWorkflow.pick_confirmed, confirmation)
    )


async def report_tracking(client: Client, shipment_id: str, event: TrackingEvent) -> bool:
    """A carrier's tracking event for a parcel; False when the parcel's workflow has ended."""
    return await _delivered(
        _shipment_handle(client, shipment_id).signal(ShipmentWorkflow.tracking_event, event)
    )


async def report_return_receipt(client: Client, rma_id: str, receipt: ReturnReceipt) -> bool:
    """The warehouse received a return; False when no such return is open."""
    handle: WorkflowHandle[ReturnWorkflow, ReturnView] = client.get_workflow_handle_for(
        ReturnWorkflow.run, ids.return_workflow_id(rma_id)
    )
    return await _delivered(handle.signal(ReturnWorkflow.received, receipt))


async def _delivered(sending: Awaitable[None]) -> bool:
    """Await one signal: False when no such workflow is running (unknown, or already completed)."""
    try:
        await sending
        return True
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
