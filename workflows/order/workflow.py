"""OrderWorkflow: one e-commerce order from submission to close.

received -> verifying [-> on_hold] -> allocating [-> backordered] -> payment_pending -> fulfilling
-> (partially_)shipped -> (partially_)delivered [-> returning] -> closed; or cancelled, with
compensations, at any point before hand-over. The allowed moves are ORDER_MOVES in
domain/lifecycle.py.

This class is the order's outside: every update, signal and query, and the run loop, which
reads top to bottom. The steps live next door, one module per concern, each a plain class over
the shared OrderState (state.py):
- door.py: the one door (record an event, move to a status) and the projection writer;
- ops.py: waiting for ops, parking, SLA hooks, customer notifications, ops actions for children;
- intake.py: verification and the hold; stock.py: reservation and backorder;
- payment.py: authorize, capture, refunds, and their compensation;
- fulfilment.py: the parcels (ShipmentWorkflow children) and delivery issues;
- after_sales.py: returns (ReturnWorkflow children) and closing;
- cancellation.py: the compensations;
- parcel_control.py: ops hold, release and move of the parcels not yet with the carrier;
- parcels_back.py: parcels returned to sender, received back at the warehouse;
- edits.py: the customer's or ops' changes of the lines and the contact.

Commands arrive as validated updates (submit, cancel, ops_action, change_address, stock_arrived,
request_return, parcel_back, file_claim, edit_lines, edit_contact, backorder_choice); facts as signals (shipment_changed, return_changed). Handlers only validate and
change state; the run loop drives the steps and consumes what the handlers left for it.
Cancellation is cooperative: the run loop checks for it between steps and while it waits, so a
step is never torn in half. Nothing fails silently: a step past its SLA flags the order; a step
out of retries parks it until ops retry (or skip); both notify ops and show in `NeedsAttention`.
"""

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain import events
    from domain.actions import hold_refusal, move_refusal
    from domain.backorder import choice_problems
    from domain.claims import claim_refusal, claim_too_early, open_claim
    from domain.edits import contact_refusal
    from domain.enums import BackorderChoiceKind, ClaimKind, OpsActionKind, OrderStatus
    from domain.lifecycle import ADDRESS_LOCKED, address_locked, cancel_refusal
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
        OrderView,
        ParcelBack,
        ReturnRequest,
        ReturnView,
        ShipmentView,
        StockArrival,
        SubmitResult,
    )
    from domain.resolution import check_not_resolving_itself, check_refund, reship_request
    from domain.returns import return_problems
    from workflows.order.after_sales import AfterSales
    from workflows.order.cancellation import Cancellation
    from workflows.order.door import Door
    from workflows.order.edits import Edits
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.intake import Intake
    from workflows.order.ops import Ops
    from workflows.order.parcel_control import ACTIONS as PARCEL_CONTROL
    from workflows.order.parcel_control import ParcelControl
    from workflows.order.parcels_back import ParcelsBack
    from workflows.order.payment import Payment
    from workflows.order.resolution import Resolution
    from workflows.order.state import CancelRequested, OrderState, Refused
    from workflows.order.stock import Stock
    from workflows.returns import RETURN_CHANGED_SIGNAL
    from workflows.shipment import SHIPMENT_CHANGED_SIGNAL, ShipmentWorkflow
    from workflows.supervision import within_sla, within_sla_after_local_steps

# Patch ids (docs/versioning.md, "Patches in force").
SLA_AFTER_LOCAL_STEPS = "order-sla-after-local-steps-20261201"
# An address change signals only the parcels still running (an edit's replaced ones have ended).
ADDRESS_SKIPS_ENDED_PARCELS_PATCH = "order-address-skips-ended-parcels-20261202"


T = TypeVar("T")


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, inp: OrderInput) -> None:
        self._state = state = OrderState(inp)
        self._order = state.order
        self._door = door = Door(state)
        self._ops = ops = Ops(state, door)
        self._intake = Intake(state, door, ops)
        self._stock = stock = Stock(state, door, ops)
        self._payment = payment = Payment(state, door, ops)
        self._fulfilment = fulfilment = Fulfilment(state, door, ops, stock, payment)
        self._after_sales = AfterSales(state, door, ops, stock, payment, fulfilment)
        self._cancellation = Cancellation(state, door, ops, stock, payment, fulfilment)
        self._resolution = Resolution(state, door, ops, stock, payment, fulfilment, self._after_sales)
        self._parcel_control = ParcelControl(state, door)
        self._parcels_back = ParcelsBack(state, door)
        self._edits = Edits(state, door, stock, payment, fulfilment)
        self._submissions = 0
        self._sla_after_local_steps = False  # decided by the patch at the start of `_lifecycle`

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderView:
        projector = asyncio.create_task(self._door.project())
        self._door.record(
            events.ORDER_RECEIVED, actor=inp.actor, detail={"channel": inp.request.channel.value}
        )
        try:
            await self._lifecycle()
        except asyncio.CancelledError:
            # The workflow itself was cancelled (e.g. from the Temporal UI): same compensations.
            await self._cancellation.cancel_order(
                CancelRequest(reason="workflow cancelled", actor="temporal")
            )
        await workflow.wait_condition(self._door.idle)
        projector.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._order

    async def _watched(self, step: str, work: Coroutine[Any, Any, T]) -> T:
        """Run a step of the run loop within its SLA (`OrderState.slas`)."""
        sla: timedelta = getattr(self._state.slas, step)
        hooks = self._ops.sla_hooks(step)
        if self._sla_after_local_steps:
            return await within_sla_after_local_steps(
                step, sla, work, *hooks, in_local_step=self._door.in_local_step
            )
        # Orders started before the patch: the timer starts before the step's local activities
        # and is cancelled when the step ends, as their histories recorded it.
        return await within_sla(step, sla, work, *hooks)

    async def _lifecycle(self) -> None:
        state, ops = self._state, self._ops
        # Asked once, before the first step, so every new order records the marker at the same
        # point (docs/versioning.md): SLA timers that no local activity's result can move.
        self._sla_after_local_steps = workflow.patched(SLA_AFTER_LOCAL_STEPS)
        try:
            await self._watched("verifying", self._intake.verify())
            if self._order.hold is not None:
                await self._intake.hold()
            self._door.move(OrderStatus.ALLOCATING, events.ORDER_ACCEPTED)
            # A regular activity on purpose: waiting on it ends this workflow task, and the answer
            # to POST /orders (the submit update) leaves only when its task completes. As a local
            # activity the task would run on through reservation and payment before answering
            # (tried and reverted, docs/performance.md).
            await ops.notify("accepted")
            state.checkpoint()
            allocation = await self._watched("allocating", self._stock.allocate())
            state.checkpoint()
            await self._watched("payment", self._payment.pay())
            state.checkpoint()
            await self._fulfilment.fulfil(allocation)
            await self._after_sales.close_after_return_window()
        except CancelRequested:
            assert state.cancel is not None
            await self._cancellation.cancel_order(state.cancel)
        except Refused as refusal:
            await self._cancellation.cancel_order(
                CancelRequest(reason=refusal.reason, actor="system"), detail=refusal.detail
            )

    # --- commands (updates) ---------------------------------------------------------------

    @workflow.update
    async def submit(self, inp: OrderInput) -> SubmitResult:
        """Answer a submission with the verified outcome (accepted, on hold, or cancelled with
        reasons). Repeats get the same outcome with created=False."""
        created = self._submissions == 0
        self._submissions += 1
        await workflow.wait_condition(self._door.verdict_written)
        assert self._door.verdict is not None
        return SubmitResult(created=created, order=self._door.verdict)

    @submit.validator
    def _validate_submit(self, inp: OrderInput) -> None:
        if inp.request_hash != self._state.input.request_hash:
            raise ApplicationError(
                f"order {inp.order_id} was already submitted with a different body",
                type="IdempotencyConflict",
            )

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        if self._state.cancel is None and self._order.status is not OrderStatus.CANCELLED:
            self._state.cancel = request
        await workflow.wait_condition(
            lambda: self._order.status is OrderStatus.CANCELLED and self._door.all_projected()
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
        state = self._state
        if action.action in PARCEL_CONTROL:
            # hold, release, move: recorded by ParcelControl once done (a refused move records nothing).
            await self._parcel_control.act(action)
            await workflow.wait_condition(self._door.all_projected)
            return self._order
        self._door.record(
            events.ops_event(action.action.value),
            actor=action.actor,
            detail={
                "note": action.note,
                **({"params": action.params} if action.params else {}),
            },
        )
        if action.action is OpsActionKind.CANCEL:
            if state.cancel is None:
                state.cancel = CancelRequest(reason=action.note or "cancelled by ops", actor=action.actor)
            await workflow.wait_condition(lambda: self._order.status is OrderStatus.CANCELLED)
        elif action.action in state.awaiting_ops:
            state.ops_pending = action
            await workflow.wait_condition(lambda: state.ops_pending is None)
        elif action.action is OpsActionKind.REFUND:
            await self._resolution.refund(action)
        elif action.action is OpsActionKind.RESHIP:
            await self._resolution.reship(action)
        elif action.action is OpsActionKind.REJECT_CLAIM:
            await self._resolution.reject_claim(action)
        elif action.action in (OpsActionKind.APPROVE, OpsActionKind.REJECT):
            await self._ops.decide_return(action)
        elif self._ops.retries_return(action):
            await self._ops.retry_return(action)
        elif action.action is not OpsActionKind.NOTE:
            await self._ops.instruct_parcel(action)
        await workflow.wait_condition(self._door.all_projected)
        return self._order

    @ops_action.validator
    def _validate_ops_action(self, action: OpsAction) -> None:
        self._validate_first(action)  # before the list of what applies: its refusals say why
        available = self._door.available_actions()
        if action.action not in available:
            allowed = ", ".join(a.value for a in available) or "none"
            raise ApplicationError(
                f"{action.action.value} does not apply to an order that is {self._order.status.value} "
                f"(possible now: {allowed})",
                type="ActionNotApplicable",
            )
        if action.action is OpsActionKind.REROUTE and not isinstance(action.params.get("carrier"), str):
            raise ApplicationError("reroute needs params.carrier", type="ActionNotApplicable")
        try:
            if action.action is OpsActionKind.REFUND:
                if not action.note:
                    raise ValueError("refund needs a note (the reason)")
                check_refund(self._order, action.params)
            elif action.action is OpsActionKind.RESHIP:
                reship_request(self._order, action.params)
            elif action.action is OpsActionKind.REJECT_CLAIM:
                if not action.note:
                    raise ValueError("reject_claim needs a note (the reason)")
                if open_claim(self._order, action.params.get("claim_id")) is None:
                    raise ValueError(f"no open claim {action.params.get('claim_id')} on the order")
        except ValueError as problem:
            raise ApplicationError(str(problem), type="ActionNotApplicable") from None

    def _validate_first(self, action: OpsAction) -> None:
        """The refusals that say more than "does not apply": a hold or a move that cannot be, a
        refund or reship while the order is being cancelled, or of a parcel the order is resolving
        itself."""
        refusal = None
        if action.action in (OpsActionKind.REFUND, OpsActionKind.RESHIP):
            if self._state.compensation is not None:
                refusal = "the order is being cancelled: what was captured is refunded, what was reserved released"
            else:
                try:
                    check_not_resolving_itself(self._order, action.params)
                except ValueError as problem:
                    refusal = str(problem)
        elif action.action is OpsActionKind.HOLD:
            refusal = "hold needs a note (the reason)" if not action.note else hold_refusal(self._order)
        elif action.action is OpsActionKind.MOVE:
            refusal = move_refusal(self._order, action.params.get("shipment_id"), action.params.get("warehouse"))
        if refusal is not None:
            raise ApplicationError(f"{action.action.value}: {refusal}", type="ActionNotApplicable")

    @workflow.update
    async def file_claim(self, request: ClaimRequest) -> ClaimView:
        """A customer's claim about a parcel the carrier has: open until ops answer it (reship,
        refund, reject_claim); a wrong item ships the right one at once."""
        claim = self._resolution.file_claim(request)
        if claim.kind is ClaimKind.WRONG_ITEM:
            await self._resolution.ship_right_item(claim)
        await workflow.wait_condition(self._door.all_projected)
        return next(c for c in self._order.claims if c.claim_id == claim.claim_id)

    @file_claim.validator
    def _validate_file_claim(self, request: ClaimRequest) -> None:
        refusal = claim_refusal(self._order, request) or claim_too_early(self._order, request)
        if refusal is None and self._state.compensation is not None:
            refusal = "the order is being cancelled"
        if refusal is not None:
            raise ApplicationError(f"cannot file the claim: {refusal}", type="ActionNotApplicable")

    @workflow.update
    async def change_address(self, change: AddressChange) -> OrderView:
        self._door.set_address(change.address)
        for child in self._state.children:
            # A parcel that has ended (one an edit replaced, ended `cancelled`) cannot be
            # signalled: the signal failed the whole update (ExternalWorkflowExecutionNotFound).
            # The order may hear of the parcel's end only after it ended: a signal that finds no
            # running parcel is skipped likewise.
            if child.done() and workflow.patched(ADDRESS_SKIPS_ENDED_PARCELS_PATCH):
                continue
            try:
                await child.signal(ShipmentWorkflow.change_destination, change.address)
            except FailureError:
                if not workflow.patched(ADDRESS_SKIPS_ENDED_PARCELS_PATCH):
                    raise
                workflow.logger.info("address change: parcel %s has ended", child.id)
        self._door.record(events.ORDER_ADDRESS_CHANGED, actor=change.actor)
        await workflow.wait_condition(self._door.all_projected)
        return self._order

    @change_address.validator
    def _validate_change_address(self, change: AddressChange) -> None:
        if self._order.status.terminal:
            raise ApplicationError(f"the order is {self._order.status.value}", type="ActionNotApplicable")
        if address_locked(self._order):
            raise ApplicationError(ADDRESS_LOCKED, type="AddressLocked")

    @workflow.update
    async def edit_lines(self, edit: LinesEdit) -> OrderView:
        """The order's new set of lines (workflows/order/edits.py): all of it or nothing."""
        await self._edits.edit_lines(edit)
        await workflow.wait_condition(self._door.all_projected)
        return self._order

    @edit_lines.validator
    def _validate_edit_lines(self, edit: LinesEdit) -> None:
        refusal = self._edits.lines_refusal(edit)
        if refusal is not None:
            raise ApplicationError(f"cannot change the lines: {refusal}", type="TooLateToEdit")

    @workflow.update
    async def edit_contact(self, change: ContactChange) -> OrderView:
        self._edits.change_contact(change)
        await workflow.wait_condition(self._door.all_projected)
        return self._order

    @edit_contact.validator
    def _validate_edit_contact(self, change: ContactChange) -> None:
        refusal = contact_refusal(self._order)
        if refusal is not None:
            raise ApplicationError(f"cannot change the contact: {refusal}", type="TooLateToEdit")

    @workflow.update
    async def stock_arrived(self, arrival: StockArrival) -> AllocationAttempt:
        """Stock came in: try the reservation again now; answers whether it succeeded. An order
        past allocation whose short-picked lines wait for the SKU (order.short_waits, under
        short-pick-wakes-on-receipt-20261202) tries those lines' reservation again instead."""
        fulfilment = self._fulfilment
        if self._order.status is not OrderStatus.BACKORDERED and fulfilment.short_waiting_for(arrival.sku):
            wake = fulfilment.short_stock_arrived(arrival.sku)
            await workflow.wait_condition(lambda: wake in fulfilment.wake_answers)
            return fulfilment.wake_answers.pop(wake)
        ticket = self._stock.stock_arrived()
        answers = self._stock.arrival_answers
        await workflow.wait_condition(lambda: ticket in answers)
        return answers.pop(ticket)

    @stock_arrived.validator
    def _validate_stock_arrived(self, arrival: StockArrival) -> None:
        if self._order.status is not OrderStatus.BACKORDERED and not self._fulfilment.short_waiting_for(arrival.sku):
            raise ApplicationError(f"the order is {self._order.status.value}", type="ActionNotApplicable")

    @workflow.update
    async def backorder_choice(self, choice: BackorderChoice) -> OrderView:
        """The customer's (or ops') answer to a backordered order's question: `wait` is recorded
        here; the other choices are carried out by the run loop (workflows/order/stock.py). A
        substitute out of stock too is refused (OutOfStock) and changes nothing."""
        stock, state = self._stock, self._state
        if choice.choice is BackorderChoiceKind.WAIT:
            stock.record_wait(choice)
        else:
            stock.choice_settled, stock.choice_refusal = False, None
            stock.pending_choice = choice
            await workflow.wait_condition(lambda: stock.choice_settled or state.cancel is not None)
            if not stock.choice_settled:
                stock.pending_choice = None
                raise ApplicationError("the order is being cancelled", type="ActionNotApplicable")
            if stock.choice_refusal is not None:
                kind, message = stock.choice_refusal
                raise ApplicationError(message, type=kind)
            await workflow.wait_condition(lambda: self._order.status is not OrderStatus.BACKORDERED)
        await workflow.wait_condition(self._door.all_projected)
        return self._order

    @backorder_choice.validator
    def _validate_backorder_choice(self, choice: BackorderChoice) -> None:
        order = self._order
        if order.status is not OrderStatus.BACKORDERED:
            raise ApplicationError(
                f"the order is {order.status.value}: only a backordered order takes a choice",
                type="ActionNotApplicable",
            )
        if order.backorder is None:
            raise ApplicationError(
                "the order was backordered before its customer could choose: it follows the policy",
                type="ActionNotApplicable",
            )
        stock = self._stock
        if stock.pending_choice is not None or not stock.accepting_choices or self._state.cancel is not None:
            raise ApplicationError(
                "the order is busy (another choice, a reservation or a cancellation is under way): try again",
                type="ActionNotApplicable",
            )
        problems = choice_problems(order.backorder, choice)
        if problems:
            raise ApplicationError(
                "; ".join(f"{p.field}: {p.message}" for p in problems),
                [p.model_dump() for p in problems],
                type="InvalidOrder",
            )

    @workflow.update
    async def request_return(self, request: ReturnRequest) -> ReturnView:
        """Open a return (RMA) for delivered lines within the return window."""
        rma = self._after_sales.open_return(request)
        # Its child starts now (new orders), so the answer never waits on the run loop's phase.
        await self._after_sales.start_at_once()
        await workflow.wait_condition(
            lambda: rma in self._state.return_children and self._door.all_projected()
        )
        return next(r for r in self._order.returns if r.rma_id == rma)

    @request_return.validator
    def _validate_request_return(self, request: ReturnRequest) -> None:
        delivered_at = self._state.delivered_at
        if self._order.status not in (OrderStatus.DELIVERED, OrderStatus.RETURNING) or delivered_at is None:
            raise ApplicationError(
                f"the order is {self._order.status.value}: only delivered orders take returns",
                type="ReturnNotAllowed",
            )
        if workflow.now() >= delivered_at + self._state.policy.return_window:
            raise ApplicationError("the return window is over", type="ReturnNotAllowed")
        problems = return_problems(self._order, request.lines)
        if problems:
            raise ApplicationError("; ".join(problems), type="ReturnNotAllowed")

    @workflow.update
    async def parcel_back(self, back: ParcelBack) -> ShipmentView:
        """A parcel returned to sender is back at the warehouse (workflows/order/parcels_back.py)."""
        parcel = await self._parcels_back.receive(back)
        await workflow.wait_condition(self._door.all_projected)
        return parcel

    @parcel_back.validator
    def _validate_parcel_back(self, back: ParcelBack) -> None:
        refusal = self._parcels_back.refusal(back)
        if refusal is not None:
            raise ApplicationError(refusal, type="ActionNotApplicable")

    # --- facts (signals) and state (query) ------------------------------------------------

    @workflow.signal(name=RETURN_CHANGED_SIGNAL)
    def return_changed(self, view: ReturnView) -> None:
        self._after_sales.apply_return(view)
        self._after_sales.return_news = True

    @workflow.signal(name=SHIPMENT_CHANGED_SIGNAL)
    def shipment_changed(self, shipment: ShipmentView) -> None:
        self._fulfilment.apply_shipment(shipment)

    @workflow.query
    def state(self) -> OrderView:
        return self._order
