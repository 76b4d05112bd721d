"""The door: every change of the order passes here, and the projection is written from here.

Two ways through:
- `record(event)`: something happened (a payment captured, a parcel's news, an ops note) and the
  status stays;
- `move(status, event)`: the order moves to another status, checked against ORDER_MOVES
  (domain/lifecycle.py). A move the table does not allow raises IllegalTransition, which fails
  the workflow task: it shows in the Temporal UI and in the replay tests, and the order waits for
  a fix instead of going somewhere no one designed.
Either way the door refreshes what follows from the order (attention, the ops actions available,
the current details), appends the timeline entry, and queues a snapshot for the projection.

Every other change of the order (payment, totals, lines, address, hold, parcels, returns, the
cancellation reason) goes through the door's setters, so this module is the one place that
changes the order. A setter does not write the projection: the change reaches it with the
step's next event (each setter's caller records or moves right after), which is when it reached
the projection before the door existed. Writing at once would add projection writes to the
history of every order in flight, and so need a patch (docs/versioning.md).

`project` drains the queue in order, a burst of events in one local activity, then sends the
ops alerts that `flag` queued.
"""

from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.store import ProjectionActivities
    from domain import events
    from domain.actions import available_actions
    from domain.cod import cod_status, is_cod
    from domain.enums import ClaimStatus, OpsActionKind, OrderStatus, PaymentStatus
    from domain.lifecycle import ORDER_MOVES, check_move
    from domain.models import (
        Address,
        BackorderAsk,
        ClaimView,
        Hold,
        LineRefund,
        Notification,
        OrderLine,
        OrderView,
        ReceivedLine,
        ReturnView,
        ShipmentView,
        ShortWait,
        TimelineEntry,
        TransitionRecord,
    )
    from domain.news import merge_return, merge_shipment
    from domain.notifications import ops_notification
    from domain.pricing import Pricing, price_order
    from domain.refunds import add_line_refunds, payment_after_refund
    from domain.timeline import entry_time
    from domain.visibility import current_details, search_values
    from workflows import search_attributes as sa
    from workflows.options import ACTIVITY_TIMEOUT, LOCAL_ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.state import OrderState

T = TypeVar("T")

# The attention key of a projection write PostgreSQL refused for its data.
PROJECTION_ATTENTION = "projection"

# The answer to a submission is the order as it leaves intake.
_INTAKE = (OrderStatus.RECEIVED, OrderStatus.VERIFYING)


class Door:
    def __init__(self, state: OrderState) -> None:
        self._state = state
        self._order = state.order
        # Projection and alerts waiting to be written, in order.
        self.seq = 0
        self._unprojected: list[TransitionRecord] = []
        self.projected_seq = 0
        self._local_steps = 0  # local activities of the run loop in flight (see `locally`)
        self._alerts: list[Notification] = []
        self._alert_count = 0
        self._upserted: tuple[Any, ...] = ()
        # The answer to the submit update: the order as it left intake, once written.
        self.verdict: OrderView | None = None
        self._verdict_seq = 0

    # --- the two ways through ---------------------------------------------------------------

    def record(self, event: str, *, actor: str = "system", detail: dict[str, Any] | None = None) -> None:
        """Something happened; the order stays in its status."""
        self._enter(self._order.status, event, actor, detail)

    def move(
        self, status: OrderStatus, event: str, *, actor: str = "system", detail: dict[str, Any] | None = None
    ) -> None:
        """Move the order to `status` (an allowed move, or its own status: then only recorded)."""
        check_move(ORDER_MOVES, self._order.status, status, f"order {self._order.order_id}")
        self._enter(status, event, actor, detail)

    def _enter(self, status: OrderStatus, event: str, actor: str, detail: dict[str, Any] | None) -> None:
        order = self._order
        previous = order.status
        now = entry_time(order.timeline, workflow.now())  # never before the entry it follows
        entry = TimelineEntry(at=now, status=status, event=event, actor=actor, detail=detail or {})
        self.seq += 1
        order.status = status
        order.updated_at = now
        order.version = self.seq
        order.timeline.append(entry)
        if status is OrderStatus.DELIVERED and self._state.delivered_at is None:
            self._state.delivered_at = now
        if status is not OrderStatus.BACKORDERED:
            order.backorder = None  # the question stands only while the order is backordered
        attention = self._state.attention
        if attention and not order.needs_attention:
            order.attention_since = now
        order.needs_attention = bool(attention)
        order.attention_reason = "; ".join(attention.values()) or None
        if not attention:
            order.attention_since = None
        order.available_actions = self.available_actions()
        # Search attributes follow in `project`, once per burst of events: each upsert is a
        # history event, and a burst (received, verifying, allocating, ...) needs only the last.
        workflow.set_current_details(current_details(order, event, self._state.awaiting_ops))
        # The projection keeps the timeline as rows of its own (the entries), so the snapshot
        # leaves it out: copying and sending it whole on every event grows with the order.
        snapshot = order.model_copy(update={"timeline": []}).model_copy(deep=True)
        self._unprojected.append(TransitionRecord(order=snapshot, entry=entry, seq=self.seq))
        if self.verdict is None and previous in _INTAKE and status not in _INTAKE:
            self.verdict = order.model_copy(deep=True)
            self._verdict_seq = self.seq

    def available_actions(self) -> list[OpsActionKind]:
        state = self._state
        return available_actions(state.order, state.awaiting_ops, compensating=state.compensation is not None)

    # --- changes that reach the projection with the next event ------------------------------

    def set_payment(self, status: PaymentStatus, *, payment_id: str | None = None) -> None:
        payment = self._order.payment
        payment.status = status
        if payment_id is not None:
            payment.payment_id = payment_id
        if status is PaymentStatus.CAPTURED:
            payment.captured = self._order.totals.grand_total  # captured whole, at order time
        elif status is PaymentStatus.VOIDED:
            payment.voided = self._order.totals.grand_total - payment.captured

    def cod_collected(self, amount: Decimal, promised: bool) -> None:
        """Cash on delivery: a parcel's share was captured at its delivery (domain/cod.py)."""
        payment = self._order.payment
        payment.captured += amount
        payment.status = cod_status(payment.captured, self._order.totals.refunded, promised)

    def cod_voided(self, amount: Decimal, promised: bool) -> None:
        """Cash on delivery: a parcel's share was voided (a negative `amount`: promised anew to
        the parcel that replaces it)."""
        payment = self._order.payment
        payment.voided += amount
        payment.status = cod_status(payment.captured, self._order.totals.refunded, promised)

    def add_refund(self, amount: Decimal) -> None:
        """`amount` went back to the customer: the totals and the payment say so."""
        self._order.totals.refunded += amount
        captured = self._order.payment.captured if is_cod(self._order) else None
        self._order.payment.status = payment_after_refund(self._order.totals, captured)

    def add_line_refunds(self, paid: list[LineRefund]) -> None:
        """What a refund for lines paid back per SKU (already in `add_refund`'s amount): kept by
        SKU beside the line prices, so a repricing leaves it as it is (domain/refunds.py)."""
        self._order.refunded_lines = add_line_refunds(self._order.refunded_lines, paid)

    def refund_all(self) -> None:
        """The whole capture went back (a cancellation after capture)."""
        self._order.payment.status = PaymentStatus.REFUNDED
        self._order.totals.refunded = self._order.totals.grand_total

    def priced(self, lines: list[OrderLine]) -> Pricing:
        """`lines` priced with the order's channel adjustments, which shrink with what was removed
        from the lines submitted and never grow (domain/pricing.py `price_order`)."""
        request = self._state.input.request
        return price_order(
            lines, self._order.shipping_speed, request.adjustments, request.shipping_charge, sold=request.lines
        )

    def reduce_to(self, lines: list[OrderLine]) -> None:
        """The order goes on with fewer lines (a backorder shipped as available), or with
        substitutes for its missing units (a backorder choice): new totals."""
        pricing = self.priced(lines)
        self._order.lines = lines
        self._order.totals = pricing.totals
        self._order.line_prices = pricing.lines
        self._order.payment.amount = self._order.totals.grand_total

    def edit_lines(self, lines: list[OrderLine]) -> None:
        """The customer or ops changed the lines (workflows/order/edits.py): new totals by the one
        pricing function; what was refunded stays refunded."""
        refunded = self._order.totals.refunded
        pricing = self.priced(lines)
        self._order.lines = lines
        self._order.totals = pricing.totals
        self._order.totals.refunded = refunded
        self._order.line_prices = pricing.lines
        self._order.payment.amount = self._order.totals.grand_total

    def set_contact(self, email: str | None, phone: str | None) -> None:
        update: dict[str, str] = {}
        if email is not None:
            update["email"] = email
        if phone is not None:
            update["phone"] = phone
        self._order.customer = self._order.customer.model_copy(update=update)

    def set_backorder(self, ask: BackorderAsk) -> None:
        """What the backordered order asks its customer (domain/backorder.py)."""
        self._order.backorder = ask

    def add_short_wait(self, wait: ShortWait) -> None:
        """A short pick's missing lines wait for stock (projected with the next record)."""
        self._order.short_waits = [*self._order.short_waits, wait]

    def drop_short_wait(self, shipment_id: str) -> None:
        self._order.short_waits = [w for w in self._order.short_waits if w.shipment_id != shipment_id]

    def set_address(self, address: Address) -> None:
        self._order.shipping_address = address

    def set_hold(self, hold: Hold | None) -> None:
        """Verification held the order (a Hold), or ops approved it (None); or ops placed or
        released an ops hold (workflows/order/parcel_control.py)."""
        self._order.hold = hold

    def hold_info_requested(self) -> None:
        assert self._order.hold is not None
        self._order.hold.info_requested = True

    def set_cancellation_reason(self, reason: str) -> None:
        self._order.cancellation_reason = reason

    def add_parcel(self, parcel: ShipmentView) -> None:
        """A parcel about to start: the order shows it at once, before its first news."""
        self._order.shipments.append(parcel)

    def move_parcel(self, shipment_id: str, warehouse: str) -> None:
        """Ops moved a parcel (not yet picked) to another warehouse."""
        for known in self._order.shipments:
            if known.shipment_id == shipment_id:
                known.warehouse = warehouse

    def set_outcome(self, shipment_id: str, outcome: str) -> None:
        """What the order did about a parcel's delivery issue (reshipped as ..., refunded ...)."""
        for known in self._order.shipments:
            if known.shipment_id == shipment_id:
                known.outcome = outcome

    def add_claim(self, claim: ClaimView) -> None:
        """A customer claim, open: the order needs attention until ops answer it."""
        self._order.claims.append(claim)
        self.flag(f"claim:{claim.claim_id}", f"claim {claim.claim_id} ({claim.kind.value}) on {claim.shipment_id}")

    def close_claim(self, claim_id: str, status: ClaimStatus, note: str | None) -> None:
        for claim in self._order.claims:
            if claim.claim_id == claim_id and claim.status is ClaimStatus.OPEN:
                claim.status = status
                claim.closed_at = workflow.now()
                claim.note = note
        self.unflag(f"claim:{claim_id}")
        self._state.claim_news = True

    def link_claim_return(self, claim_id: str, rma_id: str) -> None:
        """The return (RMA) that takes back what the claim made good (a wrong item)."""
        for claim in self._order.claims:
            if claim.claim_id == claim_id:
                claim.rma_id = rma_id

    def mark_received_back(self, shipment_id: str, lines: list[ReceivedLine]) -> None:
        """A parcel returned to sender is back at the warehouse. Its version moves on so that
        readers prefer the order's copy of the ended parcel over its last projection row."""
        for known in self._order.shipments:
            if known.shipment_id == shipment_id:
                known.received_back = lines
                known.version += 1

    def merge_shipment(self, shipment: ShipmentView) -> bool:
        """A parcel's news (domain/news.py); False when it is late or repeated."""
        return merge_shipment(self._order, shipment)

    def merge_return(self, view: ReturnView) -> bool:
        """A return's news (domain/news.py); False when it is late or repeated."""
        return merge_return(self._order, view)

    # --- attention --------------------------------------------------------------------------

    def flag(self, key: str, reason: str) -> None:
        """Mark the order as needing attention; ops hear of each new problem once. It shows on the
        order with the next event."""
        if self._state.attention.get(key) == reason:
            return
        self._state.attention[key] = reason
        self._alert_count += 1
        self._alerts.append(
            ops_notification(self._order, self._state.policy.ops_email, reason, self._alert_count)
        )

    def unflag(self, key: str) -> bool:
        return self._state.attention.pop(key, None) is not None

    # --- the projection ---------------------------------------------------------------------

    def all_projected(self) -> bool:
        return self.projected_seq == self.seq

    def idle(self) -> bool:
        """Everything is written and every alert sent."""
        return self.projected_seq == self.seq and not self._alerts

    def verdict_written(self) -> bool:
        return self.verdict is not None and self.projected_seq >= self._verdict_seq

    async def locally(self, call: Awaitable[T]) -> T:
        """Run a local activity of the run loop's; while one runs, `project` holds its writes.

        A chain of local activities (catalog, risk, reservation, payment) runs inside one
        workflow task, so writing the projection after each link would only add history
        events (a marker each) and round trips: the burst is written once the chain pauses."""
        self._local_steps += 1
        try:
            return await call
        finally:
            self._local_steps -= 1

    def in_local_step(self) -> bool:
        """A local activity of the run loop's is in flight (see `locally`)."""
        return self._local_steps > 0

    def upsert_search_attributes(self) -> None:
        values = search_values(self._order)
        if values == self._upserted:
            return
        self._upserted = values
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.ORDER_STATUS.value_set(values.status),
            sa.CUSTOMER_ID.value_set(values.customer_id),
            sa.CHANNEL.value_set(values.channel),
            sa.ORDER_TOTAL.value_set(values.total),
            sa.NEEDS_ATTENTION.value_set(values.needs_attention),
        ]
        if values.warehouse:
            updates.append(sa.WAREHOUSE.value_set(values.warehouse))
        if values.carrier:
            updates.append(sa.CARRIER.value_set(values.carrier))
        workflow.upsert_search_attributes(updates)

    def _projection_refused(self, refusal: str) -> None:
        """PostgreSQL refused the order's row for its data (activities/store.py wrote a sanitized
        row flagged with the reason instead). The order needs attention with that reason, and an
        event carries it into the projection. No ops alert: the alert would carry the same data
        (refused again, retried forever, holding up every later write); the ops queue shows the
        order. Each later event tries the full write again (it is cheap), so the flag clears by
        itself once the data is fixed, or when ops `retry` and the write succeeds. Orders whose
        writes all succeeded never come here: their histories replay unchanged."""
        reason = f"projection refused: {refusal}"
        if self._state.attention.get(PROJECTION_ATTENTION) == reason:
            return
        self._state.attention[PROJECTION_ATTENTION] = reason
        self.record(events.ORDER_PROJECTION_REFUSED, detail={"reason": refusal})

    async def project(self) -> None:
        """Write queued events to the projection in order (a burst in one call), then send
        queued ops alerts. Runs as a task for the whole life of the workflow."""
        while True:
            await workflow.wait_condition(
                lambda: (bool(self._unprojected) or bool(self._alerts)) and not self._local_steps
            )
            if self._unprojected:
                batch = list(self._unprojected)
                self.upsert_search_attributes()
                refusal: str | None
                try:
                    refusal = await workflow.execute_local_activity_method(
                        ProjectionActivities.record_transitions,
                        batch,
                        start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                        retry_policy=PERSISTENT_RETRY,
                        summary=f"record {', '.join(r.entry.event for r in batch)}",
                    )
                except ActivityError as error:
                    # Refused even sanitized (activities/store.py): no row, the order says why.
                    refusal = f"{error.cause or error} (no projection row)"
                del self._unprojected[: len(batch)]
                self.projected_seq = batch[-1].seq
                if refusal is not None:
                    self._projection_refused(refusal)
                elif self.unflag(PROJECTION_ATTENTION):
                    self.record(events.ORDER_PROJECTION_RECOVERED)
            while self._alerts:
                await workflow.execute_activity_method(
                    NotifyActivities.send_notification,
                    self._alerts[0],
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary="alert ops",
                )
                self._alerts.pop(0)
