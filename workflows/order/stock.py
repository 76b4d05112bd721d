"""Stock: reserve the order's lines (R9); without stock the order waits `backordered` for a
receipt (the stock_arrived update), ops or its deadline, then cancels or ships what is there
(BackorderPolicy). Replacements (a reship, an exchange) reserve under keys of their own; a
cancellation releases what was reserved."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from domain import events
    from domain.allocation import shippable_lines
    from domain.enums import BackorderPolicy, OpsActionKind, OrderStatus
    from domain.geography import region_of
    from domain.models import Allocation, AllocationAttempt, OrderLine, ReserveRequest, StockLevel
    from workflows.failures import is_refusal
    from workflows.options import ACTIVITY_TIMEOUT, LOCAL_ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.state import OrderState, Refused
    from workflows.supervision import STEP_FAILURES, parked_on_failure


class Stock:
    def __init__(self, state: OrderState, door: Door, ops: Ops) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._reservation_attempted = False  # the compensation: release (registered before the step)
        self._backordered_at = state.input.received_at
        # stock_arrived updates waiting for the next reservation attempt's answer, by ticket.
        self._arrivals: list[int] = []
        self._arrivals_seen = 0
        self.arrival_answers: dict[int, AllocationAttempt] = {}

    def stock_arrived(self) -> int:
        """Queue a retry of the reservation; the answer comes under the returned ticket."""
        self._arrivals_seen += 1
        ticket = self._arrivals_seen
        self._arrivals.append(ticket)
        return ticket

    async def allocate(self) -> Allocation:
        """Reserve stock; without it the order waits `backordered` for receipts (R9)."""
        state = self._state
        address = state.input.request.shipping_address
        region = region_of(address.country, address.region)
        while True:
            allocation = await self._reserve(region)
            if allocation is not None:
                if state.order.status is OrderStatus.BACKORDERED:
                    self._door.move(OrderStatus.ALLOCATING, events.BACKORDER_FILLED)
                self.answer_arrivals(reserved=True)
                self._door.record(
                    events.STOCK_RESERVED,
                    detail={"parcels": [p.model_dump(mode="json") for p in allocation.parcels]},
                )
                return allocation
            self.answer_arrivals(reserved=False)
            first_time = state.order.status is not OrderStatus.BACKORDERED
            if first_time:
                self._backordered_at = workflow.now()
            until = self._backordered_at + state.policy.backorder_timeout
            action = await self._ops.await_ops(
                {OpsActionKind.RETRY},
                status=OrderStatus.BACKORDERED,
                event=events.ORDER_BACKORDERED if first_time else events.BACKORDER_STILL_SHORT,
                detail={"until": until.isoformat()},
                timeout=max(until - workflow.now(), timedelta(seconds=1)),
                notify="backordered" if first_time else None,
                wake=lambda: bool(self._arrivals),
            )
            if action is None and not self._arrivals:
                return await self._backorder_expired(region)

    async def _reserve(self, region: str) -> Allocation | None:
        state = self._state
        self._reservation_attempted = True  # compensation registered before the step runs
        try:
            # A short database write: a local activity keeps it inside the current workflow
            # task (no task-queue round trip, no scheduled/started/completed events).
            return await parked_on_failure(
                "stock reservation",
                lambda: self._door.locally(
                    workflow.execute_local_activity_method(
                        InventoryActivities.reserve_stock,
                        ReserveRequest(
                            order_id=state.order.order_id,
                            lines=state.order.lines,
                            destination_region=region,
                        ),
                        start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                        retry_policy=state.retry,
                        summary=f"reserve stock for {len(state.order.lines)} lines",
                    )
                ),
                self._ops.park,
            )
        except STEP_FAILURES as error:
            if is_refusal(error, "OutOfStock"):
                return None
            raise

    async def _backorder_expired(self, region: str) -> Allocation:
        state = self._state
        if state.policy.backorder_policy is BackorderPolicy.CANCEL:
            raise Refused("backorder not filled in time")
        levels: list[StockLevel] = await workflow.execute_activity_method(
            InventoryActivities.stock_levels,
            [line.sku for line in state.order.lines],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary="stock levels for a partial shipment",
        )
        lines = shippable_lines(state.order.lines, levels)
        if not lines:
            raise Refused("backorder not filled in time")
        removed = {line.sku: line.quantity for line in state.order.lines}
        for line in lines:
            removed[line.sku] -= line.quantity
        self._door.reduce_to(lines)
        self._door.record(events.ORDER_REDUCED, detail={"removed": {k: v for k, v in removed.items() if v}})
        await self._ops.notify(
            "partially_available",
            reason=", ".join(f"{k} x{v}" for k, v in removed.items() if v),
        )
        allocation = await self._reserve(region)
        if allocation is None:
            raise Refused("backorder not filled in time")
        self._door.move(OrderStatus.ALLOCATING, events.STOCK_RESERVED, detail={"partial": True})
        return allocation

    def answer_arrivals(self, *, reserved: bool) -> None:
        for ticket in self._arrivals:
            self.arrival_answers[ticket] = AllocationAttempt(
                order_id=self._state.order.order_id,
                reserved=reserved,
                status=self._state.order.status,
            )
        self._arrivals.clear()

    async def reserve_extra(
        self, key: str, lines: list[OrderLine], summary: str, avoid: list[str] | None = None
    ) -> Allocation | None:
        """Reserve stock for a replacement (reship or exchange, a short pick's missing lines)
        under its own reservation key, never from the warehouses in `avoid`; None when there is no
        stock for it."""
        address = self._state.order.shipping_address
        try:
            return await parked_on_failure(
                "replacement reservation",
                lambda: workflow.execute_activity_method(
                    InventoryActivities.reserve_stock,
                    ReserveRequest(
                        order_id=key,
                        lines=lines,
                        destination_region=region_of(address.country, address.region),
                        avoid_warehouses=avoid or [],
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._state.retry,
                    summary=summary,
                ),
                self._ops.park,
            )
        except ActivityError as error:
            if not is_refusal(error, "OutOfStock"):
                raise
            return None

    async def release_key(self, key: str) -> int:
        """Release what one replacement key still holds (a short pick's reallocation, on cancel)."""
        released: int = await workflow.execute_activity_method(
            InventoryActivities.release_stock,
            key,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"release reserved stock of {key}",
        )
        return released

    async def release(self) -> int | None:
        """The compensation: release what was reserved (None when no reservation was tried)."""
        if not self._reservation_attempted:
            return None
        released: int = await workflow.execute_activity_method(
            InventoryActivities.release_stock,
            self._state.order.order_id,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary="release reserved stock",
        )
        return released
