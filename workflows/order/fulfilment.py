"""Fulfilment: one ShipmentWorkflow child per parcel, in parallel; their news folds into the
order (domain/news.py), whose status follows from its parcels. A parcel lost or damaged on the
way is replaced (stock permitting) or refunded (R8), until every parcel has an outcome. A parcel
short-picked at its warehouse (issue 17) ships what was picked; its missing lines are allocated
to another warehouse, backordered or refunded (OrderPolicy.short_pick_policy), each in a task of
its own, so that a backorder's wait holds up no other parcel."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from domain import events, ids
    from domain.actions import on_ops_hold
    from domain.enums import CarrierIssue, DamagedPolicy, OrderStatus, ShipmentStatus, ShortPickPolicy
    from domain.lifecycle import fulfilment_status
    from domain.models import (
        Address,
        Allocation,
        AllocationAttempt,
        ParcelHold,
        ParcelLine,
        ShipmentInput,
        ShipmentView,
        ShortWait,
    )
    from domain.news import parcel_trouble, status_after_parcel_news
    from domain.notifications import short_pick_handling
    from domain.refunds import asked_for, priced, total_of
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.payment import LINE_REFUND_CAP_PATCH, Payment, short_share_key
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock
    from workflows.shipment import SHORT_PICK_PATCH, ShipmentWorkflow

# Patch (docs/versioning.md): a parcel reshipped or refunded while the carrier has it is told so.
PARCEL_WRITTEN_OFF_PATCH = "parcel-written-off-20261201"
# Patch: a parcel that finishes starting once the order's compensations have begun is cancelled
# at once (the lifecycle fuzzer's 2,000-order run: a cancel during a short pick's reallocation hung).
PARCEL_STARTED_DURING_CANCEL_PATCH = "parcel-started-during-cancel-20261202"
# Patch: a backordered short pick is listed in `order.short_waits` and a receipt of one of its
# SKUs (the stock_arrived update) makes it try its reservation again before the timeout.
SHORT_PICK_WAKES_PATCH = "short-pick-wakes-on-receipt-20261202"
# Patch: a parcel is resolved once. The order's own resolution of a lost or damaged parcel waits
# for an ops refund or reship under way and skips a parcel ops have resolved already, and telling
# a parcel that has ended that it is written off is no failure (make fuzz, seed 20261201, order 633).
RESOLVE_PARCEL_ONCE_PATCH = "resolve-parcel-once-20261202"


class Fulfilment:
    def __init__(self, state: OrderState, door: Door, ops: Ops, stock: Stock, payment: Payment) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._reships = 0
        # Short picks (issue 17): the parcels whose missing lines are taken care of, the tasks
        # doing it, the reservation keys they reserved under (released on cancel).
        self._short_seen: set[str] = set()
        self._short_tasks: list[asyncio.Task[None]] = []
        self.short_keys: list[str] = []
        self.short_news = False  # a short pick's task ended: the after-sales loop looks again
        # Receipts waking backordered short picks (SHORT_PICK_WAKES_PATCH): per waiting parcel the
        # tickets of the stock_arrived updates it has to answer; per ticket the parcels it still
        # waits for and whether all of them reserved; the answers, by ticket.
        self._short_wakes: dict[str, list[int]] = {}
        self._wake_pending: dict[int, set[str]] = {}
        self._wake_reserved: dict[int, bool] = {}
        self._wake_seen = 0
        self.wake_answers: dict[int, AllocationAttempt] = {}

    async def fulfil(self, allocation: Allocation) -> None:
        """Start the parcels, then resolve each as it finishes, until all have finished."""
        state = self._state
        self._door.move(
            OrderStatus.FULFILLING,
            events.FULFILMENT_STARTED,
            detail={"parcels": len(allocation.parcels)},
        )
        await self.start_parcels(allocation, state.order.order_id)
        self._payment.promise(state.order.shipments)  # cash on delivery: each parcel's share
        finished = state.finished_parcels
        while True:
            await workflow.wait_condition(
                lambda: (
                    state.cancel is not None
                    or any(c.done() and c.id not in finished for c in state.children)
                    or self.short_pick_waiting()
                    or any(task.done() for task in self._short_tasks)
                )
            )
            state.checkpoint()
            self.start_short_picks()
            self._short_tasks = [task for task in self._short_tasks if not task.done()]
            for child in list(state.children):
                if not child.done() or child.id in finished:
                    continue
                finished.add(child.id)
                parcel = child.result()
                self.apply_shipment(parcel)
                await self._payment.parcel_finished(parcel)
                if parcel.delivery_issue is not None:
                    await self._resolve_delivery_issue(parcel)
            if all(child.id in finished for child in state.children) and not self._short_tasks_open():
                return

    async def write_off(self, shipment_id: str, reason: str) -> None:
        """Ops resolved a parcel the carrier still has (a not_received claim reshipped or
        refunded): its workflow stops waiting for carrier news, so the order can close."""
        for child in self._state.children:
            # Orders whose reships came before the patch (docs/versioning.md) left the parcel running.
            if (
                child.id == ids.shipment_workflow_id(shipment_id)
                and not child.done()
                and workflow.patched(PARCEL_WRITTEN_OFF_PATCH)
            ):
                try:
                    await child.signal(ShipmentWorkflow.written_off, reason)
                except FailureError:
                    # It ended before the order heard (delivered, or reported lost, just now):
                    # there is nothing left to stop, and the resolution is already on the order.
                    if not workflow.patched(RESOLVE_PARCEL_ONCE_PATCH):
                        raise
                    workflow.logger.info("written off: parcel %s has ended", child.id)

    def next_reship_key(self) -> str:
        """The reservation key of the next replacement parcel (automatic or by ops)."""
        self._reships += 1
        return ids.reship_reservation_key(self._state.order.order_id, self._reships)

    def unfolded(self) -> bool:
        """A parcel finished that the order has not folded in yet (a replacement started after
        `fulfil` returned), or one short-picked whose missing lines wait for the order."""
        state = self._state
        return self.short_pick_waiting() or any(
            child.done() and child.id not in state.finished_parcels for child in state.children
        )

    async def fold_finished(self) -> None:
        """Fold in finished parcels, resolving delivery issues as `fulfil` does."""
        state = self._state
        self.start_short_picks()
        for child in list(state.children):
            if child.done() and child.id not in state.finished_parcels:
                state.finished_parcels.add(child.id)
                parcel = child.result()
                self.apply_shipment(parcel)
                await self._payment.parcel_finished(parcel)
                if parcel.delivery_issue is not None:
                    await self._resolve_delivery_issue(parcel)

    async def start_parcels(
        self, allocation: Allocation, reservation_key: str, destination: Address | None = None
    ) -> None:
        state = self._state
        order = state.order
        request = state.input.request
        weights = {sku: item.weight_grams for sku, item in state.catalog.items()}
        for parcel in allocation.parcels:
            state.warehouse_regions[parcel.warehouse] = parcel.region
            number = len(order.shipments) + 1
            held = on_ops_hold(order)
            shipment_id = ids.shipment_id(order.order_id, number)
            self._door.add_parcel(
                ShipmentView(
                    shipment_id=shipment_id,
                    order_id=order.order_id,
                    warehouse=parcel.warehouse,
                    lines=parcel.lines,
                    reservation_key=reservation_key,
                )
            )
            handle = await workflow.start_child_workflow(
                ShipmentWorkflow.run,
                ShipmentInput(
                    order_id=order.order_id,
                    shipment_id=shipment_id,
                    parcel=parcel,
                    destination=destination or order.shipping_address,
                    shipping_speed=request.shipping_speed,
                    priority=request.priority,
                    weight_grams=sum(weights.get(line.sku, 500) * line.quantity for line in parcel.lines),
                    recipient=order.customer.email,  # as edited (PATCH .../contact)
                    language=request.customer.language,
                    slas=state.slas,
                    activity_attempts=state.policy.activity_attempts,
                    reservation_key=reservation_key,
                    tracking_poll_interval=state.policy.tracking_poll_interval,
                    held=held,
                ),
                id=ids.shipment_workflow_id(shipment_id),
                static_summary=f"Parcel {number} of order {order.order_id} from {parcel.warehouse}",
            )
            state.children.append(handle)
            if state.compensation is not None and workflow.patched(PARCEL_STARTED_DURING_CANCEL_PATCH):
                # The order's compensations began while this parcel was starting (a short pick's
                # reallocation under way when the cancel came), after they cancelled the parcels
                # they knew: they would wait for this one forever (the cancel never answered).
                handle.cancel()
                continue
            if on_ops_hold(order) != held:
                # Ops held or released the order while this parcel was starting, too late for the
                # parcel to be among those told (workflows/order/parcel_control.py).
                await handle.signal(ShipmentWorkflow.ops_hold, ParcelHold(held=not held, actor="ops"))
        self._door.upsert_search_attributes()
        workflow.set_current_details(f"Fulfilling {len(state.children)} parcel(s)")

    def apply_shipment(self, shipment: ShipmentView) -> None:
        """Fold a parcel's news into the order; the order status follows from its parcels."""
        order = self._state.order
        if not self._door.merge_shipment(shipment):
            return  # late or repeated news
        key = f"parcel:{shipment.shipment_id}"
        trouble = parcel_trouble(order, shipment)
        if trouble is not None:
            self._door.flag(key, trouble)
        else:
            self._door.unflag(key)
        self._door.move(
            status_after_parcel_news(order),
            events.shipment_event(shipment.status.value),
            # The version tells the timeline's reader which of the parcel's steps the order saw.
            detail={
                "shipment_id": shipment.shipment_id,
                "event": shipment.last_event,
                "version": shipment.version,
            },
        )

    async def _resolve_delivery_issue(self, parcel: ShipmentView) -> None:
        """Lost -> reship (stock re-reserved) or refund if there is none; damaged -> per policy."""
        state = self._state
        order = state.order
        issue = parcel.delivery_issue
        if workflow.patched(RESOLVE_PARCEL_ONCE_PATCH):
            # Ops may have settled the parcel (a claim's refund or reship, or one of a parcel the
            # carrier had gone quiet on) before, or while, the carrier's news came in: wait for
            # such an action to end, and resolve the parcel only if it did not. Once is enough.
            await workflow.wait_condition(lambda: parcel.shipment_id not in state.settling)
            if any(s.shipment_id == parcel.shipment_id and s.outcome is not None for s in order.shipments):
                workflow.logger.info("parcel %s was resolved by ops already", parcel.shipment_id)
                return
        if issue == CarrierIssue.DAMAGED and state.policy.damaged_policy is DamagedPolicy.REFUND:
            await self._refund_parcel(parcel, f"parcel {issue}")
            return
        key = self.next_reship_key()
        lines = priced(order.lines, parcel.lines)
        allocation = await self._stock.reserve_extra(
            key, lines, f"reserve stock to replace {parcel.shipment_id}"
        )
        if allocation is None:
            await self._refund_parcel(parcel, f"parcel {issue}, no stock to send it again")
            return
        first_new = len(order.shipments) + 1
        self._set_outcome(parcel, f"reshipped as {ids.shipment_id(order.order_id, first_new)}")
        self._door.move(
            fulfilment_status(order.shipments),
            events.PARCEL_RESHIPPED,
            detail={
                "shipment_id": parcel.shipment_id,
                "issue": issue,
                "reservation": key,
            },
        )
        await self._ops.notify(
            "reshipped",
            reason=str(issue),
            scope=parcel.shipment_id,
            tracking_number=parcel.tracking_number,
        )
        before = len(order.shipments)
        await self.start_parcels(allocation, key)
        self._payment.renew(parcel.shipment_id, order.shipments[before:])

    async def _refund_parcel(self, parcel: ShipmentView, reason: str) -> None:
        assert self._payment.result is not None
        order = self._state.order
        lines = asked_for(order.lines, parcel.lines, order.line_prices)
        amount = await self._payment.refund(total_of(lines), parcel.shipment_id, parcel=parcel.shipment_id, lines=lines)
        self._set_outcome(parcel, self._payment.settled_as(parcel.shipment_id, amount))
        self._door.move(
            fulfilment_status(order.shipments),
            events.PARCEL_REFUNDED,
            detail={
                "shipment_id": parcel.shipment_id,
                "amount": str(amount),
                "reason": reason,
            },
        )
        await self._ops.notify("refunded", reason=reason, scope=parcel.shipment_id, amount=amount)

    def _set_outcome(self, parcel: ShipmentView, outcome: str) -> None:
        self._door.set_outcome(parcel.shipment_id, outcome)
        self._door.unflag(f"parcel:{parcel.shipment_id}")

    # --- short picks (issue 17) -------------------------------------------------------------

    def short_pick_waiting(self) -> bool:
        """A parcel reported a short pick that the order has not yet taken up."""
        return any(s.short_picked and s.shipment_id not in self._short_seen for s in self._state.order.shipments)

    def _short_tasks_open(self) -> bool:
        return any(not task.done() for task in self._short_tasks)

    def _short_tasks_all_done(self) -> bool:
        return all(task.done() for task in self._short_tasks)

    def open_short_picks(self) -> int:
        """Short picks whose missing lines are still being taken care of (a backorder waiting)."""
        return sum(1 for task in self._short_tasks if not task.done())

    def start_short_picks(self) -> None:
        """Take up each new short pick in a task of its own (counted in `state.resolving`, so the
        order never closes while one is open)."""
        for parcel in self._state.order.shipments:
            if parcel.short_picked and parcel.shipment_id not in self._short_seen:
                self._short_seen.add(parcel.shipment_id)
                order = self._state.order
                missing = asked_for(order.lines, list(parcel.short_picked), order.line_prices)
                self._payment.set_aside_short(parcel, total_of(missing))  # cash on delivery only
                self._state.resolving += 1
                self._short_tasks.append(asyncio.create_task(self._short_pick_task(parcel)))

    async def settle_short_picks(self) -> None:
        """Before the compensations: let every short pick's task end (each stops at the cancel)."""
        if self._short_tasks:
            await workflow.wait_condition(self._short_tasks_all_done)

    async def _short_pick_task(self, parcel: ShipmentView) -> None:
        try:
            await self._short_picked(parcel)
        finally:
            self._state.resolving -= 1
            self.short_news = True

    async def _short_picked(self, parcel: ShipmentView) -> None:
        """The missing lines of a short-picked parcel, per OrderPolicy.short_pick_policy:
        reallocate (a new parcel from another warehouse; without stock there, backorder), backorder
        (wait up to the backorder timeout for stock anywhere, then refund), or refund (at the price
        paid, capped by what is left of the capture). The customer is told what happens."""
        state = self._state
        workflow.patched(SHORT_PICK_PATCH)  # the order's marker: it took up a short pick
        missing = list(parcel.short_picked)
        detail: dict[str, object] = {
            "shipment_id": parcel.shipment_id,
            "warehouse": parcel.warehouse,
            "missing": [line.model_dump(mode="json") for line in missing],
        }
        policy = state.policy.short_pick_policy
        if policy is ShortPickPolicy.REALLOCATE:
            if await self._reallocate(parcel, missing, detail, avoid=[parcel.warehouse]):
                return
            policy = ShortPickPolicy.BACKORDER
        if state.cancel is not None:
            return
        if policy is ShortPickPolicy.BACKORDER and workflow.patched(SHORT_PICK_WAKES_PATCH):
            if await self._backorder_short(parcel, missing, detail):
                return
        elif policy is ShortPickPolicy.BACKORDER:
            timeout = state.policy.backorder_timeout
            until = workflow.now() + timeout
            self._door.record(
                events.SHIPMENT_SHORT_PICKED, detail={**detail, "handling": "backordered", "until": until.isoformat()}
            )
            await self._tell_short(parcel, missing, "backordered")
            try:
                await workflow.wait_condition(
                    lambda: state.cancel is not None,
                    timeout=max(timeout, timedelta(seconds=1)),
                    timeout_summary=f"short pick of {parcel.shipment_id}: backorder until {until:%Y-%m-%d %H:%M}",
                )
                return  # the order is being cancelled: its compensations release and refund
            except TimeoutError:
                pass
            if await self._reallocate(parcel, missing, {"shipment_id": parcel.shipment_id}, ended=True):
                return
        if state.cancel is not None:
            return
        await self._refund_short(parcel, missing, after_backorder=policy is ShortPickPolicy.BACKORDER)

    async def _backorder_short(self, parcel: ShipmentView, missing: list[ParcelLine], detail: dict[str, object]) -> bool:
        """Backorder the missing lines (SHORT_PICK_WAKES_PATCH): listed in `order.short_waits`
        until the timeout; each receipt of one of their SKUs (`short_stock_arrived`) tries the
        reservation at any warehouse again, and when it holds they ship as a new parcel. At the
        timeout one last try, as before the patch. True when done (shipped, or the order is being
        cancelled); False when the caller refunds."""
        state = self._state
        sid = parcel.shipment_id
        until = workflow.now() + state.policy.backorder_timeout
        self._door.add_short_wait(ShortWait(shipment_id=sid, missing=missing, until=until))
        shipped = False
        try:
            self._door.record(
                events.SHIPMENT_SHORT_PICKED, detail={**detail, "handling": "backordered", "until": until.isoformat()}
            )
            await self._tell_short(parcel, missing, "backordered")
            while True:
                try:
                    await workflow.wait_condition(
                        lambda: state.cancel is not None or bool(self._short_wakes.get(sid)),
                        timeout=max(until - workflow.now(), timedelta(seconds=1)),
                        timeout_summary=f"short pick of {sid}: backorder until {until:%Y-%m-%d %H:%M}",
                    )
                except TimeoutError:
                    self._door.drop_short_wait(sid)
                    break
                if state.cancel is not None:
                    return True  # the order is being cancelled: its compensations release and refund
                tickets = self._short_wakes.pop(sid, [])
                reserved = await self._reallocate(
                    parcel, missing, {"shipment_id": sid, "woken_by": "receipt"}, ended=True
                )
                self._answer_wakes(sid, tickets, reserved=reserved)
                if reserved:
                    shipped = True
                    return True
        finally:
            self._door.drop_short_wait(sid)
            # Receipts that came during the last try: this order needs nothing more (shipped), or
            # stops waiting (timeout, cancel) without reserving.
            self._answer_wakes(sid, self._short_wakes.pop(sid, []), reserved=shipped)
        # The deadline: a last try anywhere, as before the patch; without stock the caller refunds.
        return await self._reallocate(parcel, missing, {"shipment_id": sid}, ended=True)

    def short_waiting_for(self, sku: str) -> list[str]:
        """The short-picked parcels whose missing lines wait for `sku`."""
        return [w.shipment_id for w in self._state.order.short_waits if any(line.sku == sku for line in w.missing)]

    def short_stock_arrived(self, sku: str) -> int:
        """A receipt of `sku`: wake each short pick waiting for it; the answer (reserved when
        every one of them could reserve) comes under the returned ticket in `wake_answers`."""
        self._wake_seen += 1
        ticket = self._wake_seen
        waiting = self.short_waiting_for(sku)
        self._wake_pending[ticket] = set(waiting)
        self._wake_reserved[ticket] = True
        for sid in waiting:
            self._short_wakes.setdefault(sid, []).append(ticket)
        self._maybe_answer(ticket)
        return ticket

    def _answer_wakes(self, sid: str, tickets: list[int], *, reserved: bool) -> None:
        for ticket in tickets:
            self._wake_pending.get(ticket, set()).discard(sid)
            if not reserved:
                self._wake_reserved[ticket] = False
            self._maybe_answer(ticket)

    def _maybe_answer(self, ticket: int) -> None:
        if self._wake_pending.get(ticket):
            return
        self._wake_pending.pop(ticket, None)
        order = self._state.order
        reserved = self._wake_reserved.pop(ticket, False)
        self.wake_answers[ticket] = AllocationAttempt(order_id=order.order_id, reserved=reserved, status=order.status)

    async def _reallocate(
        self,
        parcel: ShipmentView,
        missing: list[ParcelLine],
        detail: dict[str, object],
        avoid: list[str] | None = None,
        ended: bool = False,
    ) -> bool:
        """Reserve the missing lines anew (not at `avoid`) and ship them as a parcel of their own."""
        state = self._state
        order = state.order
        key = self.next_reship_key()
        self.short_keys.append(key)  # registered before the step: released on cancel
        allocation = await self._stock.reserve_extra(
            key, priced(order.lines, missing), f"reserve the lines short-picked at {parcel.warehouse}", avoid=avoid
        )
        if allocation is None:
            return False
        if state.cancel is not None:
            return True  # the compensations release the key's stock
        self._door.drop_short_wait(parcel.shipment_id)  # projected with the record below
        first_new = ids.shipment_id(order.order_id, len(order.shipments) + 1)
        event = events.SHORT_PICK_BACKORDER_ENDED if ended else events.SHIPMENT_SHORT_PICKED
        self._door.record(event, detail={**detail, "handling": "reallocated", "new": first_new, "reservation": key})
        before = len(order.shipments)
        await self.start_parcels(allocation, key)
        # Cash on delivery: the new parcel collects what the missing lines' share was.
        self._payment.renew(short_share_key(parcel.shipment_id), order.shipments[before:])
        await self._tell_short(parcel, missing, "reallocated")
        return True

    async def _refund_short(self, parcel: ShipmentView, missing: list[ParcelLine], after_backorder: bool) -> None:
        """Refund the missing lines at the price paid (never more than is left of the capture);
        when nothing of the order is left to deliver, its shipping too."""
        order = self._state.order
        # The missing units at what was paid for them (the line's share of the discounts off);
        # short picks refunded before LINE_REFUND_CAP_PATCH paid their unit price.
        prices = order.line_prices if workflow.patched(LINE_REFUND_CAP_PATCH) else []
        lines = asked_for(order.lines, missing, prices)
        # Cash on delivery: the missing lines' share, never collected, is voided instead (nothing
        # is refunded); other payments refund as before (no such share).
        amount = await self._payment.refund(
            total_of(lines), f"short-{parcel.shipment_id}", parcel=short_share_key(parcel.shipment_id), lines=lines
        )
        live = any(s.status is not ShipmentStatus.CANCELLED and s.outcome is None for s in order.shipments)
        if not live:
            amount += await self._payment.refund(order.totals.shipping, f"short-{parcel.shipment_id}-shipping")
        detail = {"shipment_id": parcel.shipment_id, "handling": "refunded", "amount": str(amount)}
        if after_backorder:
            self._door.record(events.SHORT_PICK_BACKORDER_ENDED, detail=detail)
        else:
            self._door.record(
                events.SHIPMENT_SHORT_PICKED,
                detail={**detail, "warehouse": parcel.warehouse, "missing": [line.model_dump(mode="json") for line in missing]},
            )
        await self._tell_short(parcel, missing, "refunded", amount=amount)

    async def _tell_short(self, parcel: ShipmentView, missing: list[ParcelLine], handling: str, **values: object) -> None:
        order = self._state.order
        text = short_pick_handling(handling, order.customer.language, currency=order.currency, **values)
        await self._ops.notify(
            "short_picked",
            reason=", ".join(f"{line.sku} x{line.quantity}" for line in missing),
            scope=f"{parcel.shipment_id}:{handling}",
            handling=text,
        )
