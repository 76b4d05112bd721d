"""domain.disclosure: what a client key may read of an order and its timeline."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import disclosure
from domain.disclosure import Viewer, client_entry, client_order, client_return, client_timeline
from domain.enums import HoldReason, OrderStatus, ReturnStatus, Role, ShipmentStatus
from domain.models import OrderView, ReturnView, TimelineEntry

AT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SECRET = "SECRET-note-of-ops"
KEYS = {"shop": Role.CLIENT, "other-shop": Role.CLIENT, "alice-ops": Role.OPS, "dock-1": Role.WAREHOUSE}
SHOP = Viewer(name="shop", key_roles=KEYS)
RISK_CODES = [HoldReason.HIGH_VALUE, HoldReason.VELOCITY, HoldReason.BLOCKLISTED_CONTACT]


def entry(name: str, actor: str = "system", /, **detail: Any) -> TimelineEntry:
    return TimelineEntry(at=AT, status=OrderStatus.ON_HOLD, event=name, actor=actor, detail=detail)


def order(**overrides: Any) -> OrderView:
    document: dict[str, Any] = {
        "order_id": "ORD-20261126-AAAAAA",
        "status": "on_hold",
        "needs_attention": True,
        "attention_reason": f"parcel P1: label refused: {SECRET}",
        "attention_since": AT,
        "available_actions": ["approve", "reject", "request_info", "cancel", "note"],
        "channel": "web",
        "customer": {"id": "cust-1", "email": "a@example.com", "name": "A"},
        "lines": [{"sku": "SKU-A", "quantity": 1, "unit_price": "99.00"}],
        "currency": "CNY",
        "totals": {"items": "99.00", "shipping": "12.00", "grand_total": "111.00"},
        "shipping_address": {
            "name": "A", "line1": "1 Road", "city": "Hangzhou", "region": "ZJ",
            "postal_code": "310000", "country": "CN",
        },
        "shipping_speed": "standard",
        "priority": "normal",
        "payment": {"status": "authorized", "method": "card", "amount": "111.00"},
        "shipments": [{
            "shipment_id": "ORD-20261126-AAAAAA-P1", "order_id": "ORD-20261126-AAAAAA", "warehouse": "WH-EAST",
            "status": "packed", "last_event": "label retry by alice-ops", "attention_reason": f"parked: {SECRET}",
            "quotes": [{"carrier": "swift", "service": "express", "price": "18.00", "transit_days": 1,
                        "promised_by": "2026-11-27"}],
            "reservation_key": "ORD-20261126-AAAAAA#reship1",
        }],
        "returns": [{"rma_id": "ORD-20261126-AAAAAA-R1", "status": "rejected",
                     "last_event": f"rejected by alice-ops: {SECRET}"}],
        "hold": {"reason": "order total above the review threshold; e-mail or phone on the blocklist",
                 "since": AT, "codes": ["high_value", "blocklisted_contact"]},
        "cancellation_reason": None,
        "created_at": AT, "updated_at": AT,
        "workflow_id": "order-ORD-20261126-AAAAAA",
        "timeline": [
            entry("order.received", "shop", channel="web").model_dump(),
            entry("order.held", codes=["high_value", "blocklisted_contact"],
                  reason="e-mail or phone on the blocklist").model_dump(),
            entry("ops.note", "alice-ops", note=SECRET).model_dump(),
        ],
    }
    document.update(overrides)
    return OrderView.model_validate(document)


def test_a_held_order_reads_without_risk_codes_notes_key_names_or_internal_reasons() -> None:
    shown = client_order(order(), SHOP)
    text = shown.model_dump_json()
    for leak in (SECRET, "alice-ops", "high_value", "blocklist", "review threshold", "label refused", "18.00"):
        assert leak not in text, leak
    assert shown.hold is not None and shown.hold.reason == disclosure.HOLD_REASON and shown.hold.codes == []
    assert shown.hold.since == AT
    assert (shown.needs_attention, shown.attention_since) == (True, AT), "that someone is on it may be known"
    assert shown.attention_reason == disclosure.ATTENTION_REASON
    assert shown.available_actions == []
    parcel = shown.shipments[0]
    assert (parcel.last_event, parcel.quotes, parcel.reservation_key) == ("packed", [], None)
    assert parcel.attention_reason == disclosure.ATTENTION_REASON
    assert shown.returns[0].last_event == "rejected"
    assert [(e.event, e.actor, e.detail) for e in shown.timeline] == [
        ("order.received", "shop", {"channel": "web"}),
        ("order.held", "system", {"codes": [], "reason": disclosure.HOLD_REASON}),
        ("ops.note", "ops", {}),
    ]


def test_what_is_not_ops_business_stays_as_it_was() -> None:
    original = order()
    shown = client_order(original, SHOP)
    keep = {"order_id", "status", "customer", "lines", "totals", "shipping_address", "payment", "created_at",
            "updated_at", "workflow_id", "channel", "version"}
    assert shown.model_dump(include=keep) == original.model_dump(include=keep)
    assert original.hold is not None and original.hold.codes, "the input is not changed"
    assert original.timeline[2].actor == "alice-ops"


def test_the_one_code_the_customer_can_fix_stays_named() -> None:
    held = order(hold={"reason": "x", "since": AT, "codes": ["velocity", "address_incomplete"]})
    shown = client_order(held, SHOP)
    assert shown.hold is not None and shown.hold.codes == [HoldReason.ADDRESS_INCOMPLETE]
    assert shown.hold.reason == f"{disclosure.HOLD_REASON}: no phone number for the courier to call"


def test_no_hold_no_attention_stay_empty() -> None:
    calm = order(hold=None, needs_attention=False, attention_reason=None, attention_since=None)
    shown = client_order(calm, SHOP)
    assert (shown.hold, shown.attention_reason, shown.needs_attention) == (None, None, False)


def test_actors_show_as_themselves_only_to_themselves() -> None:
    shown = [client_entry(entry("x", actor), SHOP).actor for actor in ["shop", "other-shop", "alice-ops", "dock-1",
                                                                        "system", "temporal", "gone-key"]]
    assert shown == ["shop", "client", "ops", "warehouse", "system", "system", "system"]


def test_cancellation_reasons() -> None:
    by_ops = entry("order.cancelled", "alice-ops", reason=SECRET, units_released=2)
    by_me = entry("order.cancelled", "shop", reason="changed my mind")
    rejected = entry("order.cancelled", "system", reason=f"rejected on review: {SECRET}")
    timed_out = entry("order.cancelled", "system", reason="hold timed out", codes=["velocity", "address_incomplete"])
    assert [e.detail for e in client_timeline([by_ops, by_me, rejected, timed_out], SHOP)] == [
        {"reason": "cancelled"},
        {"reason": "changed my mind"},
        {"reason": "rejected on review"},
        {"reason": "hold timed out", "codes": ["address_incomplete"]},
    ]
    # On the order itself: the canceller is known from the timeline when the order carries it.
    mine = client_order(order(cancellation_reason="changed my mind", timeline=[by_me.model_dump()]), SHOP)
    theirs = client_order(order(cancellation_reason=SECRET, timeline=[by_ops.model_dump()]), SHOP)
    listed = client_order(order(cancellation_reason="changed my mind", timeline=[]), SHOP)
    system = client_order(order(cancellation_reason="payment declined", timeline=[]), SHOP)
    assert [o.cancellation_reason for o in (mine, theirs, listed, system)] == [
        "changed my mind", "cancelled", "cancelled", "payment declined",
    ]


def test_status_events_read_as_the_status_in_words() -> None:
    shipped = entry("shipment.label_created", shipment_id="P1", version=4, event="swift express 18.00")
    returned = entry("return.rejected", rma_id="R1", event=f"rejected by alice-ops: {SECRET}")
    reshipped = entry("parcel.reshipped", shipment_id="P1", issue="lost", reservation="ORD#reship1")
    assert [e.detail for e in client_timeline([shipped, returned, reshipped], SHOP)] == [
        {"shipment_id": "P1", "version": 4, "event": "label created"},
        {"rma_id": "R1", "event": "rejected"},
        {"shipment_id": "P1", "issue": "lost"},
    ]


@given(status=st.sampled_from(list(ReturnStatus)), text=st.text(max_size=40))
def test_a_return_reads_as_its_status(status: ReturnStatus, text: str) -> None:
    view = client_return(ReturnView(rma_id="R1", status=status, last_event=text))
    assert view.last_event == status.value.replace("_", " ")


EVENTS = sorted(disclosure.CLIENT_DETAIL) + [
    "ops.note", "ops.approve", "ops.cancel", "sla.breached", "step.parked", "shipment.in_transit",
    "return.received", "something.new",
]
ACTORS = ["shop", "other-shop", "alice-ops", "dock-1", "system", "temporal", "unknown"]
DETAIL_KEYS = ["note", "params", "reason", "codes", "event", "channel", "shipment_id", "rma_id", "step", "sla",
               "reservation", "units_released", "removed", "problems", "amount"]


@settings(max_examples=500)  # the space is small and each example costs microseconds
@given(
    event=st.sampled_from(EVENTS),
    actor=st.sampled_from(ACTORS),
    keys=st.sets(st.sampled_from(DETAIL_KEYS)),
    codes=st.lists(st.sampled_from([c.value for c in HoldReason])),
)
def test_no_entry_shows_ops_free_text_names_or_risk_codes(
    event: str, actor: str, keys: set[str], codes: list[str]
) -> None:
    """Whatever an event carries, a client never reads text that ops (or the system) wrote
    freely, an ops key's name or a risk code; only a client's own words come back. Keys a client
    may read with the value as it is carry facts the system wrote (a channel, a parcel id);
    every other key, and the free-text ones that are rewritten, carry the secret."""
    allowed = disclosure.CLIENT_DETAIL.get(event)
    status_event = allowed is None and event.startswith(("shipment.", "return."))
    rewritten = {"order.held": {"reason"}, "order.cancelled": {"reason"}}.get(event, set())
    if status_event:
        allowed, rewritten = frozenset({"shipment_id", "rma_id", "version", "event"}), {"event"}

    def value(key: str) -> str:
        facts = (allowed or frozenset()) - rewritten
        return "fact" if key in facts else f"{SECRET} by alice-ops"

    detail: dict[str, Any] = {key: value(key) for key in keys}
    if "codes" in keys:
        detail["codes"] = codes
    shown = client_entry(entry(event, actor, **detail), SHOP)
    text = shown.model_dump_json()
    for risk in RISK_CODES:
        assert risk.value not in text
    if KEYS.get(actor) is Role.CLIENT and event == "order.cancelled":
        assert shown.detail.get("reason") == detail.get("reason"), "a client's own words come back as written"
    else:
        assert SECRET not in text and "alice-ops" not in text
    if allowed is not None:
        assert set(shown.detail) <= allowed
    else:
        assert shown.detail == {}, "an event nobody listed shows no detail"


@given(
    codes=st.lists(st.sampled_from(list(HoldReason)), max_size=4),
    needs_attention=st.booleans(),
    status=st.sampled_from(list(ShipmentStatus)),
)
def test_redacting_twice_changes_nothing_more(
    codes: list[HoldReason], needs_attention: bool, status: ShipmentStatus
) -> None:
    """A client's copy is a fixed point: no redaction depends on text a redaction wrote."""
    source = order(
        hold={"reason": "r", "since": AT, "codes": [c.value for c in codes]},
        needs_attention=needs_attention,
    )
    source.shipments[0].status = status
    once = client_order(source, SHOP)
    assert client_order(once, SHOP) == once
    assert once.hold is not None and set(once.hold.codes) <= disclosure.CUSTOMER_ACTIONABLE_HOLDS
