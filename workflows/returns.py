"""ReturnWorkflow: one return (RMA) from request to inspection (child of OrderWorkflow, R10).

requested -> approved (by policy, or by ops through the order) -> in_transit (a return label is
bought; waits for the warehouse's receipt) -> received -> inspected (resellable units back on
hand, damaged ones written off). The order then pays the refund or ships the exchange: money
and replacement stock stay with the order, which serializes them across returns.

Dead ends closed (patch `return-parking-20261201`): a receipt that comes before the label is
recorded is kept and applied after it; a step out of retries parks for ops' retry (forwarded by the
order, `ops_instruction`); once the label is bought a receipt later than `receipt_sla` flags the
return, and one not in by `expiry` (from the request) ends it rejected, "expired".
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.inventory import InventoryActivities
    from domain import ids
    from domain.carriers import choose_quote
    from domain.enums import (
        ItemCondition,
        OpsActionKind,
        Priority,
        ReturnResolution,
        ReturnStatus,
        ShippingSpeed,
    )
    from domain.geography import region_of
    from domain.lifecycle import RETURN_MOVES, check_move
    from domain.models import (
        Label,
        LabelRequest,
        ParcelLine,
        QuoteRequest,
        ReceivedLine,
        ReturnDecision,
        ReturnInput,
        ReturnInstruction,
        ReturnReceipt,
        ReturnView,
        TakeBack,
    )
    from domain.returns import refund_due, returns_dock
    from workflows.options import ACTIVITY_TIMEOUT
    from workflows.supervision import Decision, Supervision, bounded_retry, parked_on_failure

RETURN_CHANGED_SIGNAL = "return_changed"
# New returns park a step out of retries for ops, keep a receipt that comes before the label is
# recorded, watch the receipt's SLA and expire (docs/versioning.md "Patches in force").
PARKING_PATCH = "return-parking-20261201"
EXPIRED = "expired"

T = TypeVar("T")


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
        self._parking = False  # PARKING_PATCH, asked once at the start of the run
        self._attention: dict[str, str] = {}
        self._retries = 0  # ops' retries so far: each wakes every parked step
        self._last_instruction = ReturnInstruction(action=OpsActionKind.RETRY)
        self._supervision = Supervision(
            flag=self._flag,
            unflag=self._unflag,
            wait_for_ops=self._parked,
            resumed=self._resumed,
            breached=self._no_sla,
            recovered=self._no_sla,
            sla_key=lambda step: "sla",
        )

    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnView:
        self._parking = workflow.patched(PARKING_PATCH)
        opened_at = workflow.now()
        await self._record("return requested")
        if not inp.auto_approve:
            workflow.set_current_details("Waiting for ops to approve or reject the return")
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            self._view.awaiting_approval = False
            if not self._decision.approve:
                self._view.closed_reason = "rejected"
                await self._move(
                    ReturnStatus.REJECTED, f"rejected by {self._decision.actor}: {self._decision.note or ''}"
                )
                return self._view
        await self._move(
            ReturnStatus.APPROVED,
            "approved" if inp.auto_approve else f"approved by {self._decision and self._decision.actor}",
        )

        label = await self._step("return label", self._return_label)
        self._view.carrier = label.carrier
        self._view.tracking_number = label.tracking_number
        await self._move(ReturnStatus.IN_TRANSIT, f"return label {label.carrier} {label.tracking_number}")

        workflow.set_current_details(f"Waiting for the warehouse to receive {inp.rma_id}")
        if self._parking:
            if not await self._receipt_in_time(opened_at):
                return self._view
        else:
            await workflow.wait_condition(lambda: self._receipt is not None)
        assert self._receipt is not None
        self._view.received = self._receipt.lines
        await self._move(ReturnStatus.RECEIVED, f"received by {self._receipt.actor}")

        await self._inspect()
        # A claim's return takes back what the claim already made good: nothing is refundable.
        self._view.refund_due = (
            Decimal("0.00")
            if inp.resolution is ReturnResolution.CLAIM
            else refund_due(inp.lines, self._receipt.lines, inp.reason)
        )
        await self._move(ReturnStatus.INSPECTED, f"inspected: {self._view.refund_due} refundable")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    @workflow.signal
    def decide(self, decision: ReturnDecision) -> None:
        if self._view.awaiting_approval and self._decision is None:
            self._decision = decision

    @workflow.signal
    async def received(self, receipt: ReturnReceipt) -> None:
        if self._receipt is not None or self._view.status is ReturnStatus.REJECTED:
            return
        if self._view.status is ReturnStatus.IN_TRANSIT:
            self._receipt = receipt
        elif self._parking and self._view.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED):
            # The warehouse scanned the parcel before the label was recorded: kept, and applied
            # once the label is (the run waits for it in order).
            self._receipt = receipt
            self._view.receipt_kept = True
            await self._record(f"receipt by {receipt.actor} kept until the return label is recorded")

    @workflow.signal
    def ops_instruction(self, instruction: ReturnInstruction) -> None:
        """Ops' retry of a parked step, forwarded by the order."""
        if instruction.action is OpsActionKind.RETRY and self._view.parked:
            self._retries += 1
            self._last_instruction = instruction

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

        def take_back(line: ReceivedLine) -> Callable[[], Awaitable[int]]:
            return lambda: workflow.execute_activity_method(
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

        await asyncio.gather(
            *(self._step(f"stock take-back of {line.sku}", take_back(line)) for line in self._receipt.lines)
        )

    # --- supervision (PARKING_PATCH) -------------------------------------------------------

    async def _step(self, step: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a step; on the new path a step out of retries parks for ops' retry instead of
        failing the return (and with it the order)."""
        if not self._parking:
            return await call()
        result = await parked_on_failure(step, call, self._supervision.park)
        assert result is not None  # park (not park_skippable): ops only retry
        return result

    async def _receipt_in_time(self, opened_at: datetime) -> bool:
        """Wait for the warehouse's receipt: past `receipt_sla` (from now: the label is bought)
        the return needs attention until it comes; past `expiry` (from the request) the return
        ends rejected, "expired". False when it expired."""
        inp = self._input
        expires_at = None if inp.expiry is None else opened_at + inp.expiry
        sla_at = None if inp.receipt_sla is None else workflow.now() + inp.receipt_sla
        while self._receipt is None:
            deadlines = [at for at in (sla_at, expires_at) if at is not None]
            if not deadlines:
                await workflow.wait_condition(lambda: self._receipt is not None)
                break
            due = min(deadlines)
            try:
                await workflow.wait_condition(
                    lambda: self._receipt is not None,
                    timeout=max(due - workflow.now(), timedelta(0)),
                    timeout_summary="return expiry" if due == expires_at else "return receipt SLA",
                )
            except TimeoutError:
                if due == expires_at:
                    self._attention.clear()
                    self._sync_attention()
                    self._view.closed_reason = EXPIRED
                    await self._move(ReturnStatus.REJECTED, EXPIRED)
                    return False
                assert inp.receipt_sla is not None
                sla_at = None
                self._flag("sla", f"return not received within {inp.receipt_sla}")
                await self._record(f"return not received within {inp.receipt_sla}")
        if self._unflag("sla"):
            await self._record("received after its SLA")
        return True

    def _flag(self, key: str, reason: str) -> None:
        self._attention[key] = reason
        self._sync_attention()

    def _unflag(self, key: str) -> bool:
        found = self._attention.pop(key, None) is not None
        self._sync_attention()
        return found

    def _sync_attention(self) -> None:
        self._view.parked = "parked" in self._attention
        self._view.attention_reason = next(iter(self._attention.values()), None)

    async def _parked(self, step: str, reason: str, kinds: set[OpsActionKind]) -> Decision:
        await self._record(f"parked: {reason}")
        workflow.set_current_details(f"Parked: {reason}")
        seen = self._retries
        await workflow.wait_condition(lambda: self._retries > seen)
        return self._last_instruction

    async def _resumed(self, step: str, decision: Decision) -> None:
        await self._record(f"{step}: {decision.action.value} by {decision.actor}")

    async def _no_sla(self, *args: object) -> None:
        """The return's one SLA (the receipt's) is watched by `_receipt_in_time`, not by hooks."""

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
