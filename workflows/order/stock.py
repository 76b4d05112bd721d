"""Stock: reserve the order's lines (R9); without stock the order waits `backordered` for a
receipt (the stock_arrived update), ops, its customer's choice or its deadline, then cancels or
ships what is there (BackorderPolicy). Replacements (a reship, an exchange) reserve under keys of
their own; a cancellation releases what was reserved.

The customer's choice (backorder-choice-20261202, domain/backorder.py): an order backordered
under the patch reads the stock levels once, asks its customer what to do (`order.backorder`,
the `backordered` message), and takes the answer from the backorder_choice update: `wait` is
only recorded (by the update); the others are carried out here, in the run loop, between its
waits, so that a choice never races a reservation of the order's own.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from domain import events
    from domain.allocation import shippable_lines
    from domain.backorder import backorder_ask, choices_text, substituted_lines, whole_lines
    from domain.enums import BackorderChoiceKind, BackorderPolicy, OpsActionKind, OrderStatus
    from domain.geography import region_of
    from domain.models import (
        Allocation,
        AllocationAttempt,
        BackorderChoice,
        CatalogItem,
        OrderLine,
        ReservationSwap,
        ReserveRequest,
        StockLevel,
    )
    from workflows.failures import is_refusal
    from workflows.options import ACTIVITY_TIMEOUT, LOCAL_ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.state import OrderState, Refused
    from workflows.supervision import STEP_FAILURES, parked_on_failure

# Patch id (docs/versioning.md, "Patches in force"): asked once, when the order first backorders.
BACKORDER_CHOICE = "backorder-choice-20261202"
# Patch: a partial shipment out of the backorder (ship_available, cancel_missing, or the policy at
# the timeout) answers the receipts that woke the order meanwhile (make fuzz, seed 20261201: three
# transfers never answered).
PART_ANSWERS_ARRIVALS_PATCH = "part-answers-arrivals-20261202"
NOTHING_IN_STOCK = "nothing of the backordered order is in stock"


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
        self._edit_keys: list[str] = []  # reservations of parcels rebuilt by order edits
        # The customer's choice waiting for the run loop, and how it ended: settled, with a
        # refusal (an error type of domain.errors and a message) or None when it was carried out.
        self.pending_choice: BackorderChoice | None = None
        self.accepting_choices = False  # the run loop waits where it takes a choice
        self.choice_settled = False
        self.choice_refusal: tuple[str, str] | None = None

    def stock_arrived(self) -> int:
        """Queue a retry of the reservation; the answer comes under the returned ticket."""
        self._arrivals_seen += 1
        ticket = self._arrivals_seen
        self._arrivals.append(ticket)
        return ticket

    async def allocate(self) -> Allocation:
        """Reserve stock; without it the order waits `backordered` for receipts (R9)."""
        try:
            return await self._allocate()
        finally:
            # A choice taken as the order stopped waiting (filled, timed out, cancelled) is refused.
            self._settle_choice(("ActionNotApplicable", "the order is no longer waiting for stock"))

    async def _allocate(self) -> Allocation:
        state = self._state
        address = state.input.request.shipping_address
        region = region_of(address.country, address.region)
        asking = False
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
                asking = workflow.patched(BACKORDER_CHOICE)
            until = self._backordered_at + state.policy.backorder_timeout
            values: dict[str, object] = {}
            if first_time and asking:
                levels = await self._levels("stock levels for the backorder's question")
                ask = backorder_ask(state.order.lines, levels, state.catalog, until)
                self._door.set_backorder(ask)
                values["choices"] = choices_text(ask, state.order.customer.language)
            event: str | None = events.ORDER_BACKORDERED if first_time else events.BACKORDER_STILL_SHORT
            notify = "backordered" if first_time else None
            while True:
                self.accepting_choices = True
                try:
                    action = await self._ops.await_ops(
                        {OpsActionKind.RETRY},
                        status=OrderStatus.BACKORDERED,
                        event=event,
                        detail={"until": until.isoformat()},
                        timeout=max(until - workflow.now(), timedelta(seconds=1)),
                        notify=notify,
                        notify_values=values,
                        wake=lambda: bool(self._arrivals) or self.pending_choice is not None,
                    )
                finally:
                    self.accepting_choices = False
                if self.pending_choice is None:
                    break
                allocation = await self._carry_out_choice(region)
                if allocation is not None:
                    return allocation
                if action is not None or self._arrivals:
                    break  # ops' retry or a receipt came with the refused choice: reserve again
                event, notify = None, None  # the choice changed nothing: wait on, recording nothing
            if action is None and not self._arrivals:
                return await self._backorder_expired(region)

    def _settle_choice(self, refusal: tuple[str, str] | None) -> None:
        if self.pending_choice is not None:
            self.pending_choice = None
            self.choice_refusal = refusal
            self.choice_settled = True

    async def _carry_out_choice(self, region: str) -> Allocation | None:
        """The customer's choice (not `wait`): the order goes on with what the choice makes of it
        (an Allocation), is refused (Refused: nothing left to ship), or, when a substitute is out
        of stock too, stays as it was (None: the choice is settled with a refusal)."""
        choice = self.pending_choice
        assert choice is not None
        detail: dict[str, object] = {"choice": choice.choice.value}
        if choice.choice is not BackorderChoiceKind.SUBSTITUTE:
            self._door.record(events.BACKORDER_CHOSEN, actor=choice.actor, detail=detail)
            self._settle_choice(None)
            return await self._ship_part(
                region, whole=choice.choice is BackorderChoiceKind.CANCEL_MISSING, refusal=NOTHING_IN_STOCK
            )
        state = self._state
        ask = state.order.backorder
        assert ask is not None
        lines = substituted_lines(state.order.lines, ask.missing, choice.substitutes)
        unknown = sorted({line.sku for line in lines} - set(state.catalog))
        if unknown:
            items: list[CatalogItem] = await workflow.execute_activity_method(
                InventoryActivities.load_catalog,
                unknown,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"load catalog for {len(unknown)} substitutes",
            )
            sold = {item.sku: item for item in items if item.active}
            gone = [sku for sku in unknown if sku not in sold]
            if gone:
                self._settle_choice(("OutOfStock", f"substitute {', '.join(gone)} is no longer sold: nothing changed"))
                return None
            state.catalog.update(sold)  # their weights, for the parcels
        allocation = await self._reserve(region, lines)
        if allocation is None:
            self._settle_choice(("OutOfStock", "a substitute is out of stock too: nothing changed"))
            return None
        self._door.reduce_to(lines)
        detail["substitutes"] = dict(choice.substitutes)
        self._door.record(events.BACKORDER_CHOSEN, actor=choice.actor, detail=detail)
        self._door.move(
            OrderStatus.ALLOCATING, events.BACKORDER_FILLED, detail={"substituted": dict(choice.substitutes)}
        )
        self._settle_choice(None)
        self.answer_arrivals(reserved=True)
        self._door.record(
            events.STOCK_RESERVED,
            detail={"parcels": [p.model_dump(mode="json") for p in allocation.parcels]},
        )
        return allocation

    def record_wait(self, choice: BackorderChoice) -> None:
        """`wait`: nothing changes but the record of it (and the question's `chosen`)."""
        ask = self._state.order.backorder
        assert ask is not None
        self._door.set_backorder(ask.model_copy(update={"chosen": choice.choice}))
        self._door.record(events.BACKORDER_CHOSEN, actor=choice.actor, detail={"choice": choice.choice.value})

    async def _reserve(self, region: str, lines: list[OrderLine] | None = None) -> Allocation | None:
        """Reserve the order's lines (or `lines`, the order's lines to be: a substitution)."""
        state = self._state
        lines = state.order.lines if lines is None else lines
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
                            lines=lines,
                            destination_region=region,
                        ),
                        start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                        retry_policy=state.retry,
                        summary=f"reserve stock for {len(lines)} lines",
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
        return await self._ship_part(region, whole=False, refusal="backorder not filled in time")

    async def _levels(self, summary: str) -> list[StockLevel]:
        levels: list[StockLevel] = await workflow.execute_activity_method(
            InventoryActivities.stock_levels,
            [line.sku for line in self._state.order.lines],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=summary,
        )
        return levels

    async def _ship_part(self, region: str, *, whole: bool, refusal: str) -> Allocation:
        """Go on with the part of the order in stock now: every line cut to what one warehouse
        has (`ship_available`), or only the lines in stock whole (`whole`: `cancel_missing`)."""
        state = self._state
        levels = await self._levels("stock levels for a partial shipment")
        lines = whole_lines(state.order.lines, levels) if whole else shippable_lines(state.order.lines, levels)
        if not lines:
            raise Refused(refusal)
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
            raise Refused(refusal)
        self._door.move(OrderStatus.ALLOCATING, events.STOCK_RESERVED, detail={"partial": True})
        if self._arrivals and workflow.patched(PART_ANSWERS_ARRIVALS_PATCH):
            # Receipts that woke the order while it cut its lines: it holds its stock now, and
            # leaves the backorder. Unanswered, each receipt's stock_arrived update (and the
            # transfer or receipt waiting on it) waited for good.
            self.answer_arrivals(reserved=True)
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

    async def swap(self, swap: ReservationSwap) -> Allocation:
        """An order edit: the rebuilt parcels' reservations for the new content, in one step
        (InventoryActivities.swap_reservations). OutOfStock raises the ActivityError."""
        self._edit_keys.append(swap.key)  # compensation registered before the step runs
        allocation: Allocation = await workflow.execute_activity_method(
            InventoryActivities.swap_reservations,
            swap,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=self._state.retry,
            summary=f"swap reservations for {swap.key}: {len(swap.lines)} line(s)",
        )
        return allocation

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
        released: int = 0
        # The order's own reservation, then those of parcels rebuilt by edits (none in orders
        # never edited: their commands stay as recorded).
        for key in [self._state.order.order_id, *self._edit_keys]:
            released += await workflow.execute_activity_method(
                InventoryActivities.release_stock,
                key,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary="release reserved stock" if key == self._state.order.order_id else f"release {key}",
            )
        return released
