"""OrderWorkflow: one e-commerce order from submission to close (DESIGN.md section 3).

received -> verifying -> allocating -> payment_pending -> fulfilling -> (partially_)shipped ->
(partially_)delivered -> closed, or cancelled with compensations at any point before hand-over.

How the pieces fit:
- Every status change goes through `_transition` (the one door): state, search attributes,
  current details, timeline entry, and a queued projection write that `_project` drains in order.
- Commands arrive as validated updates (submit, cancel); facts as signals (shipment_changed);
  handlers only change state, the run loop drives the steps.
- Cancellation is cooperative: the run loop checks for it between steps and while waiting, so a
  step is never torn in half; compensations run once, shielded from workflow cancellation.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.notify import NotifyActivities
    from activities.payments import PaymentActivities
    from activities.store import ProjectionActivities
    from domain import ids
    from domain.enums import OrderStatus, PaymentStatus, ShipmentStatus
    from domain.geography import region_of
    from domain.lifecycle import FULFILMENT_STATUSES, cancel_refusal, fulfilment_status
    from domain.models import (
        Allocation,
        AuthorizeRequest,
        CancelRequest,
        CatalogItem,
        OrderInput,
        OrderView,
        PaymentOperation,
        PaymentResult,
        PaymentView,
        ReserveRequest,
        ShipmentInput,
        ShipmentView,
        SubmitResult,
        TimelineEntry,
        TransitionRecord,
    )
    from domain.notifications import order_notification
    from domain.pricing import order_totals
    from domain.verification import verify_order
    from workflows import search_attributes as sa
    from workflows.failures import is_refusal
    from workflows.options import (
        ACTIVITY_TIMEOUT,
        LOCAL_ACTIVITY_TIMEOUT,
        PAYMENT_RETRY,
        PERSISTENT_RETRY,
    )
    from workflows.shipment import SHIPMENT_CHANGED_SIGNAL, ShipmentWorkflow

_INTAKE = (OrderStatus.RECEIVED, OrderStatus.VERIFYING)
# Parcel states that need a person: the order is flagged until they are resolved.
_TROUBLED_PARCEL = (ShipmentStatus.EXCEPTION, ShipmentStatus.RETURNED_TO_SENDER)


class _CancelRequested(Exception):
    """Raised inside the run loop when a cancel update has been accepted."""


class _Refused(Exception):
    """A step refused the order for good (verification, stock, payment): it ends cancelled."""

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
        self._seq = 0
        self._unprojected: list[TransitionRecord] = []
        self._projected_seq = 0
        self._submissions = 0
        self._verdict: OrderView | None = None
        self._verdict_seq = 0
        self._cancel: CancelRequest | None = None
        self._compensation: asyncio.Task[None] | None = None
        self._children: list[workflow.ChildWorkflowHandle[ShipmentWorkflow, ShipmentView]] = []
        self._reservation_attempted = False
        self._payment: PaymentResult | None = None
        self._authorize_in_doubt = False
        self._capture_in_doubt = False
        self._upserted: tuple[Any, ...] = ()
        self._catalog: dict[str, CatalogItem] = {}

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        projector = asyncio.create_task(self._project())
        self._transition(OrderStatus.RECEIVED, "order.received", actor=inp.actor,
                         detail={"channel": inp.request.channel.value})
        try:
            await self._lifecycle()
        except asyncio.CancelledError:
            # The workflow itself was cancelled (e.g. from the Temporal UI): same compensations.
            await self._cancel_order(CancelRequest(reason="workflow cancelled", actor="temporal"))
        await workflow.wait_condition(lambda: self._projected_seq == self._seq)
        projector.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._order

    # --- messages -------------------------------------------------------------------------

    @workflow.update
    async def submit(self, inp: OrderInput) -> SubmitResult:
        """Answer a submission with the verified outcome (accepted, or cancelled with reasons).
        Repeats get the same outcome with created=False."""
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

    @workflow.signal(name=SHIPMENT_CHANGED_SIGNAL)
    def shipment_changed(self, shipment: ShipmentView) -> None:
        self._apply_shipment(shipment)

    @workflow.query
    def state(self) -> OrderView:
        return self._order

    # --- the run loop ---------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            await self._verify()
            self._checkpoint()
            allocation = await self._allocate()
            self._checkpoint()
            await self._pay()
            self._checkpoint()
            await self._fulfil(allocation)
            await self._close_after_return_window()
        except _CancelRequested:
            assert self._cancel is not None
            await self._cancel_order(self._cancel)
        except _Refused as refusal:
            await self._cancel_order(
                CancelRequest(reason=refusal.reason, actor="system"), detail=refusal.detail
            )

    def _checkpoint(self) -> None:
        if self._cancel is not None:
            raise _CancelRequested()

    async def _verify(self) -> None:
        self._transition(OrderStatus.VERIFYING, "order.verifying")
        request = self._input.request
        # A short read: a local activity spares the submitter a task-queue round trip.
        catalog: list[CatalogItem] = await workflow.execute_local_activity_method(
            InventoryActivities.load_catalog,
            [line.sku for line in request.lines],
            start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"load catalog for {len(request.lines)} skus",
        )
        self._catalog = {item.sku: item for item in catalog}
        problems = verify_order(request, self._catalog)
        if problems:
            raise _Refused(
                "verification failed", {"problems": [p.model_dump() for p in problems]}
            )
        self._transition(OrderStatus.ALLOCATING, "order.accepted")
        await self._notify("accepted")

    async def _allocate(self) -> Allocation:
        address = self._input.request.shipping_address
        self._reservation_attempted = True  # compensation registered before the step runs
        try:
            allocation: Allocation = await workflow.execute_activity_method(
                InventoryActivities.reserve_stock,
                ReserveRequest(
                    order_id=self._order.order_id,
                    lines=self._order.lines,
                    destination_region=region_of(address.country, address.region),
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"reserve stock for {len(self._order.lines)} lines",
            )
        except ActivityError as error:
            if is_refusal(error, "OutOfStock"):
                raise _Refused("out of stock") from error
            raise
        self._transition(
            self._order.status,
            "stock.reserved",
            detail={"parcels": [p.model_dump(mode="json") for p in allocation.parcels]},
        )
        return allocation

    async def _pay(self) -> None:
        self._transition(OrderStatus.PAYMENT_PENDING, "payment.pending")
        self._authorize_in_doubt = True  # compensation registered before the step runs
        try:
            self._payment = await self._authorize()
        except ActivityError as error:
            if is_refusal(error, "PaymentDeclined"):
                self._authorize_in_doubt = False
                self._order.payment.status = PaymentStatus.DECLINED
                raise _Refused("payment declined") from error
            raise
        self._authorize_in_doubt = False
        self._order.payment.status = PaymentStatus.AUTHORIZED
        self._order.payment.payment_id = self._payment.payment_id
        self._transition(self._order.status, "payment.authorized")

        self._capture_in_doubt = True
        await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            PaymentOperation(
                idempotency_key=ids.payment_key(self._order.order_id, "capture"),
                payment_id=self._payment.payment_id,
                amount=self._order.totals.grand_total,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PAYMENT_RETRY,
            summary=f"capture {self._order.totals.grand_total} {self._order.currency}",
        )
        self._capture_in_doubt = False
        self._order.payment.status = PaymentStatus.CAPTURED
        self._transition(self._order.status, "payment.captured")

    async def _authorize(self) -> PaymentResult:
        request = self._input.request
        return await workflow.execute_activity_method(
            PaymentActivities.authorize_payment,
            AuthorizeRequest(
                idempotency_key=ids.payment_key(self._order.order_id, "authorize"),
                order_id=self._order.order_id,
                amount=self._order.totals.grand_total,
                currency=self._order.currency,
                method=request.payment.method,
                token=request.payment.token,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PAYMENT_RETRY,
            summary=f"authorize {self._order.totals.grand_total} {self._order.currency}",
        )

    async def _fulfil(self, allocation: Allocation) -> None:
        self._transition(OrderStatus.FULFILLING, "fulfilment.started",
                         detail={"parcels": len(allocation.parcels)})
        request = self._input.request
        weights = {sku: item.weight_grams for sku, item in self._catalog.items()}
        for number, parcel in enumerate(allocation.parcels, start=1):
            shipment_id = ids.shipment_id(self._order.order_id, number)
            self._order.shipments.append(
                ShipmentView(
                    shipment_id=shipment_id,
                    order_id=self._order.order_id,
                    warehouse=parcel.warehouse,
                    lines=parcel.lines,
                )
            )
            handle = await workflow.start_child_workflow(
                ShipmentWorkflow.run,
                ShipmentInput(
                    order_id=self._order.order_id,
                    shipment_id=shipment_id,
                    parcel=parcel,
                    destination=request.shipping_address,
                    shipping_speed=request.shipping_speed,
                    priority=request.priority,
                    weight_grams=sum(weights[line.sku] * line.quantity for line in parcel.lines),
                    recipient=request.customer.email,
                    language=request.customer.language,
                ),
                id=ids.shipment_workflow_id(shipment_id),
                static_summary=f"Parcel {number} of order {self._order.order_id} from {parcel.warehouse}",
            )
            self._children.append(handle)
        self._upsert_search_attributes()
        workflow.set_current_details(f"Fulfilling {len(self._children)} parcel(s)")
        await workflow.wait_condition(
            lambda: all(child.done() for child in self._children) or self._cancel is not None
        )
        self._checkpoint()
        for child in self._children:
            self._apply_shipment(child.result())

    async def _close_after_return_window(self) -> None:
        if self._order.status is not OrderStatus.DELIVERED:
            # A parcel came back undelivered: the order stays open and flagged for ops rather
            # than closing quietly. (Reship and refund of such parcels are not built yet.)
            workflow.set_current_details(f"Needs attention: {self._order.attention_reason}")
            await workflow.wait_condition(lambda: self._order.status is OrderStatus.DELIVERED)
        window = self._input.policy.return_window
        workflow.set_current_details(f"Delivered; return window of {window} open")
        await workflow.sleep(window, summary="return window")
        self._transition(OrderStatus.CLOSED, "order.closed")

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
        self._transition(
            OrderStatus.CANCELLED,
            "order.cancelled",
            actor=request.actor,
            detail={"reason": request.reason, **detail},
        )
        await self._notify("cancelled", reason=request.reason)

    async def _compensate_payment(self) -> None:
        if self._payment is None and self._authorize_in_doubt:
            # Cancelled while authorizing: ask again by the same key (idempotent) to learn
            # whether the authorization exists, so it can be voided.
            try:
                self._payment = await self._authorize()
            except ActivityError:
                return
        if self._payment is None:
            return
        if self._order.payment.status is PaymentStatus.CAPTURED or self._capture_in_doubt:
            if self._capture_in_doubt:
                try:
                    await self._payment_call(
                        PaymentActivities.void_payment,
                        PaymentOperation(idempotency_key=ids.payment_key(self._order.order_id, "void"), payment_id=self._payment.payment_id),
                        "void authorization",
                    )
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
            await self._payment_call(
                PaymentActivities.void_payment,
                PaymentOperation(idempotency_key=ids.payment_key(self._order.order_id, "void"), payment_id=self._payment.payment_id),
                "void authorization",
            )
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

        troubled = [s for s in self._order.shipments if s.status in _TROUBLED_PARCEL]
        self._order.needs_attention = bool(troubled)
        self._order.attention_reason = (
            f"parcel {troubled[0].shipment_id}: {troubled[0].last_event}" if troubled else None
        )
        status = self._order.status
        if status in FULFILMENT_STATUSES:
            status = fulfilment_status(self._order.shipments)
        self._transition(
            status,
            f"shipment.{shipment.status.value}",
            detail={"shipment_id": shipment.shipment_id, "event": shipment.last_event},
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
        self._upsert_search_attributes()
        workflow.set_current_details(f"{status.value}: {event}")
        self._unprojected.append(
            TransitionRecord(order=self._order.model_copy(deep=True), entry=entry, seq=self._seq)
        )
        if self._verdict is None and previous in _INTAKE and status not in _INTAKE:
            self._verdict = self._order.model_copy(deep=True)
            self._verdict_seq = self._seq

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

    async def _project(self) -> None:
        """Write queued transitions to the projection in order; a burst goes in one call."""
        while True:
            await workflow.wait_condition(lambda: bool(self._unprojected))
            batch = list(self._unprojected)
            await workflow.execute_local_activity_method(
                ProjectionActivities.record_transitions,
                batch,
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"record {', '.join(r.entry.event for r in batch)}",
            )
            del self._unprojected[: len(batch)]
            self._projected_seq = batch[-1].seq

    async def _notify(self, kind: str, reason: str = "") -> None:
        await workflow.execute_activity_method(
            NotifyActivities.send_notification,
            order_notification(self._order, kind, reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"notify customer: {kind}",
        )
