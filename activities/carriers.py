"""Activities over the carriers adapter: quotes, labels, label cancellation."""

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.errors import business_refusals
from adapters.carriers import Carriers
from domain.models import Label, LabelRequest, QuoteRequest, RateQuote, TrackingEvent, TrackingPoll
from store import tracking


class CarrierActivities:
    def __init__(self, carriers: Carriers, session_factory: sessionmaker[Session] | None = None) -> None:
        self._carriers = carriers
        # Where the label's tracking number is made known to the webhook (None: not recorded).
        self._session_factory = session_factory

    @activity.defn(name="quote_rates")
    def quote_rates(self, request: QuoteRequest) -> list[RateQuote]:
        return self._carriers.quotes(
            request.origin_region, request.destination, request.weight_grams, request.speed, request.today
        )

    @activity.defn(name="buy_label")
    @business_refusals
    def buy_label(self, request: LabelRequest) -> Label:
        """Buy the label and make its tracking number known at once (idempotent, by number): the
        carrier may scan the parcel before its projection row is written, and its webhook must
        find the parcel (issue 16)."""
        label = self._carriers.buy_label(request)
        if self._session_factory is not None:
            tracking.record_tracking_number(
                self._session_factory, label.carrier, label.tracking_number, request.shipment_id
            )
        return label

    @activity.defn(name="poll_tracking")
    def poll_tracking(self, request: TrackingPoll) -> list[TrackingEvent]:
        return self._carriers.track(request.carrier, request.tracking_number)

    @activity.defn(name="cancel_label")
    @business_refusals
    def cancel_label(self, label_id: str) -> bool:
        return self._carriers.cancel_label(label_id)
