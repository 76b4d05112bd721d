"""ShipmentWorkflow: one parcel from pick task to delivery (child of OrderWorkflow).

pending -> picking (waits for the warehouse's pick confirmation) -> packed -> rate shopping ->
label_created -> in_transit (hand-over: stock leaves the warehouse) -> out_for_delivery -> delivered.
Every change is written to the shipments projection and signalled to the parent order.
Cancelled before hand-over, it voids its label and ends `cancelled`.
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.inventory import InventoryActivities
    from activities.notify import NotifyActivities
    from activities.store import ProjectionActivities
    from domain import ids
    from domain.carriers import choose_quote
    from domain.enums import ShipmentStatus, TrackingStatus
    from domain.lifecycle import SHIPMENT_PROGRESS
    from domain.models import (
        Address,
        Label,
        LabelRequest,
        LabelRetry,
        Notification,
        PickConfirmation,
        QuoteRequest,
        RateQuote,
        ShipmentInput,
        ShipmentView,
        ShipStockRequest,
        TrackingEvent,
    )
    from domain.notifications import shipment_notification
    from workflows.failures import is_refusal, refusal_of
    from workflows.options import (
        ACTIVITY_TIMEOUT,
        LOCAL_ACTIVITY_TIMEOUT,
        PERSISTENT_RETRY,
    )

# The parent's signal that receives every change of this parcel.
SHIPMENT_CHANGED_SIGNAL = "shipment_changed"

_TRACKING_TO_SHIPMENT = {
    TrackingStatus.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: ShipmentStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: ShipmentStatus.DELIVERED,
    TrackingStatus.EXCEPTION: ShipmentStatus.EXCEPTION,
    TrackingStatus.RETURNED_TO_SENDER: ShipmentStatus.RETURNED_TO_SENDER,
}
_FINAL = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER, ShipmentStatus.CANCELLED)


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
        self._pick: PickConfirmation | None = None
        self._tracking: list[TrackingEvent] = []
        self._label: Label | None = None
        self._label_in_doubt = False
        self._stock_shipped = False
        self._chosen: RateQuote | None = None
        self._destination = inp.destination
        self._retry: LabelRetry | None = None
        self._label_attempt = 1

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentView:
        try:
            await self._to_label()
            await self._track()
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
        self._tracking.append(event)

    @workflow.signal
    def retry_label(self, retry: LabelRetry) -> None:
        self._retry = retry

    @workflow.signal
    def change_destination(self, destination: Address) -> None:
        """Address amendments reach the parcel until its label is bought."""
        if self._label is None:
            self._destination = destination

    @workflow.query
    def state(self) -> ShipmentView:
        return self._view

    # --- steps ----------------------------------------------------------------------------

    async def _to_label(self) -> None:
        await self._set(ShipmentStatus.PICKING, "pick task sent to the warehouse")
        workflow.set_current_details(f"Waiting for {self._input.parcel.warehouse} to confirm the pick")
        await workflow.wait_condition(lambda: self._pick is not None)
        await self._set(ShipmentStatus.PACKED, f"picked by {self._pick.picker if self._pick else '?'}")

        while True:
            choice = await self._shop_rates()
            self._label_in_doubt = True
            try:
                self._label = await workflow.execute_activity_method(
                    CarrierActivities.buy_label,
                    self._label_request(choice),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary=f"buy {choice.carrier} {choice.service.value} label",
                )
                break
            except ActivityError as error:
                if not is_refusal(error, "UndeliverableAddress"):
                    raise
                self._label_in_doubt = False
                await self._wait_for_label_retry(str(refusal_of(error)))
        self._label_in_doubt = False
        self._view.carrier = self._label.carrier
        self._view.service = self._label.service
        self._view.tracking_number = self._label.tracking_number
        self._view.label_id = self._label.label_id
        self._view.promised_by = self._label.promised_by
        await self._set(ShipmentStatus.LABEL_CREATED, f"{choice.carrier} {choice.service.value} {choice.price}")

    async def _shop_rates(self) -> RateQuote:
        workflow.set_current_details("Rate shopping")
        quotes = await workflow.execute_activity_method(
            CarrierActivities.quote_rates,
            QuoteRequest(
                origin_region=self._input.parcel.region,
                destination=self._destination,
                weight_grams=self._input.weight_grams,
                speed=self._input.shipping_speed,
                today=workflow.now().date(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"quote {self._input.shipping_speed.value} from {self._input.parcel.region}",
        )
        self._view.quotes = quotes
        choice = choose_quote(quotes, self._input.shipping_speed, self._input.priority)
        if choice is None:
            # No carrier keeps the promise: take the fastest rather than strand the parcel.
            choice = min(quotes, key=lambda q: (q.transit_days, q.price))
        return choice

    async def _wait_for_label_retry(self, reason: str) -> None:
        """A refused label (e.g. an undeliverable postal code) parks the parcel until ops fix
        the address and ask for a retry; the parent order shows it as needing attention."""
        await self._set(ShipmentStatus.EXCEPTION, f"label refused: {reason}")
        workflow.set_current_details("Label refused: waiting for a corrected address and an ops retry")
        await workflow.wait_condition(lambda: self._retry is not None)
        assert self._retry is not None
        if self._retry.destination is not None:
            self._destination = self._retry.destination
        self._retry = None
        self._label_attempt += 1
        await self._set(ShipmentStatus.PACKED, "label retry")

    async def _track(self) -> None:
        while self._view.status not in _FINAL:
            workflow.set_current_details(
                f"{self._view.status.value}: waiting for {self._view.carrier} tracking on {self._view.tracking_number}"
            )
            await workflow.wait_condition(lambda: bool(self._tracking))
            event = self._tracking.pop(0)
            new_status = _TRACKING_TO_SHIPMENT[event.status]
            if SHIPMENT_PROGRESS[new_status] < SHIPMENT_PROGRESS[self._view.status] or (
                new_status is self._view.status and new_status is not ShipmentStatus.EXCEPTION
            ):
                continue  # a replayed or late webhook never moves the parcel backwards
            if new_status.with_carrier and not self._stock_shipped:
                await workflow.execute_activity_method(
                    InventoryActivities.ship_stock,
                    ShipStockRequest(order_id=self._input.order_id, warehouse=self._input.parcel.warehouse),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary=f"stock leaves {self._input.parcel.warehouse}",
                )
                self._stock_shipped = True
                self._view.handed_over_at = event.at
            await self._set(new_status, event.detail or event.status.value)
            if new_status in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED):
                await self._notify(new_status)

    async def _cancel_before_hand_over(self) -> None:
        if self._label is None and self._label_in_doubt:
            # The purchase may have gone through before we were cancelled: ask again by the
            # same key (idempotent) to learn the label, then void it.
            try:
                self._label = await workflow.execute_activity_method(
                    CarrierActivities.buy_label,
                    self._label_request_from_view(),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=PERSISTENT_RETRY,
                    summary="look up label bought before cancellation",
                )
            except ActivityError:
                self._label = None
        if self._label is not None:
            await workflow.execute_activity_method(
                CarrierActivities.cancel_label,
                self._label.label_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"void label {self._label.tracking_number}",
            )
        await self._set(ShipmentStatus.CANCELLED, "cancelled before hand-over")

    # --- helpers --------------------------------------------------------------------------

    def _label_request(self, choice: RateQuote) -> LabelRequest:
        self._chosen = choice
        return LabelRequest(
            shipment_id=self._input.shipment_id,
            idempotency_key=ids.label_key(self._input.shipment_id, self._label_attempt),
            quote=choice,
            origin_region=self._input.parcel.region,
            destination=self._destination,
            weight_grams=self._input.weight_grams,
        )

    def _label_request_from_view(self) -> LabelRequest:
        assert self._chosen is not None, "a label is in doubt only after a quote was chosen"
        return self._label_request(self._chosen)

    async def _set(self, status: ShipmentStatus, event: str) -> None:
        """The one door for this parcel's status: state, projection row, parent signal."""
        self._view.status = status
        self._view.last_event = event
        self._view.version += 1
        self._view.updated_at = workflow.now()
        await workflow.execute_local_activity_method(
            ProjectionActivities.record_shipment,
            self._view,
            start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"shipment {status.value}",
        )
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                SHIPMENT_CHANGED_SIGNAL, self._view
            )

    async def _notify(self, status: ShipmentStatus) -> None:
        notification: Notification = shipment_notification(self._input, self._view, status)
        await workflow.execute_activity_method(
            NotifyActivities.send_notification,
            notification,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=PERSISTENT_RETRY,
            summary=f"notify customer: parcel {status.value}",
        )

