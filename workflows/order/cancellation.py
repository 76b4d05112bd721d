"""Cancellation and its compensations: undo what was done, in reverse order, exactly once, then
end `cancelled`. Shielded from workflow cancellation: once begun, the compensations go on."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from domain import events
    from domain.enums import OrderStatus
    from domain.models import CancelRequest, ShipmentView
    from workflows.order.door import Door
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.ops import Ops
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock

# Patch (docs/versioning.md): the compensations begin once an edit under way has ended (make fuzz,
# seed 20261201, order 441).
CANCEL_AFTER_EDIT_PATCH = "cancel-after-edit-20261202"
# Patch: the compensations wait for ops refunds and reships under way, and fold in the end of
# every parcel that started after they cancelled the others (make fuzz, seed 20261201, order 313).
CANCEL_FOLDS_LATE_PARCELS_PATCH = "cancel-folds-late-parcels-20261202"


class Cancellation:
    def __init__(
        self, state: OrderState, door: Door, ops: Ops, stock: Stock, payment: Payment, fulfilment: Fulfilment
    ) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._fulfilment = fulfilment

    async def cancel_order(self, request: CancelRequest, detail: dict[str, Any] | None = None) -> None:
        """Run the compensations once (a second call waits for the first), then end cancelled."""
        state = self._state
        if state.compensation is None:
            state.compensation = asyncio.create_task(self._compensate(request, detail or {}))
        while True:
            try:
                await asyncio.shield(state.compensation)
                return
            except asyncio.CancelledError:
                if state.compensation.done():
                    return
                # A workflow cancellation while compensating: the compensations go on.

    async def _compensate(self, request: CancelRequest, detail: dict[str, Any]) -> None:
        state = self._state
        if state.editing and workflow.patched(CANCEL_AFTER_EDIT_PATCH):
            # An edit is reserving, charging or starting parcels: run beside it, the compensations
            # released its stock before it was reserved, refunded before it captured, and ended
            # before its new parcel started (that parcel then ended unheard). The wait ends: each
            # stock and payment step of an edit is bounded (a failure refuses the edit), and its
            # catalog read retries only until the database answers, as the intake's does. Then
            # all of the edit is undone.
            workflow.set_current_details(f"Cancelling ({request.reason}): waiting for the edit under way")
            await workflow.wait_condition(lambda: not state.editing)
        self._door.set_cancellation_reason(request.reason)
        workflow.set_current_details(f"Cancelling ({request.reason}): running compensations")
        for child in state.children:
            if not child.done():
                child.cancel()
        for child in state.children:
            await self._fold_end(child)
        folded = len(state.children)
        await self._fulfilment.settle_short_picks()
        if (state.resolving or len(state.children) > folded) and workflow.patched(CANCEL_FOLDS_LATE_PARCELS_PATCH):
            # A short pick's reallocation, or an ops reship, was starting a parcel when the cancel
            # came: it started after the loop above, and was cancelled at once (fulfilment.py
            # `start_parcels`). Unfolded, the order kept it `pending` while the parcel itself said
            # `cancelled`. Ops actions under way end first (each step is bounded, or parks for ops).
            await workflow.wait_condition(lambda: state.resolving == 0)
            for child in state.children[folded:]:
                await self._fold_end(child)
        await self._payment.compensate()
        released = await self._stock.release()
        for key in self._fulfilment.short_keys:  # a short pick's reallocation (issue 17)
            released = (released or 0) + await self._stock.release_key(key)
        if released is not None:
            detail = {**detail, "units_released": released}
        state.attention.clear()
        self._stock.answer_arrivals(reserved=False)
        self._door.move(
            OrderStatus.CANCELLED,
            events.ORDER_CANCELLED,
            actor=request.actor,
            detail={"reason": request.reason, **detail},
        )
        await self._ops.notify("cancelled", reason=request.reason, parkable=False)

    async def _fold_end(self, child: workflow.ChildWorkflowHandle[Any, ShipmentView]) -> None:
        """Wait for a parcel cancelled above to end, and fold its last view into the order."""
        try:
            self._fulfilment.apply_shipment(await child)
        except (ChildWorkflowError, asyncio.CancelledError) as error:
            # The parcel ended without a view to report (e.g. it was already with the carrier).
            workflow.logger.warning("parcel %s ended with %s", child.id, error)
