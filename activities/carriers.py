"""Activities over the carriers adapter: quotes, labels, label cancellation."""

from temporalio import activity

from activities.errors import business_refusals
from adapters.carriers import Carriers
from domain.models import Label, LabelRequest, QuoteRequest, RateQuote, TrackingEvent, TrackingPoll


class CarrierActivities:
    def __init__(self, carriers: Carriers) -> None:
        self._carriers = carriers

    @activity.defn(name="quote_rates")
    def quote_rates(self, request: QuoteRequest) -> list[RateQuote]:
        return self._carriers.quotes(
            request.origin_region, request.destination, request.weight_grams, request.speed, request.today
        )

    @activity.defn(name="buy_label")
    @business_refusals
    def buy_label(self, request: LabelRequest) -> Label:
        return self._carriers.buy_label(request)

    @activity.defn(name="poll_tracking")
    def poll_tracking(self, request: TrackingPoll) -> list[TrackingEvent]:
        return self._carriers.track(request.carrier, request.tracking_number)

    @activity.defn(name="cancel_label")
    @business_refusals
    def cancel_label(self, label_id: str) -> bool:
        return self._carriers.cancel_label(label_id)
