"""Payment: authorize, capture, refund in parts, and the compensation (void or refund).

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
    from domain.enums import OrderStatus, PaymentStatus
    from domain.models import AuthorizeRequest, PaymentOperation, PaymentResult
    from domain.refunds import ZERO, refund_cap
    from workflows.failures import is_refusal
    from workflows.options import ACTIVITY_TIMEOUT, LOCAL_ACTIVITY_TIMEOUT, PAYMENT_RETRY
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.state import OrderState, Refused
    from workflows.supervision import STEP_FAILURES, parked_on_failure


class Payment:
    def __init__(self, state: OrderState, door: Door, ops: Ops) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self.result: PaymentResult | None = None  # the authorization, once known
        self._authorize_in_doubt = False
        self._capture_in_doubt = False
        self._refunding = asyncio.Lock()  # ops refunds run beside the run loop's (resolution.py)
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

    async def refund(self, amount: Decimal, scope: str) -> Decimal:
        """Refund part of the capture, keyed by what it is for (a parcel or an RMA), never more
        than is left (domain/refunds.py); returns what was refunded."""
        async with self._refunding:  # one refund at a time: each is capped by what the last left
            return await self._refund(amount, scope)

    async def _refund(self, amount: Decimal, scope: str) -> Decimal:
        order = self._state.order
        amount = refund_cap(amount, order.totals)
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
