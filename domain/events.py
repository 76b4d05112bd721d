"""The names of the order timeline's events, in one place.

Each is the `event` of a TimelineEntry: the workflow writes them, the projection stores them as
rows (order_events.event), the API shows them, reports count them. A name, once written, is
history: renaming one leaves every stored row under the old name, so names are only ever added.
Migrations that hold raw SQL keep their literal (migrations are history) and point here.
"""

# Intake and hold.
ORDER_RECEIVED = "order.received"
ORDER_VERIFYING = "order.verifying"
ORDER_HELD = "order.held"
HOLD_WAITING_FOR_CUSTOMER = "hold.waiting_for_customer"
ORDER_ACCEPTED = "order.accepted"
ORDER_ADDRESS_CHANGED = "order.address_changed"
ORDER_LINES_EDITED = "order.lines_edited"  # the customer or ops changed the lines (PATCH .../lines)
ORDER_CONTACT_CHANGED = "order.contact_changed"

# Stock.
ORDER_BACKORDERED = "order.backordered"
BACKORDER_STILL_SHORT = "backorder.still_short"
BACKORDER_FILLED = "backorder.filled"
STOCK_RESERVED = "stock.reserved"
ORDER_REDUCED = "order.reduced"
# The customer (or ops) answered the backorder's question (POST /orders/{id}/backorder-choice).
BACKORDER_CHOSEN = "backorder.chosen"

# Payment.
PAYMENT_PENDING = "payment.pending"
PAYMENT_AUTHORIZED = "payment.authorized"
PAYMENT_CAPTURED = "payment.captured"
PAYMENT_VOIDED = "payment.voided"  # cash on delivery: a parcel's share (domain/cod.py)

# The projection (issue 16): PostgreSQL refused the order's row for its data; written in full again.
ORDER_PROJECTION_REFUSED = "order.projection_refused"
ORDER_PROJECTION_RECOVERED = "order.projection_recovered"

# Fulfilment.
FULFILMENT_STARTED = "fulfilment.started"
PARCEL_RESHIPPED = "parcel.reshipped"
PARCEL_REFUNDED = "parcel.refunded"
PARCEL_RESHIP_REFUSED = "parcel.reship_refused"  # ops asked for a reship and there was no stock
CLAIM_OPENED = "claim.opened"  # a customer claim about a parcel (not received, damaged, ...)
CLAIM_CLOSED = "claim.closed"  # answered by ops: reshipped, refunded or rejected
ORDER_REFUNDED = "order.refunded"  # ops refunded an amount or lines (a goodwill refund, a parcel)
PARCEL_RECEIVED_BACK = "parcel.received_back"
# The warehouse picked fewer units than a parcel asked for (issue 17): the missing lines and what
# the order did with them (reallocated to a new parcel, backordered, refunded).
SHIPMENT_SHORT_PICKED = "shipment.short_picked"
SHORT_PICK_BACKORDER_ENDED = "short_pick.backorder_ended"

# After-sales.
RETURN_REQUESTED = "return.requested"
RETURN_STARTED = "return.started"
RETURN_EXCHANGE_SHIPPED = "return.exchange_shipped"
RETURN_CLAIM_SETTLED = "return.claim_settled"  # a claim's return inspected: nothing to refund or ship
RETURNS_SETTLED = "returns.settled"

# The end.
ORDER_CLOSED = "order.closed"
ORDER_CANCELLED = "order.cancelled"

# Supervision: SLAs and parked steps.
SLA_BREACHED = "sla.breached"
SLA_RECOVERED = "sla.recovered"
STEP_PARKED = "step.parked"
STEP_RETRIED = "step.retried"
STEP_SKIPPED = "step.skipped"


# Families named after what they carry: an ops action, a parcel's status, a return's status.
OPS_PREFIX = "ops."
SHIPMENT_PREFIX = "shipment."
RETURN_PREFIX = "return."


def ops_event(action: str) -> str:
    """`ops.approve`, `ops.note`, ...: an ops action, recorded with who did it."""
    return f"{OPS_PREFIX}{action}"


def shipment_event(status: str) -> str:
    """`shipment.in_transit`, ...: a parcel's news as the order saw it."""
    return f"{SHIPMENT_PREFIX}{status}"


def return_event(status: str) -> str:
    """`return.approved`, ...: a return's news as the order saw it (`return.requested` is both a
    status event and RETURN_REQUESTED, the request itself)."""
    return f"{RETURN_PREFIX}{status}"
