"""OrderWorkflow: one e-commerce order from submission to close (DESIGN.md section 3).

received -> verifying [-> on_hold] -> allocating [-> backordered] -> payment_pending -> fulfilling
-> (partially_)shipped -> (partially_)delivered -> closed; or cancelled, with compensations, at
any point before hand-over.

How the pieces fit:
- Every change goes through `_transition` (the one door): state, attention, available ops
  actions, search attributes, current details, a timeline entry, and a queued projection write
  that `_project` drains in order (with any ops alert it queued).
- Commands arrive as validated updates (submit, cancel, ops_action, change_address,
  stock_arrived); facts as signals (shipment_changed). Handlers only validate and change state;
  the run loop drives the steps and consumes what the handlers left for it.
- Cancellation is cooperative: the run loop checks for it between steps and while it waits, so
  a step is never torn in half; compensations run once, shielded from workflow cancellation.
- Nothing fails silently: a step past its SLA flags the order; a step out of retries parks it
  until ops retry (or skip); both notify ops and show in `NeedsAttention`.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.notify import NotifyActivities
    from activities.payments import PaymentActivities
    from activities.store import ProjectionActivities
    from domain import ids
    from domain.allocation import shippable_lines
    from domain.enums import (
        BackorderPolicy,
        CarrierIssue,
        DamagedPolicy,
        OpsActionKind,
        OrderStatus,
        PaymentStatus,
        ReturnResolution,
        ReturnStatus,
        ShipmentStatus,
    )
    from domain.geography import region_of
    from domain.lifecycle import (
        ADDRESS_LOCKED,
        FULFILMENT_STATUSES,
        address_locked,
        cancel_refusal,
        fulfilment_status,
    )
    from domain.models import (
        AddressChange,
        Allocation,
        AllocationAttempt,
        AuthorizeRequest,
        CancelRequest,
        CatalogItem,
        Hold,
        Notification,
        OpsAction,
        OrderInput,
        OrderLine,
        OrderView,
        ParcelInstruction,
        ParcelLine,
        PaymentOperation,
        PaymentResult,
        PaymentView,
        RecentOrdersQuery,
        ReserveRequest,
        ReturnDecision,
        ReturnInput,
        ReturnRequest,
        ReturnView,
        ShipmentInput,
        ShipmentView,
        StockArrival,
        StockLevel,
        SubmitResult,
        TimelineEntry,
        TransitionRecord,
    )
    from domain.notifications import ops_notification, order_notification
    from domain.pricing import order_totals
    from domain.returns import auto_approves, return_lines, return_problems
    from domain.risk import describe, hold_reasons
    from domain.verification import verify_order
    from workflows import search_attributes as sa
    from workflows.failures import is_refusal
    from workflows.options import (
        ACTIVITY_TIMEOUT,
        LOCAL_ACTIVITY_TIMEOUT,
        PAYMENT_RETRY,
        PERSISTENT_RETRY,
    )
    from workflows.returns import RETURN_CHANGED_SIGNAL, ReturnWorkflow
    from workflows.shipment import SHIPMENT_CHANGED_SIGNAL, ShipmentWorkflow
    from workflows.supervision import STEP_FAILURES, bounded_retry, parked_on_failure, within_sla

T = TypeVar("T")

_INTAKE = (OrderStatus.RECEIVED, OrderStatus.VERIFYING)


class _CancelRequested(Exception):
    """Raised inside the run loop when a cancellation has been accepted."""


class _Refused(Exception):
    """A step refused the order for good (verification, stock, payment, ops): it ends cancelled."""

    def __init__(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        request = inp.request
        totals = order_totals(request.lines, request.shipping_speed)
        self._input = inp
        self._policy = inp.policy
        self._slas = inp.policy.slas.for_priority(request.priority)
        self._retry = bounded_retry(inp.policy.activity_attempts)
        self._order = OrderView(
            order_id=inp.order_id,
            status=OrderStatus.RECEIVED,
            channel=request.channel,
            channel_order_id=request.channel_order_id,
            customer=request.customer,
            lines=request.lines,
            currency=request.currency,
            totals=totals,
            shipping_address=request.shipping_address,
            shipping_speed=request.shipping_speed,
            priority=request.priority,
            payment=PaymentView(method=request.payment.method, amount=totals.grand_total),
            created_at=inp.received_at,
            updated_at=inp.received_at,
            workflow_id=ids.order_workflow_id(inp.order_id),
        )
        # Projection and alerts waiting to be written, in order.
        self._seq = 0
        self._unprojected: list[TransitionRecord] = []
        self._projected_seq = 0
        self._local_steps = 0  # local activities of the run loop in flight (see `_locally`)
        self._alerts: list[Notification] = []
        self._alert_count = 0
        # Intake.
        self._submissions = 0
        self._verdict: OrderView | None = None
        self._verdict_seq = 0
        self._catalog: dict[str, CatalogItem] = {}
        # Ops and commands left for the run loop.
        self._attention: dict[str, str] = {}
        self._awaiting_ops: frozenset[OpsActionKind] = frozenset()
        self._ops_pending: OpsAction | None = None
        self._cancel: CancelRequest | None = None
        self._arrivals: list[int] = []
        self._arrivals_seen = 0
        self._arrival_answers: dict[int, AllocationAttempt] = {}
        # What was done, for the compensations.
        self._compensation: asyncio.Task[None] | None = None
        self._children: list[workflow.ChildWorkflowHandle[ShipmentWorkflow, ShipmentView]] = []
        self._reservation_attempted = False
        self._payment: PaymentResult | None = None
        self._authorize_in_doubt = False
        self._capture_in_doubt = False
        self._upserted: tuple[Any, ...] = ()
        self._backordered_at = inp.received_at
        self._reships = 0
        self._finished_parcels: set[str] = set()
        self._warehouse_regions: dict[str, str] = {}  # where each parcel's warehouse is
        # After-sales.
        self._delivered_at: datetime | None = None
        self._return_requests: list[ReturnInput] = []
        self._return_children: dict[str, workflow.ChildWorkflowHandle[ReturnWorkflow, ReturnView]] = {}
        self._settled_returns: set[str] = set()
        self._shipping_refunded = False
        self._return_news = False
        self._approvals_told: set[str] = set()

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        projector = asyncio.create_task(self._project())
        self._transition(
            OrderStatus.RECEIVED,
            "order.received",
            actor=inp.actor,
            detail={"channel": inp.request.channel.value},
        )
        try:
            await self._lifecycle()
        except asyncio.CancelledError:
            # The workflow itself was cancelled (e.g. from the Temporal UI): same compensations.
            await self._cancel_order(CancelRequest(reason="workflow cancelled", actor="temporal"))
        await workflow.wait_condition(lambda: self._projected_seq == self._seq and not self._alerts)
        projector.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._order

    # --- commands (updates) ---------------------------------------------------------------

    @workflow.update
    async def submit(self, inp: OrderInput) -> SubmitResult:
        """Answer a submission with the verified outcome (accepted, on hold, or cancelled with
        reasons). Repeats get the same outcome with created=False."""
        created = self._submissions == 0
        self._submissions += 1
        await workflow.wait_condition(
            lambda: self._verdict is not None and self._projected_seq >= self._verdict_seq
        )
        assert self._verdict is not None
        return SubmitResult(created=created, order=self._verdict)

    @submit.validator
    def _validate_submit(self, inp: OrderInput) -> None:
        if inp.request_hash != self._input.request_hash:
            raise ApplicationError(
                f"order {inp.order_id} was already submitted with a different body",
                type="IdempotencyConflict",
            )

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        if self._cancel is None and self._order.status is not OrderStatus.CANCELLED:
            self._cancel = request
        await workflow.wait_condition(
            lambda: self._order.status is OrderStatus.CANCELLED and self._projected_seq == self._seq
        )
        return self._order

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        refusal = cancel_refusal(self._order)
        if refusal is not None:
            raise ApplicationError(f"cannot cancel: {refusal}", type="TooLateToCancel")

    @workflow.update
    async def ops_action(self, action: OpsAction) -> OrderView:
        """An ops action: recorded with who did it, then carried out by whoever waits for it."""
        self._transition(
            self._order.status,
            f"ops.{action.action.value}",
            actor=action.actor,
            detail={
                "note": action.note,
                **({"params": action.params} if action.params else {}),
            },
        )
        if action.action is OpsActionKind.CANCEL:
            if self._cancel is None:
                self._cancel = CancelRequest(reason=action.note or "cancelled by ops", actor=action.actor)
            await workflow.wait_condition(lambda: self._order.status is OrderStatus.CANCELLED)
        elif action.action in self._awaiting_ops:
            self._ops_pending = action
            await workflow.wait_condition(lambda: self._ops_pending is None)
        elif action.action in (OpsActionKind.APPROVE, OpsActionKind.REJECT):
            await self._decide_return(action)
        elif action.action is not OpsActionKind.NOTE:
            await self._instruct_parcel(action)
        await workflow.wait_condition(lambda: self._projected_seq == self._seq)
        return self._order

    @ops_action.validator
    def _validate_ops_action(self, action: OpsAction) -> None:
        available = self._available_actions()
        if action.action not in available:
            allowed = ", ".join(a.value for a in available) or "none"
            raise ApplicationError(
                f"{action.action.value} does not apply to an order that is {self._order.status.value} "
                f"(possible now: {allowed})",
                type="ActionNotApplicable",
            )
        if action.action is OpsActionKind.REROUTE and not isinstance(action.params.get("carrier"), str):
            raise ApplicationError("reroute needs params.carrier", type="ActionNotApplicable")

    @workflow.update
    async def change_address(self, change: AddressChange) -> OrderView:
        self._order.shipping_address = change.address
        for child in self._children:
            await child.signal(ShipmentWorkflow.change_destination, change.address)
        self._transition(self._order.status, "order.address_changed", actor=change.actor)
        await workflow.wait_condition(lambda: self._projected_seq == self._seq)
        return self._order

    @change_address.validator
    def _validate_change_address(self, change: AddressChange) -> None:
        if self._order.status.terminal:
            raise ApplicationError(f"the order is {self._order.status.value}", type="ActionNotApplicable")
        if address_locked(self._order):
            raise ApplicationError(ADDRESS_LOCKED, type="AddressLocked")

    @workflow.update
    async def stock_arrived(self, arrival: StockArrival) -> AllocationAttempt:
        """Stock came in: try the reservation again now; answers whether it succeeded."""
        self._arrivals_seen += 1
        ticket = self._arrivals_seen
        self._arrivals.append(ticket)
        await workflow.wait_condition(lambda: ticket in self._arrival_answers)
        return self._arrival_answers.pop(ticket)

    @stock_arrived.validator
    def _validate_stock_arrived(self, arrival: StockArrival) -> None:
        if self._order.status is not OrderStatus.BACKORDERED:
            raise ApplicationError(f"the order is {self._order.status.value}", type="ActionNotApplicable")

    # --- facts (signals) and state (query) ------------------------------------------------

    @workflow.update
    async def request_return(self, request: ReturnRequest) -> ReturnView:
        """Open a return (RMA) for delivered lines within the return window."""
        number = len(self._order.returns) + 1
        rma = ids.rma_id(self._order.order_id, number)
        lines = return_lines(self._order, request.lines)
        earlier = sum(1 for r in self._order.returns if r.status is not ReturnStatus.REJECTED)
        inp = ReturnInput(
            order_id=self._order.order_id,
            rma_id=rma,
            lines=[line.model_copy(update={"region": self._warehouse_regions.get(line.warehouse, "")}) for line in lines],
            reason=request.reason,
            resolution=request.resolution,
            customer_address=self._order.shipping_address,
            recipient=self._order.customer.email,
            language=self._order.customer.language,
            auto_approve=auto_approves(lines, request.reason, earlier),
            activity_attempts=self._policy.activity_attempts,
        )
        self._apply_return(
            ReturnView(
                rma_id=rma,
                status=ReturnStatus.REQUESTED,
                lines=request.lines,
                reason=request.reason,
                resolution=request.resolution,
                awaiting_approval=not inp.auto_approve,
            )
        )
        self._transition(self._order.status, "return.requested", actor=request.actor, detail={"rma_id": rma})
        self._return_requests.append(inp)
        await workflow.wait_condition(
            lambda: rma in self._return_children and self._projected_seq == self._seq
        )
        return next(r for r in self._order.returns if r.rma_id == rma)

    @request_return.validator
    def _validate_request_return(self, request: ReturnRequest) -> None:
        if (
            self._order.status not in (OrderStatus.DELIVERED, OrderStatus.RETURNING)
            or self._delivered_at is None
        ):
            raise ApplicationError(
                f"the order is {self._order.status.value}: only delivered orders take returns",
                type="ReturnNotAllowed",
            )
        if workflow.now() >= self._delivered_at + self._policy.return_window:
            raise ApplicationError("the return window is over", type="ReturnNotAllowed")
        problems = return_problems(self._order, request.lines)
        if problems:
            raise ApplicationError("; ".join(problems), type="ReturnNotAllowed")

    @workflow.signal(name=RETURN_CHANGED_SIGNAL)
    def return_changed(self, view: ReturnView) -> None:
        self._apply_return(view)
        self._return_news = True

    @workflow.signal(name=SHIPMENT_CHANGED_SIGNAL)
    def shipment_changed(self, shipment: ShipmentView) -> None:
        self._apply_shipment(shipment)

    @workflow.query
    def state(self) -> OrderView:
        return self._order

    # --- the run loop ---------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            await within_sla(
                "verifying",
                self._slas.verifying,
                self._verify(),
                *self._sla_hooks("verifying"),
            )
            if self._order.hold is not None:
                await self._hold()
            self._transition(OrderStatus.ALLOCATING, "order.accepted")
            # A regular activity on purpose: waiting on it ends this workflow task, and the answer
            # to POST /orders (the submit update) leaves only when its task completes. As a local
            # activity the task would run on through reservation and payment before answering
            # (tried and reverted, docs/performance.md).
            await self._notify("accepted")
            self._checkpoint()
            allocation = await within_sla(
                "allocating",
                self._slas.allocating,
                self._allocate(),
                *self._sla_hooks("allocating"),
            )
            self._checkpoint()
            await within_sla("payment", self._slas.payment, self._pay(), *self._sla_hooks("payment"))
            self._checkpoint()
            await self._fulfil(allocation)
            await self._close_after_return_window()
        except _CancelRequested:
            assert self._cancel is not None
            await self._cancel_order(self._cancel)
        except _Refused as refusal:
            await self._cancel_order(
                CancelRequest(reason=refusal.reason, actor="system"),
                detail=refusal.detail,
            )

    def _checkpoint(self) -> None:
        if self._cancel is not None:
            raise _CancelRequested()

    async def _verify(self) -> None:
        """Catalog, prices, address, then risk: a risky order is held for a person (R2)."""
        self._transition(OrderStatus.VERIFYING, "order.verifying")
        request = self._input.request
        # Short reads: local activities spare the submitter task-queue round trips.
        catalog: list[CatalogItem] = await self._locally(workflow.execute_local_activity_method(
            InventoryActivities.load_catalog,
            [line.sku for line in request.lines],
            start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"load catalog for {len(request.lines)} skus",
        ))
        self._catalog = {item.sku: item for item in catalog}
        problems = verify_order(request, self._catalog)
        if problems:
            raise _Refused("verification failed", {"problems": [p.model_dump() for p in problems]})
        recent_orders: int = await self._locally(workflow.execute_local_activity_method(
            ProjectionActivities.count_recent_orders,
            RecentOrdersQuery(
                customer_id=request.customer.id,
                since=workflow.now() - self._policy.risk.velocity_window,
                exclude_order_id=self._order.order_id,
            ),
            start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary="count the customer's recent orders",
        ))
        reasons = hold_reasons(request, self._order.totals, self._policy.risk, recent_orders)
        if reasons:
            self._order.hold = Hold(reason=describe(reasons), since=workflow.now(), codes=reasons)

    async def _hold(self) -> None:
        """Wait for ops to approve or reject a held order; unanswered, it cancels (R2)."""
        assert self._order.hold is not None
        codes = [code.value for code in self._order.hold.codes]
        action = await self._await_ops(
            {OpsActionKind.APPROVE, OpsActionKind.REJECT, OpsActionKind.REQUEST_INFO},
            status=OrderStatus.ON_HOLD,
            event="order.held",
            detail={"codes": codes, "reason": self._order.hold.reason},
            timeout=self._policy.hold_timeout,
            notify="on_hold",
        )
        info_requests = 0
        while action is not None and action.action is OpsActionKind.REQUEST_INFO:
            info_requests += 1
            self._order.hold.info_requested = True
            await self._notify("info_requested", reason=action.note or "", occurrence=info_requests)
            # The customer was contacted: they get the full hold time again to answer.
            action = await self._await_ops(
                {
                    OpsActionKind.APPROVE,
                    OpsActionKind.REJECT,
                    OpsActionKind.REQUEST_INFO,
                },
                status=OrderStatus.ON_HOLD,
                event="hold.waiting_for_customer",
                timeout=self._policy.hold_timeout,
            )
        if action is None:
            raise _Refused("hold timed out", {"codes": codes})
        if action.action is OpsActionKind.REJECT:
            raise _Refused(f"rejected on review: {action.note}" if action.note else "rejected on review")
        self._order.hold = None  # approved

    async def _allocate(self) -> Allocation:
        """Reserve stock; without it the order waits `backordered` for receipts (R9)."""
        address = self._input.request.shipping_address
        region = region_of(address.country, address.region)
        while True:
            allocation = await self._reserve(region)
            if allocation is not None:
                if self._order.status is OrderStatus.BACKORDERED:
                    self._transition(OrderStatus.ALLOCATING, "backorder.filled")
                self._answer_arrivals(reserved=True)
                self._transition(
                    self._order.status,
                    "stock.reserved",
                    detail={"parcels": [p.model_dump(mode="json") for p in allocation.parcels]},
                )
                return allocation
            self._answer_arrivals(reserved=False)
            if self._order.status is not OrderStatus.BACKORDERED:
                self._backordered_at = workflow.now()
            remaining = self._backordered_at + self._policy.backorder_timeout - workflow.now()
            action = await self._await_ops(
                {OpsActionKind.RETRY},
                status=OrderStatus.BACKORDERED,
                event="order.backordered"
                if self._order.status is not OrderStatus.BACKORDERED
                else "backorder.still_short",
                detail={"until": (self._backordered_at + self._policy.backorder_timeout).isoformat()},
                timeout=max(remaining, timedelta(seconds=1)),
                notify="backordered" if self._order.status is not OrderStatus.BACKORDERED else None,
                wake=lambda: bool(self._arrivals),
            )
            if action is None and not self._arrivals:
                return await self._backorder_expired(region)

    async def _reserve(self, region: str) -> Allocation | None:
        self._reservation_attempted = True  # compensation registered before the step runs
        try:
            # A short database write: a local activity keeps it inside the current workflow
            # task (no task-queue round trip, no scheduled/started/completed events).
            return await parked_on_failure(
                "stock reservation",
                lambda: self._locally(workflow.execute_local_activity_method(
                    InventoryActivities.reserve_stock,
                    ReserveRequest(
                        order_id=self._order.order_id,
                        lines=self._order.lines,
                        destination_region=region,
                    ),
                    start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                    retry_policy=self._retry,
                    summary=f"reserve stock for {len(self._order.lines)} lines",
                )),
                self._park,
            )
        except STEP_FAILURES as error:
            if is_refusal(error, "OutOfStock"):
                return None
            raise

    async def _backorder_expired(self, region: str) -> Allocation:
        if self._policy.backorder_policy is BackorderPolicy.CANCEL:
            raise _Refused("backorder not filled in time")
        levels: list[StockLevel] = await workflow.execute_activity_method(
            InventoryActivities.stock_levels,
            [line.sku for line in self._order.lines],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary="stock levels for a partial shipment",
        )
        lines = shippable_lines(self._order.lines, levels)
        if not lines:
            raise _Refused("backorder not filled in time")
        removed = {line.sku: line.quantity for line in self._order.lines}
        for line in lines:
            removed[line.sku] -= line.quantity
        self._order.lines = lines
        self._order.totals = order_totals(lines, self._order.shipping_speed)
        self._order.payment.amount = self._order.totals.grand_total
        self._transition(
            self._order.status,
            "order.reduced",
            detail={"removed": {k: v for k, v in removed.items() if v}},
        )
        await self._notify(
            "partially_available",
            reason=", ".join(f"{k} x{v}" for k, v in removed.items() if v),
        )
        allocation = await self._reserve(region)
        if allocation is None:
            raise _Refused("backorder not filled in time")
        self._transition(OrderStatus.ALLOCATING, "stock.reserved", detail={"partial": True})
        return allocation

    def _answer_arrivals(self, *, reserved: bool) -> None:
        for ticket in self._arrivals:
            self._arrival_answers[ticket] = AllocationAttempt(
                order_id=self._order.order_id,
                reserved=reserved,
                status=self._order.status,
            )
        self._arrivals.clear()

    async def _pay(self) -> None:
        self._transition(OrderStatus.PAYMENT_PENDING, "payment.pending")
        self._authorize_in_doubt = True  # compensation registered before the step runs
        try:
            payment = await parked_on_failure("payment authorization", self._authorize, self._park)
        except STEP_FAILURES as error:
            if is_refusal(error, "PaymentDeclined"):
                self._authorize_in_doubt = False
                self._order.payment.status = PaymentStatus.DECLINED
                raise _Refused("payment declined") from error
            raise
        assert payment is not None
        self._payment = payment
        self._authorize_in_doubt = False
        self._order.payment.status = PaymentStatus.AUTHORIZED
        self._order.payment.payment_id = payment.payment_id
        self._transition(self._order.status, "payment.authorized")

        self._capture_in_doubt = True
        await parked_on_failure(
            "payment capture",
            lambda: self._locally(workflow.execute_local_activity_method(
                PaymentActivities.capture_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(self._order.order_id, "capture"),
                    payment_id=payment.payment_id,
                    amount=self._order.totals.grand_total,
                ),
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=self._retry,
                summary=f"capture {self._order.totals.grand_total} {self._order.currency}",
            )),
            self._park,
        )
        self._capture_in_doubt = False
        self._order.payment.status = PaymentStatus.CAPTURED
        self._transition(self._order.status, "payment.captured")

    async def _authorize(self, retry: RetryPolicy | None = None) -> PaymentResult:
        request = self._input.request
        # Authorize and capture are short, idempotent (keyed) calls: local activities, like the
        # reservation, so the whole intake-to-fulfilment stretch is one or two workflow tasks.
        return await self._locally(workflow.execute_local_activity_method(
            PaymentActivities.authorize_payment,
            AuthorizeRequest(
                idempotency_key=ids.payment_key(self._order.order_id, "authorize"),
                order_id=self._order.order_id,
                amount=self._order.totals.grand_total,
                currency=self._order.currency,
                method=request.payment.method,
                token=request.payment.token,
            ),
            start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
            retry_policy=retry or self._retry,
            summary=f"authorize {self._order.totals.grand_total} {self._order.currency}",
        ))

    async def _fulfil(self, allocation: Allocation) -> None:
        """One child workflow per parcel, in parallel; a parcel lost or damaged on the way is
        replaced (stock permitting) or refunded, until every parcel has an outcome."""
        self._transition(
            OrderStatus.FULFILLING,
            "fulfilment.started",
            detail={"parcels": len(allocation.parcels)},
        )
        await self._start_parcels(allocation, self._order.order_id)
        finished = self._finished_parcels
        while True:
            await workflow.wait_condition(
                lambda: (
                    self._cancel is not None or any(c.done() and c.id not in finished for c in self._children)
                )
            )
            self._checkpoint()
            for child in list(self._children):
                if not child.done() or child.id in finished:
                    continue
                finished.add(child.id)
                parcel = child.result()
                self._apply_shipment(parcel)
                if parcel.delivery_issue is not None:
                    await self._resolve_delivery_issue(parcel)
            if all(child.id in finished for child in self._children):
                return

    async def _start_parcels(self, allocation: Allocation, reservation_key: str) -> None:
        request = self._input.request
        weights = {sku: item.weight_grams for sku, item in self._catalog.items()}
        for parcel in allocation.parcels:
            self._warehouse_regions[parcel.warehouse] = parcel.region
            number = len(self._order.shipments) + 1
            shipment_id = ids.shipment_id(self._order.order_id, number)
            self._order.shipments.append(
                ShipmentView(
                    shipment_id=shipment_id,
                    order_id=self._order.order_id,
                    warehouse=parcel.warehouse,
                    lines=parcel.lines,
                    reservation_key=reservation_key,
                )
            )
            handle = await workflow.start_child_workflow(
                ShipmentWorkflow.run,
                ShipmentInput(
                    order_id=self._order.order_id,
                    shipment_id=shipment_id,
                    parcel=parcel,
                    destination=self._order.shipping_address,
                    shipping_speed=request.shipping_speed,
                    priority=request.priority,
                    weight_grams=sum(weights.get(line.sku, 500) * line.quantity for line in parcel.lines),
                    recipient=request.customer.email,
                    language=request.customer.language,
                    slas=self._slas,
                    activity_attempts=self._policy.activity_attempts,
                    reservation_key=reservation_key,
                    tracking_poll_interval=self._policy.tracking_poll_interval,
                ),
                id=ids.shipment_workflow_id(shipment_id),
                static_summary=f"Parcel {number} of order {self._order.order_id} from {parcel.warehouse}",
            )
            self._children.append(handle)
        self._upsert_search_attributes()
        workflow.set_current_details(f"Fulfilling {len(self._children)} parcel(s)")

    async def _resolve_delivery_issue(self, parcel: ShipmentView) -> None:
        """Lost -> reship (stock re-reserved) or refund if there is none; damaged -> per policy."""
        issue = parcel.delivery_issue
        if issue == CarrierIssue.DAMAGED and self._policy.damaged_policy is DamagedPolicy.REFUND:
            await self._refund_parcel(parcel, f"parcel {issue}")
            return
        self._reships += 1
        key = ids.reship_reservation_key(self._order.order_id, self._reships)
        lines = self._priced(parcel.lines)
        allocation = await self._reserve_extra(key, lines, f"reserve stock to replace {parcel.shipment_id}")
        if allocation is None:
            await self._refund_parcel(parcel, f"parcel {issue}, no stock to send it again")
            return
        first_new = len(self._order.shipments) + 1
        self._set_outcome(parcel, f"reshipped as {ids.shipment_id(self._order.order_id, first_new)}")
        self._transition(
            fulfilment_status(self._order.shipments),
            "parcel.reshipped",
            detail={
                "shipment_id": parcel.shipment_id,
                "issue": issue,
                "reservation": key,
            },
        )
        await self._notify(
            "reshipped",
            reason=str(issue),
            scope=parcel.shipment_id,
            tracking_number=parcel.tracking_number,
        )
        await self._start_parcels(allocation, key)

    async def _refund_parcel(self, parcel: ShipmentView, reason: str) -> None:
        assert self._payment is not None
        amount = sum(
            (self._unit_price(line.sku) * line.quantity for line in parcel.lines),
            Decimal("0.00"),
        )
        amount = await self._refund(amount, parcel.shipment_id)
        self._set_outcome(parcel, f"refunded {amount}")
        self._transition(
            fulfilment_status(self._order.shipments),
            "parcel.refunded",
            detail={
                "shipment_id": parcel.shipment_id,
                "amount": str(amount),
                "reason": reason,
            },
        )
        await self._notify("refunded", reason=reason, scope=parcel.shipment_id, amount=amount)

    async def _refund(self, amount: Decimal, scope: str) -> Decimal:
        """Refund part of the capture, keyed by what it is for (a parcel or an RMA), never more
        than is left; returns what was refunded."""
        amount = min(amount, self._order.totals.grand_total - self._order.totals.refunded)
        if amount <= 0 or self._payment is None:
            return Decimal("0.00")
        await self._payment_call(
            PaymentActivities.refund_payment,
            PaymentOperation(
                idempotency_key=ids.payment_key(self._order.order_id, f"refund-{scope}"),
                payment_id=self._payment.payment_id,
                amount=amount,
            ),
            f"refund {amount} for {scope}",
        )
        self._order.totals.refunded += amount
        fully = self._order.totals.refunded >= self._order.totals.grand_total
        self._order.payment.status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
        return amount

    def _set_outcome(self, parcel: ShipmentView, outcome: str) -> None:
        for known in self._order.shipments:
            if known.shipment_id == parcel.shipment_id:
                known.outcome = outcome
        self._unflag(f"parcel:{parcel.shipment_id}")

    def _unit_price(self, sku: str) -> Decimal:
        return next(line.unit_price for line in self._order.lines if line.sku == sku)

    async def _close_after_return_window(self) -> None:
        """After delivery the order stays open for returns (R10). A return request starts a
        ReturnWorkflow child; the order is `returning` while any is open, pays refunds or ships
        exchanges as returns are inspected, and closes once the window is over and nothing is open."""
        if not any(
            s.status is not ShipmentStatus.CANCELLED and s.outcome is None for s in self._order.shipments
        ):
            # Every parcel was refunded: nothing is left to deliver or return.
            self._transition(OrderStatus.CLOSED, "order.closed", detail={"reason": "fully refunded"})
            return
        if self._order.status is not OrderStatus.DELIVERED:
            # A parcel came back undelivered: the order stays open and flagged for ops rather
            # than closing quietly.
            workflow.set_current_details(f"Needs attention: {self._order.attention_reason}")
            await workflow.wait_condition(lambda: self._order.status is OrderStatus.DELIVERED)
        assert self._delivered_at is not None
        deadline = self._delivered_at + self._policy.return_window
        while True:
            open_work = self._open_after_sales()
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0) and not open_work and not self._return_requests:
                break
            workflow.set_current_details(
                f"{self._order.status.value}: return window open until {deadline:%Y-%m-%d %H:%M} UTC"
                + (f"; {open_work} return(s) or parcel(s) open" if open_work else "")
            )
            try:
                await workflow.wait_condition(
                    lambda: bool(self._return_requests) or self._return_news or self._after_sales_news(),
                    timeout=remaining if remaining > timedelta(0) else None,
                    timeout_summary="return window" if remaining > timedelta(0) else None,
                )
            except TimeoutError:
                continue
            self._return_news = False
            await self._start_returns()
            await self._tell_approvals()
            await self._settle_after_sales()
        self._transition(OrderStatus.CLOSED, "order.closed")

    def _open_after_sales(self) -> int:
        returns = sum(1 for child in self._return_children.values() if not child.done())
        parcels = sum(1 for child in self._children if not child.done())
        return returns + parcels

    def _after_sales_news(self) -> bool:
        return any(
            child.done() and rma not in self._settled_returns for rma, child in self._return_children.items()
        ) or any(child.done() and child.id not in self._finished_parcels for child in self._children)

    async def _start_returns(self) -> None:
        while self._return_requests:
            inp = self._return_requests.pop(0)
            handle = await workflow.start_child_workflow(
                ReturnWorkflow.run,
                inp,
                id=ids.return_workflow_id(inp.rma_id),
                static_summary=f"Return {inp.rma_id} of order {self._order.order_id}: {inp.reason.value}",
            )
            self._return_children[inp.rma_id] = handle
            if self._order.status is not OrderStatus.RETURNING:
                self._transition(OrderStatus.RETURNING, "return.started", detail={"rma_id": inp.rma_id})

    async def _tell_approvals(self) -> None:
        """The customer hears once that a return is approved, by policy or by ops."""
        for view in self._order.returns:
            approved = view.status not in (ReturnStatus.REQUESTED, ReturnStatus.REJECTED)
            if approved and view.rma_id not in self._approvals_told:
                self._approvals_told.add(view.rma_id)
                await self._notify("return_approved", scope=view.rma_id, rma_id=view.rma_id)

    async def _settle_after_sales(self) -> None:
        """Pay refunds and ship exchanges of inspected returns; fold in finished exchange parcels."""
        for rma, child in list(self._return_children.items()):
            if not child.done() or rma in self._settled_returns:
                continue
            self._settled_returns.add(rma)
            view = child.result()
            self._apply_return(view)
            if view.status is ReturnStatus.INSPECTED:
                if view.resolution is ReturnResolution.EXCHANGE:
                    await self._ship_exchange(view)
                else:
                    await self._refund_return(view)
        for parcel_child in self._children:
            if parcel_child.done() and parcel_child.id not in self._finished_parcels:
                self._finished_parcels.add(parcel_child.id)
                self._apply_shipment(parcel_child.result())
        if self._order.status is OrderStatus.RETURNING and not self._open_after_sales():
            self._transition(OrderStatus.DELIVERED, "returns.settled")

    async def _refund_return(self, view: ReturnView) -> None:
        amount = view.refund_due
        reason = view.reason
        if reason is not None and reason.our_fault and not self._shipping_refunded:
            # Our fault: the shipping the customer paid comes back too (once per order).
            amount += self._order.totals.shipping
            self._shipping_refunded = True
        amount = await self._refund(amount, view.rma_id)
        view = view.model_copy(
            update={"status": ReturnStatus.REFUNDED, "refund_amount": amount, "version": view.version + 1}
        )
        self._apply_return(view)
        await self._notify("refunded", reason=f"return {view.rma_id}", scope=view.rma_id, amount=amount)

    async def _ship_exchange(self, view: ReturnView) -> None:
        key = ids.exchange_reservation_key(self._order.order_id, view.rma_id)
        lines = self._priced([ParcelLine(sku=line.sku, quantity=line.quantity) for line in view.received])
        allocation = await self._reserve_extra(key, lines, f"reserve the exchange for {view.rma_id}")
        if allocation is None:
            # Nothing to exchange with: the customer gets the money instead.
            await self._refund_return(
                view.model_copy(update={"refund_due": view.refund_due or self._value(lines)})
            )
            return
        first_new = ids.shipment_id(self._order.order_id, len(self._order.shipments) + 1)
        self._apply_return(
            view.model_copy(update={"exchange_shipment_id": first_new, "version": view.version + 1})
        )
        self._transition(self._order.status, "return.exchange_shipped", detail={"rma_id": view.rma_id})
        await self._start_parcels(allocation, key)

    def _priced(self, lines: list[ParcelLine]) -> list[OrderLine]:
        return [
            OrderLine(sku=line.sku, quantity=line.quantity, unit_price=self._unit_price(line.sku))
            for line in lines
        ]

    async def _reserve_extra(self, key: str, lines: list[OrderLine], summary: str) -> Allocation | None:
        """Reserve stock for a replacement (reship or exchange) under its own reservation key;
        None when there is no stock for it."""
        address = self._order.shipping_address
        try:
            return await parked_on_failure(
                "replacement reservation",
                lambda: workflow.execute_activity_method(
                    InventoryActivities.reserve_stock,
                    ReserveRequest(
                        order_id=key,
                        lines=lines,
                        destination_region=region_of(address.country, address.region),
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._retry,
                    summary=summary,
                ),
                self._park,
            )
        except ActivityError as error:
            if not is_refusal(error, "OutOfStock"):
                raise
            return None

    def _value(self, lines: list[OrderLine]) -> Decimal:
        return sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))

    def _apply_return(self, view: ReturnView) -> None:
        for index, known in enumerate(self._order.returns):
            if known.rma_id == view.rma_id:
                if view.version <= known.version:
                    return
                self._order.returns[index] = view
                break
        else:
            self._order.returns.append(view)
        key = f"return:{view.rma_id}"
        if view.awaiting_approval:
            self._flag(key, f"return {view.rma_id} waits for approval")
        else:
            self._unflag(key)
        self._transition(
            self._order.status,
            f"return.{view.status.value}",
            detail={"rma_id": view.rma_id, "event": view.last_event},
        )

    # --- waiting on ops -------------------------------------------------------------------

    async def _await_ops(
        self,
        kinds: set[OpsActionKind],
        *,
        status: OrderStatus,
        event: str,
        detail: dict[str, Any] | None = None,
        timeout: timedelta | None = None,
        notify: str | None = None,
        wake: Callable[[], bool] | None = None,
    ) -> OpsAction | None:
        """Record `event`, then wait for one of `kinds` from ops (or `wake`, or the timeout:
        None is returned then). A cancellation ends the wait."""
        self._awaiting_ops = frozenset(kinds)
        self._transition(status, event, detail=detail)
        if notify is not None:
            await self._notify(notify)
        try:
            await workflow.wait_condition(
                lambda: self._ops_pending is not None or self._cancel is not None or bool(wake and wake()),
                timeout=timeout,
                timeout_summary=f"{event} timeout" if timeout else None,
            )
        except TimeoutError:
            return None
        finally:
            self._awaiting_ops = frozenset()
        self._checkpoint()
        action, self._ops_pending = self._ops_pending, None
        return action

    async def _park(self, step: str, reason: str) -> bool:
        """A step out of retries: flag the order, tell ops, and wait for retry (or cancel)."""
        return await self._park_with(step, reason, skippable=False)

    async def _park_skippable(self, step: str, reason: str) -> bool:
        return await self._park_with(step, reason, skippable=True)

    async def _park_with(self, step: str, reason: str, *, skippable: bool) -> bool:
        kinds = {OpsActionKind.RETRY} | ({OpsActionKind.SKIP} if skippable else set())
        self._flag("parked", reason)
        action = await self._await_ops(
            kinds, status=self._order.status, event="step.parked", detail={"step": step}
        )
        self._unflag("parked")
        assert action is not None
        retry = action.action is OpsActionKind.RETRY
        self._transition(
            self._order.status,
            "step.retried" if retry else "step.skipped",
            detail={"step": step},
        )
        return retry

    async def _decide_return(self, action: OpsAction) -> None:
        """Approve or reject a return that the policy left to ops (params.rma_id picks one)."""
        wanted = action.params.get("rma_id")
        for view in self._order.returns:
            if view.awaiting_approval and (wanted is None or view.rma_id == wanted):
                child = self._return_children.get(view.rma_id)
                if child is not None:
                    await child.signal(
                        ReturnWorkflow.decide,
                        ReturnDecision(
                            approve=action.action is OpsActionKind.APPROVE,
                            actor=action.actor,
                            note=action.note,
                        ),
                    )
                return

    async def _instruct_parcel(self, action: OpsAction) -> None:
        """Retry, reroute or skip aimed at a parcel: forwarded to the parcel that needs it."""
        target = self._parcel_for(action.action, action.params.get("shipment_id"))
        if target is None:
            return
        for child in self._children:
            if child.id == ids.shipment_workflow_id(target.shipment_id):
                carrier = action.params.get("carrier")
                await child.signal(
                    ShipmentWorkflow.ops_instruction,
                    ParcelInstruction(
                        action=action.action,
                        carrier=carrier if isinstance(carrier, str) else None,
                        actor=action.actor,
                    ),
                )

    def _parcel_for(self, kind: OpsActionKind, shipment_id: object = None) -> ShipmentView | None:
        for parcel in self._order.shipments:
            if shipment_id is not None and parcel.shipment_id != shipment_id:
                continue
            if parcel.attention_reason is None or parcel.handed_over:
                continue
            if kind is OpsActionKind.SKIP and parcel.status is ShipmentStatus.PICKING:
                return parcel
            if (
                kind in (OpsActionKind.RETRY, OpsActionKind.REROUTE)
                and parcel.status is ShipmentStatus.EXCEPTION
            ):
                return parcel
            if kind is OpsActionKind.RETRY and "parked" in (parcel.attention_reason or ""):
                return parcel
        return None

    def _available_actions(self) -> list[OpsActionKind]:
        if self._order.status.terminal or self._compensation is not None:
            return []
        actions = {OpsActionKind.NOTE} | set(self._awaiting_ops)
        if cancel_refusal(self._order) is None:
            actions.add(OpsActionKind.CANCEL)
        for kind in (OpsActionKind.RETRY, OpsActionKind.REROUTE, OpsActionKind.SKIP):
            if self._parcel_for(kind) is not None:
                actions.add(kind)
        if any(r.awaiting_approval for r in self._order.returns):
            actions |= {OpsActionKind.APPROVE, OpsActionKind.REJECT}
        return sorted(actions, key=list(OpsActionKind).index)

    # --- cancellation and compensations ---------------------------------------------------

    async def _cancel_order(self, request: CancelRequest, detail: dict[str, Any] | None = None) -> None:
        """Undo what was done, in reverse order, exactly once, then end `cancelled`."""
        if self._compensation is None:
            self._compensation = asyncio.create_task(self._compensate(request, detail or {}))
        while True:
            try:
                await asyncio.shield(self._compensation)
                return
            except asyncio.CancelledError:
                if self._compensation.done():
                    return
                # A workflow cancellation while compensating: the compensations go on.

    async def _compensate(self, request: CancelRequest, detail: dict[str, Any]) -> None:
        self._order.cancellation_reason = request.reason
        workflow.set_current_details(f"Cancelling ({request.reason}): running compensations")
        for child in self._children:
            if not child.done():
                child.cancel()
        for child in self._children:
            try:
                self._apply_shipment(await child)
            except (ChildWorkflowError, asyncio.CancelledError) as error:
                # The parcel ended without a view to report (e.g. it was already with the carrier).
                workflow.logger.warning("parcel %s ended with %s", child.id, error)
        await self._compensate_payment()
        if self._reservation_attempted:
            released = await workflow.execute_activity_method(
                InventoryActivities.release_stock,
                self._order.order_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary="release reserved stock",
            )
            detail = {**detail, "units_released": released}
        self._attention.clear()
        self._answer_arrivals(reserved=False)
        self._transition(
            OrderStatus.CANCELLED,
            "order.cancelled",
            actor=request.actor,
            detail={"reason": request.reason, **detail},
        )
        await self._notify("cancelled", reason=request.reason, parkable=False)

    async def _compensate_payment(self) -> None:
        if self._payment is None and self._authorize_in_doubt:
            # Cancelled while authorizing: ask again by the same key (idempotent) to learn
            # whether the authorization exists, so it can be voided.
            try:
                self._payment = await self._authorize(PAYMENT_RETRY)
            except STEP_FAILURES:
                return
        if self._payment is None:
            return
        void = PaymentOperation(
            idempotency_key=ids.payment_key(self._order.order_id, "void"),
            payment_id=self._payment.payment_id,
        )
        if self._order.payment.status is PaymentStatus.CAPTURED or self._capture_in_doubt:
            if self._capture_in_doubt:
                try:
                    await self._payment_call(PaymentActivities.void_payment, void, "void authorization")
                    self._order.payment.status = PaymentStatus.VOIDED
                    return
                except ActivityError:
                    pass  # it was captured after all: refund
            await self._payment_call(
                PaymentActivities.refund_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(self._order.order_id, "refund-cancel"),
                    payment_id=self._payment.payment_id,
                    amount=self._order.totals.grand_total,
                ),
                f"refund {self._order.totals.grand_total}",
            )
            self._order.payment.status = PaymentStatus.REFUNDED
            self._order.totals.refunded = self._order.totals.grand_total
        else:
            await self._payment_call(PaymentActivities.void_payment, void, "void authorization")
            self._order.payment.status = PaymentStatus.VOIDED

    async def _payment_call(
        self,
        method: Callable[[PaymentActivities, PaymentOperation], PaymentResult],
        operation: PaymentOperation,
        summary: str,
    ) -> PaymentResult:
        result: PaymentResult = await workflow.execute_activity_method(
            method,
            operation,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PAYMENT_RETRY,
            summary=summary,
        )
        return result

    # --- state ----------------------------------------------------------------------------

    def _sla_hooks(self, step: str) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
        sla: timedelta = getattr(self._slas, step)

        async def breach() -> None:
            self._flag(f"sla:{step}", f"{step} over its SLA of {sla}")
            self._transition(
                self._order.status,
                "sla.breached",
                detail={"step": step, "sla": str(sla)},
            )

        async def recover() -> None:
            if self._unflag(f"sla:{step}") and not self._order.status.terminal:
                self._transition(self._order.status, "sla.recovered", detail={"step": step})

        return breach, recover

    def _flag(self, key: str, reason: str) -> None:
        """Mark the order as needing attention; ops hear of each new problem once."""
        if self._attention.get(key) == reason:
            return
        self._attention[key] = reason
        self._alert_count += 1
        self._alerts.append(ops_notification(self._order, self._policy.ops_email, reason, self._alert_count))

    def _unflag(self, key: str) -> bool:
        return self._attention.pop(key, None) is not None

    def _apply_shipment(self, shipment: ShipmentView) -> None:
        """Fold a parcel's news into the order; the order status follows from its parcels."""
        for index, known in enumerate(self._order.shipments):
            if known.shipment_id == shipment.shipment_id:
                if shipment.version <= known.version:
                    return  # late or repeated news
                self._order.shipments[index] = shipment
                break
        else:
            self._order.shipments.append(shipment)

        key = f"parcel:{shipment.shipment_id}"
        resolved = shipment.outcome is not None or any(
            s.shipment_id == shipment.shipment_id and s.outcome is not None for s in self._order.shipments
        )
        # A failed delivery attempt is the carrier's to retry; a parcel back at the sender, or one
        # with a reason of its own (SLA, parked step, refused label), needs a person.
        troubled = bool(shipment.attention_reason) or shipment.status is ShipmentStatus.RETURNED_TO_SENDER
        if troubled and not resolved:
            self._flag(
                key,
                f"parcel {shipment.shipment_id}: {shipment.attention_reason or shipment.last_event}",
            )
        else:
            self._unflag(key)
        status = self._order.status
        if status in FULFILMENT_STATUSES:
            status = fulfilment_status(self._order.shipments)
        self._transition(
            status,
            f"shipment.{shipment.status.value}",
            # The version tells the timeline's reader which of the parcel's steps the order saw.
            detail={
                "shipment_id": shipment.shipment_id,
                "event": shipment.last_event,
                "version": shipment.version,
            },
        )

    def _transition(
        self,
        status: OrderStatus,
        event: str,
        *,
        actor: str = "system",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """The one door: every change of the order passes here and nowhere else."""
        previous = self._order.status
        now = workflow.now()
        entry = TimelineEntry(at=now, status=status, event=event, actor=actor, detail=detail or {})
        self._seq += 1
        self._order.status = status
        self._order.updated_at = now
        self._order.version = self._seq
        self._order.timeline.append(entry)
        if status is OrderStatus.DELIVERED and self._delivered_at is None:
            self._delivered_at = now
        if self._attention and not self._order.needs_attention:
            self._order.attention_since = now
        self._order.needs_attention = bool(self._attention)
        self._order.attention_reason = "; ".join(self._attention.values()) or None
        if not self._attention:
            self._order.attention_since = None
        self._order.available_actions = self._available_actions()
        # Search attributes follow in `_project`, once per burst of transitions: each upsert is
        # a history event, and a burst (received, verifying, allocating, ...) needs only the last.
        workflow.set_current_details(self._details(event))
        # The projection keeps the timeline as rows of its own (the entries), so the snapshot
        # leaves it out: copying and sending it whole on every transition grows with the order.
        snapshot = self._order.model_copy(update={"timeline": []}).model_copy(deep=True)
        self._unprojected.append(TransitionRecord(order=snapshot, entry=entry, seq=self._seq))
        if self._verdict is None and previous in _INTAKE and status not in _INTAKE:
            self._verdict = self._order.model_copy(deep=True)
            self._verdict_seq = self._seq

    def _details(self, event: str) -> str:
        """What the Temporal UI shows as the workflow's current details."""
        lines = [f"**{self._order.status.value}** after {event}"]
        if self._awaiting_ops:
            lines.append("Waiting for ops: " + ", ".join(a.value for a in sorted(self._awaiting_ops)))
        if self._order.needs_attention:
            lines.append(f"Needs attention: {self._order.attention_reason}")
        return "\n\n".join(lines)

    def _upsert_search_attributes(self) -> None:
        shipments = [s for s in self._order.shipments if s.status is not ShipmentStatus.CANCELLED]
        values = (
            self._order.status.value,
            self._order.customer.id,
            self._order.channel.value,
            float(self._order.totals.grand_total),
            self._order.needs_attention,
            shipments[0].warehouse if shipments else "",
            next((s.carrier for s in shipments if s.carrier), ""),
        )
        if values == self._upserted:
            return
        self._upserted = values
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.ORDER_STATUS.value_set(values[0]),
            sa.CUSTOMER_ID.value_set(values[1]),
            sa.CHANNEL.value_set(values[2]),
            sa.ORDER_TOTAL.value_set(values[3]),
            sa.NEEDS_ATTENTION.value_set(values[4]),
        ]
        if values[5]:
            updates.append(sa.WAREHOUSE.value_set(values[5]))
        if values[6]:
            updates.append(sa.CARRIER.value_set(values[6]))
        workflow.upsert_search_attributes(updates)

    async def _locally(self, call: Awaitable[T]) -> T:
        """Run a local activity of the run loop's; while one runs, `_project` holds its writes.

        A chain of local activities (catalog, risk, reservation, payment) runs inside one
        workflow task, so writing the projection after each link would only add history
        events (a marker each) and round trips: the burst is written once the chain pauses."""
        self._local_steps += 1
        try:
            return await call
        finally:
            self._local_steps -= 1

    async def _project(self) -> None:
        """Write queued transitions to the projection in order (a burst in one call), then
        send queued ops alerts."""
        while True:
            await workflow.wait_condition(
                lambda: (bool(self._unprojected) or bool(self._alerts)) and not self._local_steps
            )
            if self._unprojected:
                batch = list(self._unprojected)
                self._upsert_search_attributes()
                await workflow.execute_local_activity_method(
                    ProjectionActivities.record_transitions,
                    batch,
                    start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary=f"record {', '.join(r.entry.event for r in batch)}",
                )
                del self._unprojected[: len(batch)]
                self._projected_seq = batch[-1].seq
            while self._alerts:
                await workflow.execute_activity_method(
                    NotifyActivities.send_notification,
                    self._alerts[0],
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary="alert ops",
                )
                self._alerts.pop(0)

    async def _notify(
        self, kind: str, reason: str = "", occurrence: int = 0, parkable: bool = True, **values: object
    ) -> None:
        notification = order_notification(self._order, kind, reason, occurrence, **values)

        async def send() -> bool:
            return await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                notification,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._retry if parkable else PERSISTENT_RETRY,
                summary=f"notify customer: {kind}",
            )

        if parkable:
            await parked_on_failure(f"{kind} notification", send, self._park_skippable)
        else:
            await send()
