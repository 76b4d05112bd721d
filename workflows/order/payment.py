"""Payment: authorize, capture, refund in parts, and the compensation (void or refund).

Cash on delivery (patch COD_CAPTURE_ON_DELIVERY_PATCH, domain/cod.py) is only authorized (the
promise) at order time. Each parcel carries a share of it: captured when the carrier reports the
parcel delivered (the courier collected the cash), voided when it comes back to the sender or is
resolved by a refund before delivery; a replacement parcel carries the share of the one it
replaces. Every capture and void of a share is keyed by the order and the parcel.

The in-doubt flags sit here with the compensation that reads them: an authorization or capture
under way when the order is cancelled may or may not have happened, so the compensation asks
again by the same idempotency key, then voids or refunds.
"""

import asyncio
from collections.abc import Callable
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from domain import events, ids
    from domain.cod import shares
    from domain.enums import OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus
    from domain.models import AuthorizeRequest, LineRefund, PaymentOperation, PaymentResult, ShipmentView
    from domain.refunds import ZERO, allot, cap_line_refunds, parcel_refund, refund_cap, total_of
    from workflows.failures import is_refusal
    from workflows.options import ACTIVITY_TIMEOUT, LOCAL_ACTIVITY_TIMEOUT, PAYMENT_RETRY
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.state import OrderState, Refused
    from workflows.supervision import STEP_FAILURES, parked_on_failure

# Patch (docs/versioning.md): cash on delivery is captured parcel by parcel at delivery, not at order time.
COD_CAPTURE_ON_DELIVERY_PATCH = "cod-capture-on-delivery-20261202"
# Patch (docs/versioning.md): a refund for lines is capped per SKU by what is left of what was
# paid for it (domain.refunds.cap_line_refunds); asked only on a refund for lines.
LINE_REFUND_CAP_PATCH = "line-refund-cap-20261202"
# Cash on delivery and short picks: the missing lines take their part of the parcel's share with
# them, to the parcel that ships them or to a void when they are refunded (docs/versioning.md;
# make fuzz, seed 20261201, order 491: a cod parcel picked short of everything left its share
# promised for good, and the order closed neither collected nor voided).
COD_SHORT_PICK_PATCH = "cod-short-pick-share-20261202"


def short_share_key(shipment_id: str) -> str:
    """Where the share of a short-picked parcel's missing lines waits (among the parcels' shares,
    so that a cancellation voids it with the rest)."""
    return f"short-{shipment_id}"


class Payment:
    def __init__(self, state: OrderState, door: Door, ops: Ops) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self.result: PaymentResult | None = None  # the authorization, once known
        self._authorize_in_doubt = False
        self._capture_in_doubt = False
        self._refunding = asyncio.Lock()  # ops refunds run beside the run loop's (resolution.py)
        # Cash on delivery captured at delivery (new orders, COD_CAPTURE_ON_DELIVERY_PATCH): each
        # parcel's share still promised; those voided when their parcel came back to the sender
        # (a reship promises them anew); every share voided, by parcel, for the parcel's outcome.
        self.cod_on_delivery = False
        self._shares: dict[str, Decimal] = {}
        self._returned: dict[str, Decimal] = {}
        self._voided: dict[str, Decimal] = {}
        self._short_set_aside: set[str] = set()  # parcels whose missing lines took part of their share
        # Once an order edit moved money (workflows/order/edits.py): what is left to refund of
        # each payment of the order, by payment id (the first, then one per edit that charged
        # more). None before: refunds go to the one payment, as they always did.
        self._left: dict[str, Decimal] | None = None

    async def pay(self) -> None:
        state = self._state
        self._door.move(OrderStatus.PAYMENT_PENDING, events.PAYMENT_PENDING)
        self._authorize_in_doubt = True  # compensation registered before the step runs
        try:
            payment = await parked_on_failure("payment authorization", self._authorize, self._ops.park)
        except STEP_FAILURES as error:
            if is_refusal(error, "PaymentDeclined"):
                self._authorize_in_doubt = False
                self._door.set_payment(PaymentStatus.DECLINED)
                raise Refused("payment declined") from error
            raise
        assert payment is not None
        self.result = payment
        self._authorize_in_doubt = False
        self._door.set_payment(PaymentStatus.AUTHORIZED, payment_id=payment.payment_id)
        self._door.record(events.PAYMENT_AUTHORIZED)
        if state.order.payment.method is PaymentMethod.COD and workflow.patched(COD_CAPTURE_ON_DELIVERY_PATCH):
            # Promised: the parcels' shares are captured as each is delivered (`parcel_finished`).
            self.cod_on_delivery = True
            return

        self._capture_in_doubt = True
        await parked_on_failure(
            "payment capture",
            lambda: self._door.locally(
                workflow.execute_local_activity_method(
                    PaymentActivities.capture_payment,
                    PaymentOperation(
                        idempotency_key=ids.payment_key(state.order.order_id, "capture"),
                        payment_id=payment.payment_id,
                        amount=state.order.totals.grand_total,
                    ),
                    start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                    retry_policy=state.retry,
                    summary=f"capture {state.order.totals.grand_total} {state.order.currency}",
                )
            ),
            self._ops.park,
        )
        self._capture_in_doubt = False
        self._door.set_payment(PaymentStatus.CAPTURED)
        self._door.record(events.PAYMENT_CAPTURED)

    async def _authorize(self, retry: RetryPolicy | None = None) -> PaymentResult:
        state = self._state
        request = state.input.request
        # Authorize and capture are short, idempotent (keyed) calls: local activities, like the
        # reservation, so the whole intake-to-fulfilment stretch is one or two workflow tasks.
        return await self._door.locally(
            workflow.execute_local_activity_method(
                PaymentActivities.authorize_payment,
                AuthorizeRequest(
                    idempotency_key=ids.payment_key(state.order.order_id, "authorize"),
                    order_id=state.order.order_id,
                    amount=state.order.totals.grand_total,
                    currency=state.order.currency,
                    method=request.payment.method,
                    token=request.payment.token,
                ),
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=retry or state.retry,
                summary=f"authorize {state.order.totals.grand_total} {state.order.currency}",
            )
        )

    # --- cash on delivery, captured at delivery ------------------------------------------------

    def promise(self, parcels: list[ShipmentView], total: Decimal | None = None) -> None:
        """Share `total` (default: the grand total) over these parcels, to be collected at their
        delivery (domain.cod.shares). Nothing for a payment captured at order time."""
        if not self.cod_on_delivery:
            return
        order = self._state.order
        values = [parcel_refund(order.lines, parcel.lines) for parcel in parcels]
        whole = order.totals.grand_total if total is None else total
        for parcel, share in zip(parcels, shares(whole, values), strict=True):
            self._shares[parcel.shipment_id] = share

    def renew(self, replaced: str, parcels: list[ShipmentView]) -> None:
        """The parcels replacing `replaced` carry its share: still promised, or voided when it came
        back to the sender, then promised anew. A delivered parcel's share was collected: its
        replacement (a claim's) collects nothing."""
        if not self.cod_on_delivery or not parcels:
            return
        share = self._shares.pop(replaced, None)
        if share is None:
            share = self._returned.pop(replaced, None)
            if share is None:
                return
            self._voided.pop(replaced, None)
            self.promise(parcels, share)
            self._door.cod_voided(-share, promised=True)
            return
        self.promise(parcels, share)

    async def parcel_finished(self, parcel: ShipmentView) -> None:
        """A parcel ended: delivered, its share is captured (the courier collected it); back at
        the sender, its share is voided."""
        if not self.cod_on_delivery:
            return
        async with self._refunding:  # beside an ops refund of the same parcel: one after the other
            if parcel.shipment_id not in self._shares:
                return
            if parcel.status is ShipmentStatus.DELIVERED:
                await self._capture_share(parcel.shipment_id)
            elif parcel.status is ShipmentStatus.RETURNED_TO_SENDER:
                await self._void_share(parcel.shipment_id, renewable=True)
            elif parcel.status is ShipmentStatus.CANCELLED and parcel.shipment_id in self._short_set_aside:
                # Picked short of everything after all: what it kept (the shipping) is never collected.
                if self._shares[parcel.shipment_id] > 0:
                    await self._void_share(parcel.shipment_id)
                else:
                    del self._shares[parcel.shipment_id]

    def set_aside_short(self, parcel: ShipmentView, missing_value: Decimal) -> None:
        """Cash on delivery: a parcel picked short delivers less, so it collects less. The part of
        its share for the missing lines (all of it when nothing was picked) waits under
        `short_share_key` for the short pick's outcome: a new parcel collects it (`renew`), a
        refund voids it (`refund` with that key as the parcel)."""
        sid = parcel.shipment_id
        if not self.cod_on_delivery or sid not in self._shares or not workflow.patched(COD_SHORT_PICK_PATCH):
            return
        share = self._shares[sid]
        part = share if parcel.status is ShipmentStatus.CANCELLED else min(missing_value, share)
        self._shares[sid] = share - part
        self._shares[short_share_key(sid)] = part
        self._short_set_aside.add(sid)

    def settled_as(self, shipment_id: str, refunded: Decimal) -> str:
        """The outcome of a parcel resolved by a refund: cash on delivery never collected for it
        is voided, not refunded."""
        voided = self._voided.get(shipment_id)
        if voided is not None and refunded == 0:
            return f"voided {voided} (cash on delivery)"
        return f"refunded {refunded}"

    async def _capture_share(self, shipment_id: str) -> None:
        order = self._state.order
        assert self.result is not None
        # Taken at once: a reship of the parcel meanwhile (a claim) finds it collected.
        share = self._shares.pop(shipment_id)
        if share > 0:
            await self._call(
                PaymentActivities.capture_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(order.order_id, f"capture-{shipment_id}"),
                    payment_id=self.result.payment_id,
                    amount=share,
                ),
                f"capture {share} {order.currency} collected on delivery of {shipment_id}",
            )
        self._door.cod_collected(share, promised=bool(self._shares))
        self._door.record(events.PAYMENT_CAPTURED, detail={"shipment_id": shipment_id, "amount": str(share)})

    async def _void_share(self, shipment_id: str, *, renewable: bool = False) -> None:
        """Void a parcel's share; `renewable` (it came back to the sender): a reship promises it
        anew. The order says so at once, so that a reship meanwhile finds it voided."""
        order = self._state.order
        assert self.result is not None
        share = self._shares.pop(shipment_id)
        self._voided[shipment_id] = share
        if renewable:
            self._returned[shipment_id] = share
        self._door.cod_voided(share, promised=bool(self._shares))
        if share > 0:
            await self._call(
                PaymentActivities.void_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(order.order_id, f"void-{shipment_id}"),
                    payment_id=self.result.payment_id,
                    amount=share,
                ),
                f"void {share} {order.currency} of {shipment_id} (cash on delivery)",
            )
        self._door.record(events.PAYMENT_VOIDED, detail={"shipment_id": shipment_id, "amount": str(share)})

    # --- refunds --------------------------------------------------------------------------------

    async def refund(
        self,
        amount: Decimal,
        scope: str,
        parcel: str | None = None,
        lines: list[LineRefund] | None = None,
    ) -> Decimal:
        """Refund part of the capture, keyed by what it is for (a parcel or an RMA), never more
        than is left (domain/refunds.py); returns what was refunded. Cash on delivery for
        `parcel`, a parcel never delivered, was never collected: its share is voided instead and
        nothing is refunded.

        `lines`: a refund for lines, what `amount` asks per SKU (the rest of `amount`, shipping,
        is for no line). Each is first cut to what is left of what was paid for its SKU
        (LINE_REFUND_CAP_PATCH), and what was paid back is kept per SKU on the order."""
        async with self._refunding:  # one refund at a time: each is capped by what the last left
            if self.cod_on_delivery and parcel is not None:
                if parcel in self._shares:
                    await self._void_share(parcel)
                    return ZERO
                if parcel in self._returned:  # voided when it came back: now for good
                    del self._returned[parcel]
                    return ZERO
            if not lines:
                return await self._refund(amount, scope)
            if workflow.patched(LINE_REFUND_CAP_PATCH):
                order = self._state.order
                capped = cap_line_refunds(order.lines, order.line_prices, order.refunded_lines, lines)
                amount = max(ZERO, amount - total_of(lines)) + total_of(capped)
                lines = capped
            refunded = await self._refund(amount, scope)
            self._door.add_line_refunds(allot(refunded, lines))
            return refunded

    async def _refund(self, amount: Decimal, scope: str) -> Decimal:
        order = self._state.order
        amount = refund_cap(amount, order.totals, order.payment.captured if self.cod_on_delivery else None)
        if amount <= 0 or self.result is None:
            return ZERO
        if self._left is not None:
            await self._refund_spread(amount, f"refund-{scope}", f"refund {amount} for {scope}")
        else:
            await self._call(
                PaymentActivities.refund_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(order.order_id, f"refund-{scope}"),
                    payment_id=self.result.payment_id,
                    amount=amount,
                ),
                f"refund {amount} for {scope}",
            )
        self._door.add_refund(amount)
        return amount

    async def compensate(self) -> None:
        """Undo the payment: void an authorization, refund a capture; when either was in doubt,
        find out first."""
        order = self._state.order
        if self.result is None and self._authorize_in_doubt:
            # Cancelled while authorizing: ask again by the same key (idempotent) to learn
            # whether the authorization exists, so it can be voided.
            try:
                self.result = await self._authorize(PAYMENT_RETRY)
            except STEP_FAILURES:
                return
        if self.result is None:
            return
        if self.cod_on_delivery:
            await self._compensate_cod()
            return
        void = PaymentOperation(
            idempotency_key=ids.payment_key(order.order_id, "void"),
            payment_id=self.result.payment_id,
        )
        captured = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)  # an ops refund leaves the rest
        if order.payment.status in captured or self._capture_in_doubt:
            if self._capture_in_doubt:
                try:
                    await self._call(PaymentActivities.void_payment, void, "void authorization")
                    self._door.set_payment(PaymentStatus.VOIDED)
                    return
                except ActivityError:
                    pass  # it was captured after all: refund
            async with self._refunding:  # after an ops refund under way, if any
                # What ops refunded already (a goodwill refund before the cancel) stays refunded:
                # only the rest of the capture goes back.
                left = refund_cap(order.totals.grand_total, order.totals)
                if left > 0 and self._left is not None:
                    await self._refund_spread(left, "refund-cancel", f"refund {left}")
                elif left > 0:
                    await self._call(
                        PaymentActivities.refund_payment,
                        PaymentOperation(
                            idempotency_key=ids.payment_key(order.order_id, "refund-cancel"),
                            payment_id=self.result.payment_id,
                            amount=left,
                        ),
                        f"refund {left}",
                    )
                self._door.refund_all()
        else:
            await self._call(PaymentActivities.void_payment, void, "void authorization")
            self._door.set_payment(PaymentStatus.VOIDED)

    async def _compensate_cod(self) -> None:
        """Cash on delivery: refund what deliveries collected (a cancellation comes before hand-over,
        so normally nothing), void what is still promised."""
        order = self._state.order
        assert self.result is not None
        async with self._refunding:
            left = refund_cap(order.totals.grand_total, order.totals, order.payment.captured)
            if left > 0:
                await self._call(
                    PaymentActivities.refund_payment,
                    PaymentOperation(
                        idempotency_key=ids.payment_key(order.order_id, "refund-cancel"),
                        payment_id=self.result.payment_id,
                        amount=left,
                    ),
                    f"refund {left}",
                )
                self._door.add_refund(left)
            promised = sum(self._shares.values(), ZERO)
            self._shares.clear()
            self._returned.clear()
            if order.payment.captured == 0:
                void = PaymentOperation(
                    idempotency_key=ids.payment_key(order.order_id, "void"), payment_id=self.result.payment_id
                )
                await self._call(PaymentActivities.void_payment, void, "void authorization")
                self._door.set_payment(PaymentStatus.VOIDED)
            elif promised > 0:
                void = PaymentOperation(
                    idempotency_key=ids.payment_key(order.order_id, "void"),
                    payment_id=self.result.payment_id,
                    amount=promised,
                )
                await self._call(PaymentActivities.void_payment, void, f"void the {promised} still promised")
                self._door.cod_voided(promised, promised=False)

    # --- order edits (workflows/order/edits.py) ---------------------------------------------

    def track_payments(self) -> None:
        """An edit is about to move money: from now on refunds are spread over the order's
        payments, each refunded at most what is left of it."""
        if self._left is None and self.result is not None:
            totals = self._state.order.totals
            self._left = {self.result.payment_id: totals.grand_total - totals.refunded}

    async def authorize_difference(self, amount: Decimal, edit: int) -> PaymentResult:
        """Authorize what an edit adds, as a payment of its own with the order's method and token.
        A decline raises the ActivityError whose cause is PaymentDeclined."""
        state = self._state
        request = state.input.request
        result: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorize_payment,
            AuthorizeRequest(
                idempotency_key=ids.payment_key(state.order.order_id, f"edit{edit}-authorize"),
                order_id=state.order.order_id,
                amount=amount,
                currency=state.order.currency,
                method=request.payment.method,
                token=request.payment.token,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=state.retry,
            summary=f"authorize {amount} {state.order.currency} more (edit {edit})",
        )
        return result

    async def void_difference(self, authorization: PaymentResult, edit: int) -> None:
        """The edit did not go through after all: its authorization goes."""
        await self._call(
            PaymentActivities.void_payment,
            PaymentOperation(
                idempotency_key=ids.payment_key(self._state.order.order_id, f"edit{edit}-void"),
                payment_id=authorization.payment_id,
            ),
            f"void the authorization of edit {edit}",
        )

    async def capture_difference(self, authorization: PaymentResult, amount: Decimal, edit: int) -> None:
        await self._call(
            PaymentActivities.capture_payment,
            PaymentOperation(
                idempotency_key=ids.payment_key(self._state.order.order_id, f"edit{edit}-capture"),
                payment_id=authorization.payment_id,
                amount=amount,
            ),
            f"capture {amount} (edit {edit})",
        )
        self.track_payments()
        assert self._left is not None
        self._left[authorization.payment_id] = amount

    async def refund_difference(self, amount: Decimal, edit: int) -> None:
        """An edit lowered the total: the difference goes back. It is no refund of what the order
        costs (the totals already say less), so `totals.refunded` stays."""
        self.track_payments()
        async with self._refunding:
            await self._refund_spread(amount, f"edit{edit}-refund", f"refund {amount} (edit {edit})")

    async def _refund_spread(self, amount: Decimal, step: str, summary: str) -> None:
        """Refund `amount` over the order's payments, the first first, each at most what is left
        of it; one idempotency key per payment."""
        assert self._left is not None
        order_id = self._state.order.order_id
        remaining = amount
        for index, (payment_id, left) in enumerate(list(self._left.items())):
            part = min(left, remaining)
            if part <= 0:
                continue
            await self._call(
                PaymentActivities.refund_payment,
                PaymentOperation(
                    idempotency_key=ids.payment_key(order_id, step if index == 0 else f"{step}-{index}"),
                    payment_id=payment_id,
                    amount=part,
                ),
                summary,
            )
            self._left[payment_id] = left - part
            remaining -= part
            if remaining <= 0:
                return

    async def _call(
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
