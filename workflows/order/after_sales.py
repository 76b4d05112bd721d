"""After-sales (R10): after delivery the order stays open for returns until its return window
ends. A return request (the request_return update) starts a ReturnWorkflow child; the order is
`returning` while any is open, pays the refund or ships the exchange of each inspected return
(money and replacement stock stay with the order, which serializes them), and closes once the
window is over and nothing is open. A wrong item made good by a claim is taken back by a return
the order opens itself (resolution `claim`, auto-approved): received and restocked like any
return, settled with no refund and no exchange."""

from datetime import timedelta

from temporalio import workflow

# The customer hears that a return was rejected by ops or expired (docs/versioning.md).
REJECTION_NOTICE_PATCH = "return-rejected-notice-20261201"
# The order does not close while a finished return is not yet settled (docs/versioning.md).
SETTLE_BEFORE_CLOSE_PATCH = "return-settle-before-close-20261201"
# A wrong_item claim made good opens a return for the wrong item (docs/versioning.md); asked in
# workflows/order/resolution.py, only on that path.
WRONG_ITEM_RETURN_PATCH = "wrong-item-return-20261202"
# A return's child starts from the handler that opened it (request_return, or the claim made good),
# wherever the run loop is, instead of from the closing loop's second phase only: a return
# requested while a wrong item's replacement shipped answered once that was delivered
# (docs/versioning.md; make fuzz, seed 20261201, order 937).
RETURN_STARTS_AT_ONCE_PATCH = "return-starts-at-once-20261202"

with workflow.unsafe.imports_passed_through():
    from domain import events, ids
    from domain.claims import claim_return_lines, open_claims
    from domain.enums import OrderStatus, ReturnReason, ReturnResolution, ReturnStatus, ShipmentStatus
    from domain.models import ClaimView, LineRefund, ParcelLine, ReturnInput, ReturnRequest, ReturnView
    from domain.news import return_trouble
    from domain.refunds import asked_for, priced, return_refund, total_of
    from domain.returns import auto_approves, refund_due_lines, return_lines
    from workflows.order.door import Door
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.ops import Ops
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock
    from workflows.returns import ReturnWorkflow


class AfterSales:
    def __init__(
        self,
        state: OrderState,
        door: Door,
        ops: Ops,
        stock: Stock,
        payment: Payment,
        fulfilment: Fulfilment,
    ) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._fulfilment = fulfilment
        self._return_requests: list[ReturnInput] = []  # accepted, their child not started yet
        self._settled_returns: set[str] = set()
        self._shipping_refunded = False
        self.return_news = False  # a return's signal came: the loop looks again
        self._approvals_told: set[str] = set()
        self._rejections_told: set[str] = set()
        self._claim_returns: set[str] = set()  # RMAs the order opened for claims (WRONG_ITEM_RETURN_PATCH)
        self._return_inputs: dict[str, ReturnInput] = {}  # each RMA as opened: its lines' prices
        self._starting = 0  # return children being started (popped from _return_requests, not yet on)
        self._at_once = False  # RETURN_STARTS_AT_ONCE_PATCH: handlers start returns

    def open_return(self, request: ReturnRequest, auto_approve: bool | None = None) -> str:
        """Accept a return request (validated by the update): the RMA shows on the order at once,
        its ReturnWorkflow starts from the loop. Returns the RMA id. `auto_approve` None: as the
        policy says."""
        state = self._state
        order = state.order
        number = len(order.returns) + 1
        rma = ids.rma_id(order.order_id, number)
        lines = return_lines(order, request.lines)
        earlier = sum(1 for r in order.returns if r.status is not ReturnStatus.REJECTED)
        if auto_approve is None:
            auto_approve = auto_approves(lines, request.reason, earlier)
        inp = ReturnInput(
            order_id=order.order_id,
            rma_id=rma,
            lines=[
                line.model_copy(update={"region": state.warehouse_regions.get(line.warehouse, "")})
                for line in lines
            ],
            reason=request.reason,
            resolution=request.resolution,
            customer_address=order.shipping_address,
            recipient=order.customer.email,
            language=order.customer.language,
            auto_approve=auto_approve,
            activity_attempts=state.policy.activity_attempts,
            receipt_sla=state.slas.ret,
            expiry=state.policy.return_expiry,
        )
        self.apply_return(
            ReturnView(
                rma_id=rma,
                status=ReturnStatus.REQUESTED,
                lines=request.lines,
                reason=request.reason,
                resolution=request.resolution,
                awaiting_approval=not inp.auto_approve,
            )
        )
        self._door.record(events.RETURN_REQUESTED, actor=request.actor, detail={"rma_id": rma})
        self._return_requests.append(inp)
        self._return_inputs[rma] = inp
        return rma

    def open_claim_return(self, claim: ClaimView) -> str | None:
        """A wrong_item claim was made good (the right lines reshipped, or refunded): the order
        opens the return of the wrong item itself, approved at once (its label is bought by the
        ReturnWorkflow like any return's), with resolution `claim`: its receipt restocks (or writes
        off) and refunds nothing. Opened whatever the return window (claims come late); started
        from the closing loop, which waits for it. Returns the RMA id, or None when every unit is
        already in a return."""
        lines = claim_return_lines(self._state.order, claim)
        if not lines:
            return None
        rma = self.open_return(
            ReturnRequest(
                lines=lines, reason=ReturnReason.WRONG_ITEM, resolution=ReturnResolution.CLAIM, actor="system"
            ),
            auto_approve=True,
        )
        self._claim_returns.add(rma)
        return rma

    async def start_at_once(self) -> None:
        """Start the returns just opened, from the handler that opened them (new orders only:
        RETURN_STARTS_AT_ONCE_PATCH); older orders leave them to the closing loop."""
        if not self._return_requests or not workflow.patched(RETURN_STARTS_AT_ONCE_PATCH):
            return
        self._at_once = True
        await self._start_returns()
        self.return_news = True  # in the window's phase, the loop tells the approval as it would have

    async def close_after_return_window(self) -> None:
        state = self._state
        order = state.order
        if not self._live_parcels() and not open_claims(order):
            # Every parcel was refunded: nothing is left to deliver or return.
            self._door.move(OrderStatus.CLOSED, events.ORDER_CLOSED, detail={"reason": "fully refunded"})
            return
        # `returning` here only once a handler started a return (RETURN_STARTS_AT_ONCE_PATCH): the
        # order was delivered, so it goes on to the window like a delivered one.
        while order.status not in (OrderStatus.DELIVERED, OrderStatus.RETURNING):
            # A parcel came back undelivered: the order stays open and flagged for ops, who reship
            # or refund it (workflows/order/resolution.py), rather than closing quietly. The
            # replacement is folded in here; a refund of the last parcel leaves nothing to deliver.
            workflow.set_current_details(f"Needs attention: {order.attention_reason}")
            await workflow.wait_condition(
                lambda: order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNING)
                or self._fulfilment.unfolded()
                or (not state.resolving and not self._live_parcels() and not open_claims(order) and self._returns_idle())
            )
            await self._fulfilment.fold_finished()
            if not state.resolving and not self._live_parcels() and not open_claims(order) and self._returns_idle():
                self._door.move(OrderStatus.CLOSED, events.ORDER_CLOSED, detail={"reason": "fully refunded"})
                return
        assert state.delivered_at is not None
        deadline = state.delivered_at + state.policy.return_window
        while True:
            open_work = self._open_after_sales()
            remaining = deadline - workflow.now()
            over = remaining <= timedelta(0) and not open_work and not self._return_requests
            over = over and not open_claims(order)
            if over and not (self._unsettled_returns() and workflow.patched(SETTLE_BEFORE_CLOSE_PATCH)):
                break
            workflow.set_current_details(
                f"{order.status.value}: return window open until {deadline:%Y-%m-%d %H:%M} UTC"
                + (f"; {open_work} return(s) or parcel(s) open" if open_work else "")
            )
            try:
                await workflow.wait_condition(
                    lambda: bool(self._return_requests)
                    or self.return_news
                    or self._after_sales_news()
                    or state.claim_news,
                    timeout=remaining if remaining > timedelta(0) else None,
                    timeout_summary="return window" if remaining > timedelta(0) else None,
                )
            except TimeoutError:
                continue
            self.return_news = False
            state.claim_news = False
            self._fulfilment.short_news = False
            self._fulfilment.start_short_picks()  # an exchange parcel short-picked (issue 17)
            await self._start_returns()
            await self._tell_approvals()
            await self._tell_rejections()
            await self._settle()
            self._returning_again()
        self._door.move(OrderStatus.CLOSED, events.ORDER_CLOSED)

    def _live_parcels(self) -> bool:
        """Some parcel is still to be delivered or was delivered (not cancelled, not resolved)."""
        shipments = self._state.order.shipments
        return any(s.status is not ShipmentStatus.CANCELLED and s.outcome is None for s in shipments)

    def _returns_idle(self) -> bool:
        """No return is running or starting (before RETURN_STARTS_AT_ONCE_PATCH none ever was
        before the window's phase, so older histories meet this as true)."""
        return not self._starting and all(child.done() for child in self._state.return_children.values())

    def _open_after_sales(self) -> int:
        state = self._state
        returns = sum(1 for child in state.return_children.values() if not child.done())
        parcels = sum(1 for child in state.children if not child.done())
        return returns + self._starting + parcels + self._fulfilment.open_short_picks()

    def _unsettled_returns(self) -> bool:
        """A return finished (inspected, rejected) that the order has not settled yet: the window
        may be over, but its refund or exchange is still due."""
        return any(
            child.done() and rma not in self._settled_returns
            for rma, child in self._state.return_children.items()
        )

    def _after_sales_news(self) -> bool:
        state = self._state
        return any(
            child.done() and rma not in self._settled_returns for rma, child in state.return_children.items()
        ) or any(child.done() and child.id not in state.finished_parcels for child in state.children) or (
            self._fulfilment.short_pick_waiting() or self._fulfilment.short_news
        )

    async def _start_returns(self) -> None:
        state = self._state
        while self._return_requests:
            # Popped before the start, counted in _starting while it runs: a handler and the loop
            # may both start returns, and neither may start one twice or close the order meanwhile.
            inp = self._return_requests.pop(0)
            self._starting += 1
            try:
                handle = await workflow.start_child_workflow(
                    ReturnWorkflow.run,
                    inp,
                    id=ids.return_workflow_id(inp.rma_id),
                    static_summary=f"Return {inp.rma_id} of order {state.order.order_id}: {inp.reason.value}",
                )
            finally:
                self._starting -= 1
            state.return_children[inp.rma_id] = handle
            if self._at_once:
                # Started wherever the order is: `returning` only from delivered; a parcel still
                # on its way (a wrong item's replacement, an order that went back to fulfilling)
                # keeps the order following its parcels until it is delivered (_returning_again).
                if state.order.status is OrderStatus.DELIVERED:
                    self._door.move(OrderStatus.RETURNING, events.RETURN_STARTED, detail={"rma_id": inp.rma_id})
                continue
            if inp.rma_id in self._claim_returns and state.order.status is not OrderStatus.DELIVERED:
                # The right item is on its way (the order follows its parcels until it is
                # delivered): the order turns `returning` once it is (_returning_again).
                continue
            if state.order.status is not OrderStatus.RETURNING:
                self._door.move(OrderStatus.RETURNING, events.RETURN_STARTED, detail={"rma_id": inp.rma_id})

    def _returning_again(self) -> None:
        """A return still open once the order is delivered again: the order is `returning`. Before
        RETURN_STARTS_AT_ONCE_PATCH only claim returns started while the order was not delivered."""
        state = self._state
        if state.order.status is not OrderStatus.DELIVERED:
            return
        for rma, child in state.return_children.items():
            if (rma in self._claim_returns or self._at_once) and not child.done():
                self._door.move(OrderStatus.RETURNING, events.RETURN_STARTED, detail={"rma_id": rma})
                return

    async def _tell_approvals(self) -> None:
        """The customer hears once that a return is approved, by policy or by ops."""
        for view in self._state.order.returns:
            approved = view.status not in (ReturnStatus.REQUESTED, ReturnStatus.REJECTED)
            if approved and view.rma_id not in self._approvals_told:
                self._approvals_told.add(view.rma_id)
                await self._ops.notify("return_approved", scope=view.rma_id, rma_id=view.rma_id)

    async def _tell_rejections(self) -> None:
        """The customer hears once that a return was rejected by ops or expired (its reason)."""
        for view in self._state.order.returns:
            if view.status is not ReturnStatus.REJECTED or view.rma_id in self._rejections_told:
                continue
            self._rejections_told.add(view.rma_id)
            if not workflow.patched(REJECTION_NOTICE_PATCH):
                continue  # an order from before the notice: its history has no such message
            reason = "expired" if view.closed_reason == "expired" else view.last_event or "rejected"
            await self._ops.notify("return_rejected", reason=reason, scope=view.rma_id, rma_id=view.rma_id)

    async def _settle(self) -> None:
        """Pay refunds and ship exchanges of inspected returns; fold in finished exchange parcels."""
        state = self._state
        for rma, child in list(state.return_children.items()):
            if not child.done() or rma in self._settled_returns:
                continue
            self._settled_returns.add(rma)
            view = child.result()
            self.apply_return(view)
            if view.status is ReturnStatus.INSPECTED:
                if view.resolution is ReturnResolution.CLAIM:
                    # The claim already made it good: the return ends inspected, nothing paid.
                    self._door.record(events.RETURN_CLAIM_SETTLED, detail={"rma_id": rma})
                elif view.resolution is ReturnResolution.EXCHANGE:
                    await self._ship_exchange(view)
                else:
                    await self._refund_return(view)
        for parcel_child in state.children:
            if parcel_child.done() and parcel_child.id not in state.finished_parcels:
                state.finished_parcels.add(parcel_child.id)
                self._fulfilment.apply_shipment(parcel_child.result())
                await self._payment.parcel_finished(parcel_child.result())
        if state.order.status is OrderStatus.RETURNING and not self._open_after_sales():
            self._door.move(OrderStatus.DELIVERED, events.RETURNS_SETTLED)

    async def _refund_return(self, view: ReturnView, lines: list[LineRefund] | None = None) -> None:
        """Pay an inspected return's refund: for its lines (`lines`, default: what inspection found
        refundable per SKU), never more than is left of what was paid for them, and the shipping
        when it is due (domain/refunds.py)."""
        amount, self._shipping_refunded = return_refund(
            view, self._state.order.totals.shipping, self._shipping_refunded
        )
        if lines is None:
            lines = self._due_lines(view)
        amount = await self._payment.refund(amount, view.rma_id, lines=lines)
        view = view.model_copy(
            update={"status": ReturnStatus.REFUNDED, "refund_amount": amount, "version": view.version + 1}
        )
        self.apply_return(view)
        await self._ops.notify("refunded", reason=f"return {view.rma_id}", scope=view.rma_id, amount=amount)

    def _due_lines(self, view: ReturnView) -> list[LineRefund] | None:
        """What inspection found refundable, per SKU (None when the order cannot tell: then the
        refund is capped by the capture only, as before)."""
        inp = self._return_inputs.get(view.rma_id)
        if inp is None:
            return None
        lines = refund_due_lines(inp.lines, view.received, inp.reason)
        return lines if total_of(lines) == view.refund_due else None

    async def _ship_exchange(self, view: ReturnView) -> None:
        order = self._state.order
        key = ids.exchange_reservation_key(order.order_id, view.rma_id)
        received = [ParcelLine(sku=line.sku, quantity=line.quantity) for line in view.received]
        lines = priced(order.lines, received)
        allocation = await self._stock.reserve_extra(key, lines, f"reserve the exchange for {view.rma_id}")
        if allocation is None:
            # Nothing to exchange with: the customer gets the money instead.
            if view.refund_due:
                await self._refund_return(view)
            else:
                due = asked_for(order.lines, received, order.line_prices)
                await self._refund_return(view.model_copy(update={"refund_due": total_of(due)}), due)
            return
        first_new = ids.shipment_id(order.order_id, len(order.shipments) + 1)
        self.apply_return(
            view.model_copy(update={"exchange_shipment_id": first_new, "version": view.version + 1})
        )
        self._door.record(events.RETURN_EXCHANGE_SHIPPED, detail={"rma_id": view.rma_id})
        await self._fulfilment.start_parcels(allocation, key)

    def apply_return(self, view: ReturnView) -> None:
        """Fold a return's news into the order (a request, a signal, a result, a refund)."""
        if not self._door.merge_return(view):
            return  # late or repeated news
        key = f"return:{view.rma_id}"
        trouble = return_trouble(view)
        if trouble is not None:
            self._door.flag(key, trouble)
        else:
            self._door.unflag(key)
        self._door.record(
            events.return_event(view.status.value),
            detail={"rma_id": view.rma_id, "event": view.last_event},
        )
