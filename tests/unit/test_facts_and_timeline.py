"""Facts that reach a parcel after its end, and the order of the timeline's times: both found by
the lifecycle fuzzer's 2,000-order run (seed 20261201, docs/fuzzing.md)."""

from datetime import UTC, datetime, timedelta

from domain.enums import OrderStatus, ShipmentStatus, TrackingStatus
from domain.facts import tracking_refusal
from domain.models import ShipmentView, TimelineEntry
from domain.timeline import entry_time


def _parcel(status: ShipmentStatus, issue: str | None = None) -> ShipmentView:
    return ShipmentView(
        shipment_id="o1-P1", order_id="o1", warehouse="WH-EAST", status=status, delivery_issue=issue
    )


def test_a_lost_parcel_takes_only_its_own_end_again() -> None:
    lost = _parcel(ShipmentStatus.EXCEPTION, "lost")
    assert tracking_refusal(lost, TrackingStatus.EXCEPTION, "lost") is None  # a repeat: 202
    for other in ("failed_attempt", "delayed", "damaged"):
        refusal = tracking_refusal(lost, TrackingStatus.EXCEPTION, other)
        assert refusal is not None and f"exception/{other} cannot apply" in refusal
    assert tracking_refusal(lost, TrackingStatus.DELIVERED) is not None


def test_a_parcel_on_its_way_still_takes_exceptions() -> None:
    attempted = _parcel(ShipmentStatus.EXCEPTION)  # a failed attempt: no delivery issue, it travels on
    assert tracking_refusal(attempted, TrackingStatus.EXCEPTION, "failed_attempt") is None
    assert tracking_refusal(attempted, TrackingStatus.EXCEPTION, "delayed") is None
    assert tracking_refusal(_parcel(ShipmentStatus.IN_TRANSIT), TrackingStatus.EXCEPTION, "lost") is None


def test_an_ended_parcel_takes_a_repeat_of_its_end_only() -> None:
    back = _parcel(ShipmentStatus.RETURNED_TO_SENDER)
    assert tracking_refusal(back, TrackingStatus.RETURNED_TO_SENDER) is None
    assert tracking_refusal(back, TrackingStatus.EXCEPTION, "failed_attempt") is not None
    assert tracking_refusal(_parcel(ShipmentStatus.DELIVERED), TrackingStatus.IN_TRANSIT) is not None


def _entry(at: datetime) -> TimelineEntry:
    return TimelineEntry(at=at, status=OrderStatus.FULFILLING, event="x", actor="system")


def test_a_timeline_entry_is_never_stamped_before_the_one_it_follows() -> None:
    last = datetime(2026, 12, 2, 2, 18, 45, 770009, tzinfo=UTC)
    stepped_back = last - timedelta(milliseconds=97)  # as the fuzzer saw workflow time do
    assert entry_time([_entry(last)], stepped_back) == last
    assert entry_time([_entry(last)], last + timedelta(seconds=1)) == last + timedelta(seconds=1)
    assert entry_time([], stepped_back) == stepped_back
