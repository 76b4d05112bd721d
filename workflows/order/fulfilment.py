"""Fulfilment: one ShipmentWorkflow child per parcel, in parallel; their news folds into the
order (domain/news.py), whose status follows from its parcels. A parcel lost or damaged on the
way is replaced (stock permitting) or refunded (R8), until every parcel has an outcome."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import events, ids
    from domain.actions import on_ops_hold
    from domain.enums import CarrierIssue, DamagedPolicy, OrderStatus
    from domain.lifecycle import fulfilment_status
    from domain.models import Address, Allocation, ParcelHold, ShipmentInput, ShipmentView
    from domain.news import parcel_trouble, status_after_parcel_news
    from domain.refunds import parcel_refund, priced
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock
    from workflows.shipment import ShipmentWorkflow

# Patch (docs/versioning.md): a parcel reshipped or refunded while the carrier has it is told so.
PARCEL_WRITTEN_OFF_PATCH = "parcel-written-off-20261201"


class Fulfilment:
    def __init__(self, state: OrderState, door: Door, ops: Ops, stock: Stock, payment: Payment) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._reships = 0

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
                    state.cancel is not None or any(c.done() and c.id not in finished for c in state.children)
                )
            )
            state.checkpoint()
            for child in list(state.children):
                if not child.done() or child.id in finished:
                    continue
                finished.add(child.id)
                parcel = child.result()
                self.apply_shipment(parcel)
                await self._payment.parcel_finished(parcel)
                if parcel.delivery_issue is not None:
                    await self._resolve_delivery_issue(parcel)
            if all(child.id in finished for child in state.children):
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
                await child.signal(ShipmentWorkflow.written_off, reason)

    def next_reship_key(self) -> str:
        """The reservation key of the next replacement parcel (automatic or by ops)."""
        self._reships += 1
        return ids.reship_reservation_key(self._state.order.order_id, self._reships)

    def unfolded(self) -> bool:
        """A parcel finished that the order has not folded in yet (a replacement started after
        `fulfil` returned)."""
        state = self._state
        return any(child.done() and child.id not in state.finished_parcels for child in state.children)

    async def fold_finished(self) -> None:
        """Fold in finished parcels, resolving delivery issues as `fulfil` does."""
        state = self._state
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
        amount = await self._payment.refund(
            parcel_refund(order.lines, parcel.lines, order.line_prices), parcel.shipment_id, parcel=parcel.shipment_id
        )
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
