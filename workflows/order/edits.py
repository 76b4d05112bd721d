"""Order edits: the customer or ops change the lines or the contact (domain/edits.py says what may
change and how).

An edit of the lines is one update, and either all of it happens or none of it:
1. new SKUs are priced from the catalog (kept lines keep their price), the totals follow from
   `domain.pricing.price_order` (Door.priced: the channel's adjustments shrink with what was removed);
2. on hold, nothing is reserved or paid yet: the lines change and that is all;
3. being fulfilled: a higher total is authorized first, as a payment of its own (a decline refuses
   the edit: PaymentDeclined, nothing changed); then the reservations of the parcels not yet picked
   that hold a changed line are swapped for the new content in one inventory transaction (no stock:
   the new authorization is voided, OutOfStock, nothing changed); then the new authorization is
   captured, the new parcels start and the old ones are cancelled (in that order, so the order is
   never without a parcel to wait for); a lower total refunds the difference.
The payment is authorized before the stock is swapped, not after, because a void of an
authorization always succeeds, while putting a reservation back may find the stock taken by
another order meanwhile: so a refused edit really changes nothing.

Each edit is recorded in the timeline with the acting key (`order.lines_edited`,
`order.contact_changed`).
"""

from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from domain import events, ids
    from domain.edits import (
        BEFORE_STOCK_STATUSES,
        changed_skus,
        edit_plan,
        edited_lines,
        lines_edit_refusal,
        new_skus,
        requested_quantities,
        total_refusal,
    )
    from domain.geography import region_of
    from domain.models import CatalogItem, ContactChange, LinesEdit, PaymentResult, ReservationSwap
    from workflows.failures import is_refusal
    from workflows.options import ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.door import Door
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock

# Patch (docs/versioning.md): marks the histories of orders edited by this code.
EDITS_PATCH = "order-edits-20261202"
# An edit may not lower the total below what was refunded already (docs/versioning.md).
EDIT_TOTAL_FLOOR_PATCH = "edit-total-floor-20261202"


class Edits:
    def __init__(
        self, state: OrderState, door: Door, stock: Stock, payment: Payment, fulfilment: Fulfilment
    ) -> None:
        self._state = state
        self._door = door
        self._stock = stock
        self._payment = payment
        self._fulfilment = fulfilment
        self._count = 0  # edits that changed the lines (numbers the keys)

    def lines_refusal(self, edit: LinesEdit) -> str | None:
        """Why this edit of the lines cannot be made now (the update validator's answer)."""
        state = self._state
        if state.editing:
            return "another edit of the order is under way"
        if state.cancel is not None or state.compensation is not None:
            return "the order is being cancelled"
        if state.resolving:
            return "an ops refund or reship is under way"
        started = {child.id for child in state.children}
        if any(ids.shipment_workflow_id(p.shipment_id) not in started for p in state.order.shipments):
            return "its parcels are starting: try again in a moment"
        return lines_edit_refusal(state.order, requested_quantities(edit.lines))

    async def edit_lines(self, edit: LinesEdit) -> None:
        # A cancel that comes meanwhile waits for the edit to end (Cancellation._compensate).
        self._state.editing = True
        try:
            await self._edit_lines(edit)
        finally:
            self._state.editing = False

    async def _edit_lines(self, edit: LinesEdit) -> None:
        state, door = self._state, self._door
        order = state.order
        requested = requested_quantities(edit.lines)
        if not changed_skus(order, requested):
            return  # the lines as they are: nothing to do
        workflow.patched(EDITS_PATCH)
        prices = await self._catalog_prices(new_skus(order, requested))
        lines = edited_lines(order, requested, prices)
        self._count += 1
        number = self._count
        before = {line.sku: line.quantity for line in order.lines}
        before_total = order.totals.grand_total
        new_total = door.priced(lines).totals.grand_total
        difference = new_total - before_total
        refusal = total_refusal(order, new_total)
        if refusal is not None and workflow.patched(EDIT_TOTAL_FLOOR_PATCH):
            raise ApplicationError(f"cannot change the lines: {refusal}", type="TooLateToEdit")
        detail: dict[str, object] = {
            "before": before,
            "after": {line.sku: line.quantity for line in lines},
            "difference": str(difference),
        }
        if order.status in BEFORE_STOCK_STATUSES:
            door.edit_lines(lines)
            door.record(events.ORDER_LINES_EDITED, actor=edit.actor, detail=detail)
            return

        plan = edit_plan(order, lines)
        authorization = await self._authorize(difference, number) if difference > 0 else None
        key = ids.edit_reservation_key(order.order_id, number)
        address = order.shipping_address
        try:
            allocation = await self._stock.swap(
                ReservationSwap(
                    release=[(p.reservation_key or order.order_id, p.warehouse) for p in plan.rebuild],
                    key=key,
                    lines=plan.reserve,
                    destination_region=region_of(address.country, address.region),
                )
            )
        except ActivityError as error:
            if authorization is not None:
                await self._payment.void_difference(authorization, number)
            if is_refusal(error, "OutOfStock"):
                raise ApplicationError(
                    f"cannot change the lines: {getattr(error.cause, 'message', error.cause)}",
                    type="OutOfStock",
                ) from None
            raise ApplicationError(
                f"reserving the new lines failed, try again: {error.cause}", type="ActionNotApplicable"
            ) from None
        if authorization is not None:
            await self._payment.capture_difference(authorization, difference, number)
        elif difference < 0:
            self._payment.track_payments()
        door.edit_lines(lines)
        rebuilt = {ids.shipment_workflow_id(p.shipment_id) for p in plan.rebuild}
        if allocation.parcels:
            await self._fulfilment.start_parcels(allocation, key)
        for child in state.children:
            if child.id in rebuilt and not child.done():
                child.cancel()
        if difference < 0:
            await self._payment.refund_difference(-difference, number)
        detail["parcels"] = {
            "replaced": [p.shipment_id for p in plan.rebuild],
            "reservation": key,
        }
        door.record(events.ORDER_LINES_EDITED, actor=edit.actor, detail=detail)

    async def _catalog_prices(self, skus: list[str]) -> dict[str, Decimal]:
        if not skus:
            return {}
        state = self._state
        items: list[CatalogItem] = await workflow.execute_activity_method(
            InventoryActivities.load_catalog,
            skus,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"catalog prices of {len(skus)} new sku(s)",
        )
        found = {item.sku: item for item in items if item.active and item.currency == state.order.currency}
        missing = [sku for sku in skus if sku not in found]
        if missing:
            raise ApplicationError(
                f"unknown or inactive SKU(s), or not sold in {state.order.currency}: {', '.join(missing)}",
                type="InvalidOrder",
            )
        state.catalog.update(found)  # the new parcels' weights
        return {sku: item.price for sku, item in found.items()}

    async def _authorize(self, amount: Decimal, number: int) -> PaymentResult:
        try:
            return await self._payment.authorize_difference(amount, number)
        except ActivityError as error:
            if is_refusal(error, "PaymentDeclined"):
                raise ApplicationError(
                    f"the payment of {amount} more was declined: the lines stay as they were",
                    type="PaymentDeclined",
                ) from None
            raise ApplicationError(
                f"authorizing {amount} more failed, try again: {error.cause}", type="ActionNotApplicable"
            ) from None

    def change_contact(self, change: ContactChange) -> None:
        self._door.set_contact(change.email, change.phone)
        fields = [name for name in ("email", "phone") if getattr(change, name) is not None]
        self._door.record(events.ORDER_CONTACT_CHANGED, actor=change.actor, detail={"fields": fields})
