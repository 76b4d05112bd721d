"""ReturnWorkflow: one return (RMA) from request to inspection (child of OrderWorkflow, R10).

requested -> approved (by policy, or by ops through the order) -> in_transit (a return label is
bought; waits for the warehouse's receipt) -> received -> inspected (resellable units back on
hand, damaged ones written off). The order then pays the refund or ships the exchange: money
and replacement stock stay with the order, which serializes them across returns.
"""

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.inventory import InventoryActivities
    from domain import ids
    from domain.carriers import choose_quote
    from domain.enums import ItemCondition, Priority, ReturnStatus, ShippingSpeed
    from domain.geography import region_of
    from domain.lifecycle import RETURN_MOVES, check_move
    from domain.models import (
        Label,
        LabelRequest,
        ParcelLine,
        QuoteRequest,
        ReturnDecision,
        ReturnInput,
        ReturnReceipt,
        ReturnView,
        TakeBack,
    )
    from domain.returns import refund_due, returns_dock
    from workflows.options import ACTIVITY_TIMEOUT
    from workflows.supervision import bounded_retry

RETURN_CHANGED_SIGNAL = "return_changed"


@workflow.defn
class ReturnWorkflow:
    @workflow.init
    def __init__(self, inp: ReturnInput) -> None:
        self._input = inp
        self._retry = bounded_retry(inp.activity_attempts)
        self._view = ReturnView(
            rma_id=inp.rma_id,
            status=ReturnStatus.REQUESTED,
            lines=[ParcelLine(sku=line.sku, quantity=line.quantity) for line in inp.lines],
            reason=inp.reason,
            resolution=inp.resolution,
            awaiting_approval=not inp.auto_approve,
        )
        self._decision: ReturnDecision | None = None
        self._receipt: ReturnReceipt | None = None

    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnView:
        await self._record("return requested")
        if not inp.auto_approve:
            workflow.set_current_details("Waiting for ops to approve or reject the return")
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            self._view.awaiting_approval = False
            if not self._decision.approve:
                await self._move(
                    ReturnStatus.REJECTED, f"rejected by {self._decision.actor}: {self._decision.note or ''}"
                )
                return self._view
        await self._move(
            ReturnStatus.APPROVED,
            "approved" if inp.auto_approve else f"approved by {self._decision and self._decision.actor}",
        )

        label = await self._return_label()
        self._view.carrier = label.carrier
        self._view.tracking_number = label.tracking_number
        await self._move(ReturnStatus.IN_TRANSIT, f"return label {label.carrier} {label.tracking_number}")

        workflow.set_current_details(f"Waiting for the warehouse to receive {inp.rma_id}")
        await workflow.wait_condition(lambda: self._receipt is not None)
        assert self._receipt is not None
        self._view.received = self._receipt.lines
        await self._move(ReturnStatus.RECEIVED, f"received by {self._receipt.actor}")

        await self._inspect()
        self._view.refund_due = refund_due(inp.lines, self._receipt.lines, inp.reason)
        await self._move(ReturnStatus.INSPECTED, f"inspected: {self._view.refund_due} refundable")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    @workflow.signal
    def decide(self, decision: ReturnDecision) -> None:
        if self._view.awaiting_approval and self._decision is None:
            self._decision = decision

    @workflow.signal
    def received(self, receipt: ReturnReceipt) -> None:
        if self._receipt is None and self._view.status is ReturnStatus.IN_TRANSIT:
            self._receipt = receipt

    @workflow.query
    def state(self) -> ReturnView:
        return self._view

    async def _return_label(self) -> Label:
        first = self._input.lines[0]
        address = self._input.customer_address
        dock = returns_dock(first.warehouse, first.region)
        quotes = await workflow.execute_activity_method(
            CarrierActivities.quote_rates,
            QuoteRequest(
                origin_region=region_of(address.country, address.region),
                destination=dock,
                weight_grams=500 * sum(line.quantity for line in self._input.lines),
                speed=ShippingSpeed.STANDARD,
                today=workflow.now().date(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=self._retry,
            summary="quote a return label",
        )
        quote = choose_quote(quotes, ShippingSpeed.STANDARD, Priority.NORMAL) or min(
            quotes, key=lambda q: q.price
        )
        return await workflow.execute_activity_method(
            CarrierActivities.buy_label,
            LabelRequest(
                shipment_id=self._input.rma_id,
                idempotency_key=ids.label_key(self._input.rma_id),
                quote=quote,
                origin_region=region_of(address.country, address.region),
                destination=dock,
                weight_grams=500 * sum(line.quantity for line in self._input.lines),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=self._retry,
            summary=f"buy {quote.carrier} return label",
        )

    async def _inspect(self) -> None:
        assert self._receipt is not None
        warehouses = {line.sku: line.warehouse for line in self._input.lines}
        await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    InventoryActivities.take_back_stock,
                    TakeBack(
                        rma_id=self._input.rma_id,
                        sku=line.sku,
                        warehouse=warehouses.get(line.sku, self._input.lines[0].warehouse),
                        quantity=line.quantity,
                        resellable=line.condition is ItemCondition.RESELLABLE,
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._retry,
                    summary=f"{line.condition.value}: {line.sku} x{line.quantity}",
                )
                for line in self._receipt.lines
            )
        )

    # --- the door -------------------------------------------------------------------------

    async def _move(self, status: ReturnStatus, event: str) -> None:
        """Move the return to `status`, checked against RETURN_MOVES (domain/lifecycle.py): a move
        the table does not allow fails the workflow task. Then tell the order."""
        check_move(RETURN_MOVES, self._view.status, status, f"return {self._view.rma_id}")
        self._view.status = status
        await self._record(event)

    async def _record(self, event: str) -> None:
        """Something happened to the return: tell the order (it folds the view into its own)."""
        self._view.last_event = event
        self._view.version += 1
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                RETURN_CHANGED_SIGNAL, self._view.model_copy(deep=True)
            )
