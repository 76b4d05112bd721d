"""ShipmentWorkflow: one parcel from pick task to delivery (child of OrderWorkflow).

pending -> picking (waits for the warehouse's pick confirmation) -> packed -> rate shopping ->
label_created (stock moves from reserved to shipped) -> in_transit (hand-over) -> out_for_delivery
-> delivered. Carrier exceptions: `lost` and `damaged` end the parcel with a delivery issue that
the order resolves (reship or refund); `failed_attempt` three times ends it returned_to_sender;
`delayed` tells the customer the new date.

Every change is written to the shipments projection (and its event log); the parent order is
signalled only when the part it acts on changes (`domain.lifecycle.order_news`). Each
phase has an SLA (picking, label, delivery); past it the parcel carries an attention reason that
the order shows to ops. A refused label or a step out of retries parks the parcel until ops send
an instruction through the order. Cancelled before hand-over, the parcel voids its label.

Ops control through the order (workflows/order/parcel_control.py): `ops_hold` stops the pick and
the label until release (a pick confirmed meanwhile is kept; a pick or label SLA that passes during
the hold does not flag the parcel and runs again, whole, from the release); `move_to` sends a parcel
not yet picked to another warehouse, whose stock the order has already reserved.
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.inventory import InventoryActivities
    from activities.notify import NotifyActivities
    from activities.store import ProjectionActivities
    from domain import ids
    from domain.carriers import choose_quote
    from domain.enums import CarrierIssue, OpsActionKind, ShipmentStatus, TrackingStatus
    from domain.lifecycle import SHIPMENT_MOVES, SHIPMENT_PROGRESS, check_move, order_news
    from domain.models import (
        Address,
        Label,
        LabelRequest,
        ParcelHold,
        ParcelInstruction,
        ParcelLine,
        ParcelMove,
        PickConfirmation,
        QuoteRequest,
        RateQuote,
        ShipmentInput,
        ShipmentView,
        ShipStockRequest,
        ShortPick,
        TrackingEvent,
        TrackingPoll,
    )
    from domain.notifications import shipment_notification
    from domain.picking import split_pick
    from workflows.failures import is_refusal, refusal_of
    from workflows.options import (
        ACTIVITY_TIMEOUT,
        LOCAL_ACTIVITY_TIMEOUT,
        PERSISTENT_RETRY,
    )
    from workflows.supervision import (
        STEP_FAILURES,
        Decision,
        Hook,
        Supervision,
        bounded_retry,
        parked_on_failure,
        within_sla,
        within_sla_after_local_steps,
    )

# The parent's signal that receives this parcel's news.
SHIPMENT_CHANGED_SIGNAL = "shipment_changed"

# Patch (docs/versioning.md): parcels started before it signalled the order on every change.
ORDER_NEWS_ONLY_PATCH = "shipment-order-news-only-20261127"
# Patch: parcels started before it ran rate shopping, the label purchase, the stock hand-over and
# the customer notifications as (remote) activities, each a round trip through the server.
LOCAL_STEPS_PATCH = "shipment-local-steps-20261127"
# Patch: parcels started before it started each phase's SLA timer before the phase's local
# activities and cancelled it when the phase ended (`within_sla`); see `_watched`.
SLA_AFTER_LOCAL_STEPS_PATCH = "shipment-sla-after-local-steps-20261201"
# Patch: parcels started before it applied queued carrier events in arrival order; see `_next_event`.
TRACKING_IN_EVENT_ORDER_PATCH = "shipment-tracking-in-event-order-20261201"
# Patch: parcels started before it shipped every line whatever the pick said; see `_short_pick`.
SHORT_PICK_PATCH = "short-pick-20261202"

T = TypeVar("T")

_TRACKING_TO_SHIPMENT = {
    TrackingStatus.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: ShipmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: ShipmentStatus.DELIVERED,
    TrackingStatus.EXCEPTION: ShipmentStatus.EXCEPTION,
    TrackingStatus.RETURNED_TO_SENDER: ShipmentStatus.RETURNED_TO_SENDER,
}
_FINAL = (
    ShipmentStatus.DELIVERED,
    ShipmentStatus.RETURNED_TO_SENDER,
    ShipmentStatus.CANCELLED,
)
MAX_DELIVERY_ATTEMPTS = 3
# The phases an ops hold stops (the parcel's `_unless_held`).
_HELD_PHASES = ("picking", "label")


def _moment(event: TrackingEvent) -> datetime:
    """When the carrier saw the event; a time without a zone is taken as UTC (comparable)."""
    return event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=UTC)


@workflow.defn
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        self._input = inp
        self._view = ShipmentView(
            shipment_id=inp.shipment_id,
            order_id=inp.order_id,
            warehouse=inp.parcel.warehouse,
            lines=inp.parcel.lines,
        )
        self._retry = bounded_retry(inp.activity_attempts)
        self._pick: PickConfirmation | None = None
        self._weight = inp.weight_grams  # what the parcel weighs: less after a short pick
        self._tracking: list[TrackingEvent] = []
        self._label: Label | None = None
        self._label_in_doubt = False
        self._stock_shipped = False
        self._chosen: RateQuote | None = None
        self._destination = inp.destination
        self._instruction: ParcelInstruction | None = None
        self._awaiting: frozenset[OpsActionKind] = frozenset()
        self._carrier_override: str | None = None
        self._label_attempt = 1
        self._attention: dict[str, str] = {}
        self._delays = 0
        self._seen_events: set[tuple[str, str, str]] = set()
        self._written_off = ""  # why the order stopped waiting for this parcel (`written_off`)
        self._told_order: tuple[object, ...] = order_news(self._view)  # what the order knows
        self._news_only = False  # set in `run` (a patch is decided in the workflow's first task)
        self._local_steps = False  # likewise
        self._sla_after_local_steps = False  # likewise
        self._local_in_flight = 0  # local activities running now (`_locally`)
        self._view.reservation_key = inp.reservation_key or inp.order_id
        # Ops control (`ops_hold`, `move_to`): held, the parcel is neither picked nor labelled;
        # moved, it ships from another warehouse (its stock already reserved there by the order).
        self._held = inp.held
        self._warehouse = inp.parcel.warehouse
        self._region = inp.parcel.region
        self._phase: str | None = None  # the phase `_watched` runs now
        self._sla_after_hold: tuple[str, Hook] | None = None  # a breach the hold kept back
        self._sla_rechecks: list[asyncio.Task[None]] = []
        # One phase runs at a time, so its SLA has one attention key.
        self._supervision = Supervision(
            flag=self._flag,
            unflag=self._unflag,
            wait_for_ops=self._parked,
            resumed=self._resumed,
            breached=self._breached,
            recovered=self._recovered,
            sla_key=lambda step: "sla",
        )

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentView:
        self._news_only = workflow.patched(ORDER_NEWS_ONLY_PATCH)
        self._local_steps = workflow.patched(LOCAL_STEPS_PATCH)
        # Asked here, once, before the first phase, so every new parcel records the marker at the
        # same point (docs/versioning.md): SLA timers that no local activity's result can move.
        self._sla_after_local_steps = workflow.patched(SLA_AFTER_LOCAL_STEPS_PATCH)
        try:
            await self._watched("picking", self._picking())
            if self._view.status is not ShipmentStatus.CANCELLED:  # else nothing was picked
                await self._watched("label", self._labelling())
                await self._watched("delivery", self._track())
        except asyncio.CancelledError:
            if self._view.handed_over:
                raise  # the carrier has it: a return, not a cancellation
            await self._cancel_before_hand_over()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    # --- messages -------------------------------------------------------------------------

    @workflow.signal
    def pick_confirmed(self, confirmation: PickConfirmation) -> None:
        if self._pick is None:
            self._pick = confirmation

    @workflow.signal
    def tracking_event(self, event: TrackingEvent) -> None:
        self._receive(event)

    def _receive(self, event: TrackingEvent) -> None:
        """Queue a carrier event once: webhook replays and polled copies are the same event."""
        identity = (event.status.value, event.detail or "", event.at.isoformat())
        if identity not in self._seen_events:
            self._seen_events.add(identity)
            self._tracking.append(event)

    @workflow.signal
    def ops_instruction(self, instruction: ParcelInstruction) -> None:
        if instruction.action is OpsActionKind.SKIP and self._view.status is ShipmentStatus.PICKING:
            # Ops confirm the pick on the warehouse's behalf.
            self.pick_confirmed(PickConfirmation(picker=f"ops:{instruction.actor}"))
        elif instruction.action in self._awaiting:
            self._instruction = instruction

    @workflow.signal
    async def ops_hold(self, hold: ParcelHold) -> None:
        """The order's ops hold (or its release). A pick confirmed during the hold is kept and
        applied on release; a parcel already labelled goes on (the carrier's scan is a fact)."""
        if hold.held == self._held or self._view.status in _FINAL:
            return
        self._held = hold.held
        if not hold.held and self._sla_after_hold is not None:
            step, breach = self._sla_after_hold
            self._sla_after_hold = None
            self._sla_rechecks.append(asyncio.create_task(self._sla_again(step, breach)))
        if self._view.status is not ShipmentStatus.PENDING:
            await self._record(f"{'held' if hold.held else 'released'} by {hold.actor}")

    @workflow.signal
    async def move_to(self, move: ParcelMove) -> None:
        """Ops moved the parcel to another warehouse before its pick: the pick task goes there. A
        pick confirmed here but not yet applied (during a hold) was for the old warehouse: void.
        Arriving after the pick (a race with the warehouse), the move cannot apply: the parcel is
        flagged for ops, since its stock is now reserved at the other warehouse."""
        old = self._warehouse
        if self._view.status not in (ShipmentStatus.PENDING, ShipmentStatus.PICKING):
            self._flag("move", f"moved to {move.warehouse} after the pick at {old}: check its stock")
            await self._record(f"move to {move.warehouse} by {move.actor} came after the pick")
            return
        if self._pick is not None:
            voided, self._pick = self._pick, None
            await self._record(f"pick by {voided.picker} at {old} void: the parcel moves")
        self._warehouse, self._region = move.warehouse, move.region
        self._view.warehouse = move.warehouse
        await self._record(f"moved from {old} to {move.warehouse} by {move.actor}")

    @workflow.signal
    def written_off(self, reason: str) -> None:
        """The order resolved this parcel by hand while the carrier still has it (reshipped or
        refunded after a not_received claim): it stops waiting for carrier news and ends as it
        is, so the order can close. Never sent to parcels in histories from before the claims."""
        if self._view.handed_over and self._view.status not in _FINAL:
            self._written_off = reason

    @workflow.signal
    def change_destination(self, destination: Address) -> None:
        """Address amendments reach the parcel until its label is bought."""
        if self._label is None:
            self._destination = destination

    @workflow.query
    def state(self) -> ShipmentView:
        return self._view

    # --- phases ---------------------------------------------------------------------------

    async def _watched(self, phase: str, work: Coroutine[Any, Any, None]) -> None:
        """Run a phase within its SLA (`ShipmentInput.slas`).

        New parcels (SLA_AFTER_LOCAL_STEPS_PATCH) start the phase's SLA timer only once the phase
        waits on something other than a local activity, and never cancel it: a local activity's
        result may reach the workflow a workflow task after the one that recorded its marker, and
        a timer started before it and cancelled after it would leave no events on replay but
        TimerStarted and TimerCanceled live (docs/versioning.md, "Local activities and workflow
        task boundaries"). The label phase is a chain of local activities (rates, label, stock)."""
        sla: timedelta = getattr(self._input.slas, phase)
        hooks = self._sla_hooks(phase)
        self._phase = phase
        try:
            if self._sla_after_local_steps:
                await within_sla_after_local_steps(phase, sla, work, *hooks, in_local_step=self._in_local_step)
                return
            # Parcels started before the patch: the timer starts before the phase's local activities
            # and is cancelled when the phase ends, as their histories recorded it.
            await within_sla(phase, sla, work, *hooks)
        finally:
            self._phase = None

    async def _picking(self) -> None:
        await self._unless_held()
        await self._move(ShipmentStatus.PICKING, "pick task sent to the warehouse")
        workflow.set_current_details(f"Waiting for {self._warehouse} to confirm the pick")
        # During an ops hold a confirmation is kept (not applied) until release.
        await workflow.wait_condition(lambda: self._pick is not None and not self._held)
        assert self._pick is not None
        if await self._short_pick(self._pick):
            return  # nothing was picked: the parcel is cancelled
        await self._move(ShipmentStatus.PACKED, f"picked by {self._pick.picker}")

    async def _short_pick(self, pick: PickConfirmation) -> bool:
        """A pick of fewer units than asked (issue 17): the units missing are released from this
        warehouse's reservation and written off its shelf count (it did not hold them), the parcel
        ships what was picked, and the order hears of the missing lines (`short_picked`) and
        reallocates, backorders or refunds them. True when nothing at all was picked: the parcel
        is then cancelled. Parcels started before SHORT_PICK_PATCH shipped every line; the patch is
        asked only when a pick is short, so a full pick records no marker."""
        kept, missing = split_pick(self._view.lines, pick.lines)
        if not missing or not workflow.patched(SHORT_PICK_PATCH):
            return False
        await parked_on_failure("short pick stock", lambda: self._write_off(missing), self._supervision.park)
        units = sum(line.quantity for line in self._view.lines)
        self._weight = max(1, self._weight * sum(line.quantity for line in kept) // units) if kept else 0
        self._view.lines = kept
        self._view.short_picked = missing
        short = ", ".join(f"{line.sku} x{line.quantity}" for line in missing)
        if not kept:
            self._attention.clear()
            await self._move(ShipmentStatus.CANCELLED, f"nothing picked by {pick.picker}: short of {short}")
            return True
        await self._record(f"short pick by {pick.picker}: short of {short}")
        return False

    async def _write_off(self, missing: list[ParcelLine]) -> int:
        units: int = await self._step(
            InventoryActivities.short_pick_stock,
            ShortPick(
                reservation_key=self._input.reservation_key or self._input.order_id,
                warehouse=self._warehouse,
                shipment_id=self._input.shipment_id,
                lines=missing,
            ),
            f"short pick at {self._warehouse}: release and write off",
        )
        return units

    async def _sla_again(self, step: str, breach: Hook) -> None:
        """A phase whose SLA passed during an ops hold: flagged if it is still running a whole
        SLA after the release (its end unflags it, as for any breach); held again by then, once
        more after that release. The timer is never cancelled (see `_watched`)."""
        sla: timedelta = getattr(self._input.slas, step)
        await workflow.sleep(sla, summary=f"SLA {step} {sla} after an ops hold")
        if self._phase != step:
            return
        if self._held:
            self._sla_after_hold = (step, breach)
            return
        await breach()

    async def _unless_held(self) -> None:
        """Wait out an ops hold. Only when held: an await with nothing to wait for would let the
        phase's SLA timer start before the phase's first local activity, unlike in the recorded
        histories (`_watched`)."""
        if self._held:
            workflow.set_current_details("On an ops hold: waiting for release")
            await workflow.wait_condition(lambda: not self._held)

    async def _labelling(self) -> None:
        while True:
            await self._unless_held()  # a held parcel buys no label
            quote = await parked_on_failure("rate shopping", self._shop_rates, self._supervision.park)
            assert quote is not None  # rate shopping cannot be skipped
            self._chosen = quote
            self._label_in_doubt = True
            try:
                self._label = await parked_on_failure(
                    "label purchase", self._buy_label, self._supervision.park
                )
                break
            except STEP_FAILURES as error:
                if not is_refusal(error, "UndeliverableAddress"):
                    raise
                self._label_in_doubt = False
                await self._wait_for_label_retry(str(refusal_of(error)))
        self._label_in_doubt = False
        assert self._label is not None
        self._view.carrier = self._label.carrier
        self._view.service = self._label.service
        self._view.tracking_number = self._label.tracking_number
        self._view.label_id = self._label.label_id
        self._view.promised_by = self._label.promised_by
        # The label is the point of no return for the warehouse: the stock is now spoken for
        # physically, so it moves from reserved to shipped (undone if the label is voided).
        await parked_on_failure("stock hand-over", self._ship_stock, self._supervision.park)
        self._stock_shipped = True
        await self._move(
            ShipmentStatus.LABEL_CREATED,
            f"{self._label.carrier} {self._label.service.value} {self._label.price}",
        )

    async def _track(self) -> None:
        while self._view.status not in _FINAL and self._view.delivery_issue is None and not self._written_off:
            workflow.set_current_details(
                f"{self._view.status.value}: waiting for {self._view.carrier} tracking on {self._view.tracking_number}"
            )
            try:
                await workflow.wait_condition(
                    lambda: bool(self._tracking) or bool(self._written_off),
                    timeout=self._input.tracking_poll_interval,
                    timeout_summary="no carrier news: poll tracking",
                )
            except TimeoutError:
                # Webhooks can be lost: ask the carrier what it knows.
                polled = await parked_on_failure(
                    "tracking poll", self._poll_tracking, self._supervision.park_skippable
                )
                for polled_event in polled or []:
                    self._receive(polled_event)
                continue
            if not self._tracking:
                continue  # woken by `written_off`: the loop ends
            event = self._next_event()
            if event.status is TrackingStatus.EXCEPTION:
                await self._carrier_exception(event)
                continue
            new_status = _TRACKING_TO_SHIPMENT[event.status]
            if SHIPMENT_PROGRESS[new_status] <= SHIPMENT_PROGRESS[self._view.status] and not (
                self._view.status is ShipmentStatus.EXCEPTION and new_status is not ShipmentStatus.EXCEPTION
            ):
                continue  # a replayed or late webhook never moves the parcel backwards
            if self._view.handed_over_at is None:
                self._view.handed_over_at = event.at
            self._attention.pop("carrier", None)
            await self._move(new_status, event.detail or event.status.value)
            if new_status is ShipmentStatus.IN_TRANSIT:
                await self._notify("shipped")
            elif new_status is ShipmentStatus.DELIVERED:
                await self._notify("delivered")
        if self._written_off:
            await self._record(f"no longer awaited: {self._written_off}")

    def _next_event(self) -> TrackingEvent:
        """The queued carrier event that happened first: events kept while the parcel was not yet
        labelled (or arriving out of order) apply in the order the carrier saw them, so that an
        early out_for_delivery does not swallow the in_transit scan before it (and the customer's
        shipped message). The patch is asked only when the order differs from arrival order:
        parcels recorded before it replay their arrival order."""
        earliest = min(range(len(self._tracking)), key=lambda index: _moment(self._tracking[index]))
        if earliest != 0 and workflow.patched(TRACKING_IN_EVENT_ORDER_PATCH):
            return self._tracking.pop(earliest)
        return self._tracking.pop(0)

    async def _carrier_exception(self, event: TrackingEvent) -> None:
        """What a carrier exception means for the parcel (R8, R9)."""
        if self._view.handed_over_at is None:
            self._view.handed_over_at = event.at
        issue = event.detail or ""
        if issue in (CarrierIssue.LOST, CarrierIssue.DAMAGED):
            # The parcel will not arrive as sent: it ends here and the order reships or refunds.
            self._view.delivery_issue = issue
            await self._move(ShipmentStatus.EXCEPTION, f"carrier reports the parcel {issue}")
        elif issue == CarrierIssue.FAILED_ATTEMPT:
            self._view.failed_attempts += 1
            if self._view.failed_attempts >= MAX_DELIVERY_ATTEMPTS:
                await self._move(
                    ShipmentStatus.RETURNED_TO_SENDER,
                    f"{self._view.failed_attempts} failed delivery attempts",
                )
            else:
                await self._move(
                    ShipmentStatus.EXCEPTION,
                    f"failed delivery attempt {self._view.failed_attempts} of {MAX_DELIVERY_ATTEMPTS}",
                )
        elif issue == CarrierIssue.DELAYED:
            self._delays += 1
            if event.promised_by is not None:
                self._view.promised_by = event.promised_by
            await self._record(f"delayed, now due by {self._view.promised_by}")
            await self._notify("delayed", occurrence=self._delays)
        else:
            self._flag("carrier", f"carrier reports {issue or 'an exception'}")
            await self._move(ShipmentStatus.EXCEPTION, f"carrier exception: {issue or 'unspecified'}")

    async def _cancel_before_hand_over(self) -> None:
        if self._label is None and self._label_in_doubt and self._chosen is not None:
            # The purchase may have gone through before we were cancelled: ask again by the
            # same key (idempotent) to learn the label, then void it.
            try:
                self._label = await self._buy_label()
            except STEP_FAILURES:
                self._label = None
        if self._stock_shipped:
            await workflow.execute_activity_method(
                InventoryActivities.unship_stock,
                self._stock_request(),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"stock back on the shelf at {self._warehouse}",
            )
            self._stock_shipped = False
        if self._label is not None:
            await workflow.execute_activity_method(
                CarrierActivities.cancel_label,
                self._label.label_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"void label {self._label.tracking_number}",
            )
        self._attention.clear()
        await self._move(ShipmentStatus.CANCELLED, "cancelled before hand-over")

    # --- steps ----------------------------------------------------------------------------

    async def _shop_rates(self) -> RateQuote:
        workflow.set_current_details("Rate shopping")
        quotes: list[RateQuote] = await self._step(
            CarrierActivities.quote_rates,
            QuoteRequest(
                origin_region=self._region,
                destination=self._destination,
                weight_grams=self._weight,
                speed=self._input.shipping_speed,
                today=workflow.now().date(),
            ),
            f"quote {self._input.shipping_speed.value} from {self._region}",
        )
        self._view.quotes = quotes
        if self._carrier_override is not None:
            # Ops rerouted the parcel: only that carrier's quote is considered.
            quotes = [q for q in quotes if q.carrier == self._carrier_override] or quotes
        choice = choose_quote(quotes, self._input.shipping_speed, self._input.priority)
        if choice is None:
            # No carrier keeps the promise: take the fastest rather than strand the parcel.
            choice = min(quotes, key=lambda q: (q.transit_days, q.price))
        return choice

    async def _buy_label(self) -> Label:
        assert self._chosen is not None
        choice = self._chosen
        label: Label = await self._step(
            CarrierActivities.buy_label,
            LabelRequest(
                shipment_id=self._input.shipment_id,
                idempotency_key=ids.label_key(self._input.shipment_id, self._label_attempt),
                quote=choice,
                origin_region=self._region,
                destination=self._destination,
                weight_grams=self._weight,
            ),
            f"buy {choice.carrier} {choice.service.value} label",
        )
        return label

    async def _poll_tracking(self) -> list[TrackingEvent]:
        assert self._view.carrier is not None and self._view.tracking_number is not None
        return await workflow.execute_activity_method(
            CarrierActivities.poll_tracking,
            TrackingPoll(carrier=self._view.carrier, tracking_number=self._view.tracking_number),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=self._retry,
            summary=f"poll {self._view.carrier} for {self._view.tracking_number}",
        )

    async def _step(self, activity: Callable[[Any, Any], Any], arg: object, summary: str) -> Any:
        """One of the parcel's short steps (rates, label, stock hand-over, notifications), with
        the parcel's retry policy. A local activity: the worker runs it inside the workflow task,
        so a chain of them (packed -> rates -> label -> stock -> label_created) is one workflow
        task, without an activity task's round trips through the server. Parcels started before
        LOCAL_STEPS_PATCH ran them as activities and replay that way."""
        if not self._local_steps:
            return await workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._retry,
                summary=summary,
            )
        return await self._locally(
            workflow.execute_local_activity_method(
                activity,
                arg,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._retry,
                summary=summary,
            )
        )

    async def _locally(self, call: Awaitable[T]) -> T:
        """Await one of the parcel's local activities (its short steps, its projection writes),
        counted while in flight so that `_watched` knows when a phase waits on one."""
        self._local_in_flight += 1
        try:
            return await call
        finally:
            self._local_in_flight -= 1

    def _in_local_step(self) -> bool:
        return self._local_in_flight > 0

    def _stock_request(self) -> ShipStockRequest:
        return ShipStockRequest(
            order_id=self._input.reservation_key or self._input.order_id,
            warehouse=self._warehouse,
        )

    async def _ship_stock(self) -> int:
        moved: int = await self._step(
            InventoryActivities.ship_stock,
            self._stock_request(),
            f"stock leaves {self._warehouse}",
        )
        return moved

    async def _notify(self, kind: str, occurrence: int = 0) -> None:
        notification = shipment_notification(self._input, self._view, kind, occurrence)

        async def send() -> bool:
            sent: bool = await self._step(
                NotifyActivities.send_notification, notification, f"notify customer: parcel {kind}"
            )
            return sent

        await parked_on_failure(f"{kind} notification", send, self._supervision.park_skippable)

    # --- waiting on ops -------------------------------------------------------------------

    async def _wait_for_label_retry(self, reason: str) -> None:
        """A refused label (e.g. an undeliverable postal code) parks the parcel until ops fix
        the address and retry, or reroute it to another carrier."""
        self._flag("label", f"label refused: {reason}")
        await self._move(ShipmentStatus.EXCEPTION, f"label refused: {reason}")
        instruction = await self._wait_for_ops(
            {OpsActionKind.RETRY, OpsActionKind.REROUTE},
            "Label refused: waiting for ops to retry or reroute",
        )
        if instruction.action is OpsActionKind.REROUTE and instruction.carrier:
            self._carrier_override = instruction.carrier
        self._attention.pop("label", None)
        self._label_attempt += 1
        await self._move(
            ShipmentStatus.PACKED,
            f"label {instruction.action.value} by {instruction.actor}",
        )

    async def _parked(self, step: str, reason: str, kinds: set[OpsActionKind]) -> Decision:
        await self._record(f"parked: {reason}")
        return await self._wait_for_ops(kinds, f"Parked: {reason}")

    async def _resumed(self, step: str, decision: Decision) -> None:
        await self._record(f"{step}: {decision.action.value} by {decision.actor}")

    async def _wait_for_ops(self, kinds: set[OpsActionKind], details: str) -> ParcelInstruction:
        self._awaiting = frozenset(kinds)
        workflow.set_current_details(details)
        await workflow.wait_condition(lambda: self._instruction is not None)
        instruction, self._instruction, self._awaiting = (
            self._instruction,
            None,
            frozenset(),
        )
        assert instruction is not None
        return instruction

    # --- state ----------------------------------------------------------------------------

    def _sla_hooks(self, step: str) -> tuple[Hook, Hook]:
        breach, recover = self._supervision.sla_hooks(step, getattr(self._input.slas, step))

        async def breach_unless_held() -> None:
            # Ops stopped the parcel on purpose: it is not late because of the hold. The phase
            # gets its whole SLA again from the release (`_sla_again`). A hold does not stop a
            # labelled parcel, so its delivery SLA flags as ever.
            if self._held and step in _HELD_PHASES:
                self._sla_after_hold = (step, breach)
                await self._record(f"{step} SLA passed during an ops hold: not flagged")
                return
            await breach()

        return breach_unless_held, recover

    async def _breached(self, step: str, sla: timedelta) -> None:
        await self._record(f"{step} SLA breached")

    async def _recovered(self, step: str) -> None:
        await self._record(f"{step} done after its SLA")

    def _unflag(self, key: str) -> bool:
        return self._attention.pop(key, None) is not None

    def _flag(self, key: str, reason: str) -> None:
        self._attention[key] = reason
        self._view.attention_reason = "; ".join(self._attention.values())

    async def _record(self, event: str) -> None:
        """Something happened to the parcel; its status stays."""
        await self._enter(self._view.status, event)

    async def _move(self, status: ShipmentStatus, event: str) -> None:
        """Move the parcel to `status`, an allowed move (SHIPMENT_MOVES) or its own status (then
        only recorded). A move the table does not allow fails the workflow task."""
        check_move(SHIPMENT_MOVES, self._view.status, status, f"shipment {self._view.shipment_id}")
        await self._enter(status, event)

    async def _enter(self, status: ShipmentStatus, event: str) -> None:
        """The one door for this parcel's changes: state, projection row, the order's news."""
        self._view.status = status
        self._view.last_event = event
        self._view.version += 1
        self._view.attention_reason = "; ".join(self._attention.values()) or None
        self._view.updated_at = workflow.now()
        snapshot = self._view.model_copy(deep=True)
        refusal: str | None
        try:
            refusal = await self._locally(
                workflow.execute_local_activity_method(
                    ProjectionActivities.record_shipment,
                    snapshot,
                    start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary=f"shipment {status.value}",
                )
            )
        except ActivityError as error:
            # Refused even sanitized (activities/store.py): no row, the parcel says why.
            refusal = f"{error.cause or error} (no projection row)"
        if refusal is not None and self._attention.get("projection") != f"projection refused: {refusal}":
            # PostgreSQL refused the row for its data: a sanitized row flagged with the reason was
            # written instead; the parcel (and so its order) needs attention with that reason, and
            # the next write, this record, carries it. Parcels whose writes succeeded never come here.
            self._flag("projection", f"projection refused: {refusal}")
            await self._record("projection refused")
            return
        if refusal is None and self._unflag("projection"):
            self._view.attention_reason = "; ".join(self._attention.values()) or None
        news = order_news(snapshot)
        if self._news_only and news == self._told_order:
            return  # nothing the order acts on: its readers see this step in the projection
        self._told_order = news
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                SHIPMENT_CHANGED_SIGNAL, snapshot
            )
