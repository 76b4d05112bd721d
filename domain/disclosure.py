"""What a client key may see of an order: the order and its timeline without ops' internals.

Ops see an order whole. A client key (a shop, a customer app, a bound key) sees the same order
with what is ops' business left out, field by field:

- notes ops typed (an action's `note` and `params`, a reject or cancel note): never shown;
- names of other keys: a timeline `actor` shows as-is only when it is the viewer itself; the name
  of another configured key shows as that key's role (`ops`, `client`, `warehouse`); anything
  else (`system`, `temporal`, a key no longer configured) shows as `system`;
- risk codes and their texts (`high_value`, `velocity`, `blocklisted_contact`): a hold reads
  HOLD_REASON. The one code the customer can act on, `address_incomplete` (no phone number for
  the courier), stays, with its text, because only the customer can fix it;
- why an order or a parcel needs attention (SLA breaches, parked steps, refused labels):
  `needs_attention` and `attention_since` stay (the customer may know that someone is on it),
  the reason reads ATTENTION_REASON;
- what ops may do (`available_actions` is empty), the carriers' rate quotes (what shipping costs
  the shop) and the internal reservation key of a parcel;
- texts composed by the workflows (`last_event` of parcels and returns names pickers, keys,
  label prices and error texts): they read as the status in words ("in transit");
- a cancellation reason: the system's own reasons (CUSTOMER_FACING_CANCELLATIONS) and reasons
  given by a client stay; free text from anyone else reads "cancelled", and "rejected on review:
  <note>" reads "rejected on review".

Every field stays, with a neutral value, so the response has one schema for every role.
Timeline details are deny-by-default: only the keys CLIENT_DETAIL lists for an event pass, so an
event added to a workflow later shows no detail to clients until someone decides it may.
Pure: no I/O; the API passes the viewer and the table of key names.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain import events
from domain.enums import HoldReason, Role
from domain.models import Hold, OrderView, ReturnView, ShipmentView, TimelineEntry
from domain.risk import describe

HOLD_REASON = "on hold for review"
ATTENTION_REASON = "our team is looking into this order"
CANCELLED = "cancelled"
REJECTED_ON_REVIEW = "rejected on review"
SYSTEM_ACTOR = "system"

# Hold codes about the customer's own input, which the customer can fix: shown. Every other
# code is a risk signal, and telling it would teach a fraudster which rule caught them.
CUSTOMER_ACTIONABLE_HOLDS = frozenset({HoldReason.ADDRESS_INCOMPLETE})

# Cancellation reasons written by the workflow itself (workflows/order/), and the API's
# default reason of a client's cancel: none carries anyone's free text.
CUSTOMER_FACING_CANCELLATIONS = frozenset(
    {
        "customer request",
        "verification failed",
        "hold timed out",
        REJECTED_ON_REVIEW,
        "backorder not filled in time",
        "nothing of the backordered order is in stock",
        "payment declined",
        "workflow cancelled",
    }
)

# Per timeline event, the detail keys a client may read. Events not listed show `{}`.
# Left out on purpose: `stock.reserved.parcels` (allocation internals), `parcel.reshipped.reservation`
# (an internal key), `order.cancelled.units_released` (stock), every `ops.*`, `sla.*` and `step.*`
# detail (notes, params, internal SLAs and step names).
CLIENT_DETAIL: Mapping[str, frozenset[str]] = {
    events.ORDER_RECEIVED: frozenset({"channel"}),
    events.ORDER_HELD: frozenset({"codes", "reason"}),
    events.ORDER_CANCELLED: frozenset({"reason", "codes", "problems"}),
    events.ORDER_REDUCED: frozenset({"removed"}),
    events.ORDER_LINES_EDITED: frozenset({"before", "after", "difference"}),
    events.ORDER_CONTACT_CHANGED: frozenset({"fields"}),
    events.ORDER_BACKORDERED: frozenset({"until"}),
    events.BACKORDER_STILL_SHORT: frozenset({"until"}),
    events.STOCK_RESERVED: frozenset({"partial"}),
    events.BACKORDER_CHOSEN: frozenset({"choice", "substitutes"}),
    events.BACKORDER_FILLED: frozenset({"substituted"}),
    events.FULFILMENT_STARTED: frozenset({"parcels"}),
    events.PARCEL_RESHIPPED: frozenset({"shipment_id", "issue"}),
    events.PARCEL_REFUNDED: frozenset({"shipment_id", "amount", "reason"}),
    events.SHIPMENT_SHORT_PICKED: frozenset({"shipment_id", "missing", "handling", "new", "amount", "until"}),
    events.SHORT_PICK_BACKORDER_ENDED: frozenset({"shipment_id", "handling", "new", "amount", "woken_by"}),
    events.ORDER_CLOSED: frozenset({"reason"}),
    events.RETURN_REQUESTED: frozenset({"rma_id"}),
    events.RETURN_STARTED: frozenset({"rma_id"}),
    events.RETURN_EXCHANGE_SHIPPED: frozenset({"rma_id"}),
    events.RETURN_CLAIM_SETTLED: frozenset({"rma_id"}),
}
# Events named by a parcel's or a return's status (`shipment.in_transit`, `return.received`):
# their `event` detail is the workflow's text, shown as the status in words instead.
_STATUS_EVENT_DETAIL: Mapping[str, frozenset[str]] = {
    events.SHIPMENT_PREFIX: frozenset({"shipment_id", "version", "event"}),
    events.RETURN_PREFIX: frozenset({"rma_id", "event"}),
}


@dataclass(frozen=True)
class Viewer:
    """Who reads: the client key's name, and every configured key's name with its role (to
    show another key's name as its role)."""

    name: str
    key_roles: Mapping[str, Role] = field(default_factory=dict)


def in_words(status: str) -> str:
    """`in_transit` -> `in transit`: a status as the neutral text of an event."""
    return status.replace("_", " ")


_LABELS = frozenset({SYSTEM_ACTOR, *(role.value for role in Role)})


def client_actor(actor: str, viewer: Viewer) -> str:
    if actor == viewer.name:
        return actor
    role = viewer.key_roles.get(actor)
    if role is not None:
        return role.value
    return actor if actor in _LABELS else SYSTEM_ACTOR  # a label stays (redacting twice changes nothing)


def _visible_codes(codes: Iterable[Any]) -> list[HoldReason]:
    visible: list[HoldReason] = []
    for code in codes:
        try:
            reason = HoldReason(code)
        except ValueError:
            continue  # not a code we know: not one we may show
        if reason in CUSTOMER_ACTIONABLE_HOLDS and reason not in visible:
            visible.append(reason)
    return visible


def hold_reason(codes: Iterable[Any]) -> str:
    """HOLD_REASON, followed by what the customer can fix, if anything."""
    visible = _visible_codes(codes)
    return f"{HOLD_REASON}: {describe(visible)}" if visible else HOLD_REASON


def client_hold(hold: Hold) -> Hold:
    """The hold as a client may read it: an ops hold's reason is ops' note and `by` an ops key's name."""
    return hold.model_copy(
        update={"reason": hold_reason(hold.codes), "codes": _visible_codes(hold.codes), "by": None}
    )


def cancellation_reason(reason: str, *, by_client: bool = False) -> str:
    """A cancellation reason as a client may read it: a client's own words and the system's
    reasons as they are, anyone else's free text as CANCELLED."""
    if by_client or reason in CUSTOMER_FACING_CANCELLATIONS:
        return reason
    if reason.startswith(REJECTED_ON_REVIEW):
        return REJECTED_ON_REVIEW  # "rejected on review: <the reviewer's note>"
    return CANCELLED


def _by_client(actor: str, viewer: Viewer) -> bool:
    return actor == viewer.name or viewer.key_roles.get(actor) is Role.CLIENT


def client_detail(entry: TimelineEntry, viewer: Viewer) -> dict[str, Any]:
    """The entry's detail with only the keys a client may read, their values made neutral."""
    event = entry.event
    allowed = CLIENT_DETAIL.get(event)
    status_event = False
    if allowed is None:
        prefix = next((p for p in _STATUS_EVENT_DETAIL if event.startswith(p)), None)
        allowed = _STATUS_EVENT_DETAIL[prefix] if prefix is not None else frozenset()
        status_event = prefix is not None
    detail = {key: value for key, value in entry.detail.items() if key in allowed}
    if status_event and "event" in detail:
        detail["event"] = in_words(event.split(".", 1)[1])
    if "codes" in detail:
        codes = detail["codes"] if isinstance(detail["codes"], list) else []
        detail["codes"] = [code.value for code in _visible_codes(codes)]
    if event == events.ORDER_HELD and "reason" in detail:
        detail["reason"] = hold_reason(entry.detail.get("codes") or [])
    if event == events.ORDER_CANCELLED and "reason" in detail:
        detail["reason"] = cancellation_reason(str(detail["reason"]), by_client=_by_client(entry.actor, viewer))
    return detail


def client_entry(entry: TimelineEntry, viewer: Viewer) -> TimelineEntry:
    """One timeline entry as a client may read it: actor and detail as above; when, status and
    event name as they are."""
    return entry.model_copy(
        update={"actor": client_actor(entry.actor, viewer), "detail": client_detail(entry, viewer)}
    )


def client_timeline(entries: Iterable[TimelineEntry], viewer: Viewer) -> list[TimelineEntry]:
    return [client_entry(entry, viewer) for entry in entries]


def client_shipment(shipment: ShipmentView) -> ShipmentView:
    return shipment.model_copy(
        update={
            "attention_reason": ATTENTION_REASON if shipment.attention_reason else None,
            "last_event": in_words(shipment.status.value) if shipment.last_event is not None else None,
            "quotes": [],
            "reservation_key": None,
        }
    )


def client_return(view: ReturnView) -> ReturnView:
    """A return as a client may read it: its last event ("rejected by <key>: <note>",
    "received by <key>") reads as its status in words; why it needs ops (a failed step's error,
    a late receipt) is ops' to read."""
    return view.model_copy(
        update={
            "last_event": in_words(view.status.value) if view.last_event is not None else None,
            "attention_reason": None,
            "parked": False,
        }
    )


def _order_cancelled_by_client(order: OrderView, viewer: Viewer) -> bool:
    """Whether the order's timeline (when it carries one) shows a client cancelled it."""
    cancelled = [e for e in order.timeline if e.event == events.ORDER_CANCELLED]
    return bool(cancelled) and _by_client(cancelled[-1].actor, viewer)


def client_order(order: OrderView, viewer: Viewer) -> OrderView:
    """The order as a client may read it (see the module's docstring). The input is not changed."""
    reason = order.cancellation_reason
    return order.model_copy(
        update={
            "attention_reason": ATTENTION_REASON if order.needs_attention else None,
            "available_actions": [],
            "hold": client_hold(order.hold) if order.hold is not None else None,
            "cancellation_reason": (
                cancellation_reason(reason, by_client=_order_cancelled_by_client(order, viewer))
                if reason is not None
                else None
            ),
            "shipments": [client_shipment(s) for s in order.shipments],
            "returns": [client_return(r) for r in order.returns],
            "timeline": client_timeline(order.timeline, viewer),
        }
    )
