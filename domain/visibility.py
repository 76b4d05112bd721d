"""What the Temporal UI and `temporal workflow list` show of an order: its search-attribute values
and its current-details text. Pure: the order in, values and text out.

No personal data goes into search attributes (no e-mail, phone or address): visibility is readable
by every operator.
"""

from typing import NamedTuple

from domain.enums import OpsActionKind, ShipmentStatus
from domain.models import OrderView


class SearchValues(NamedTuple):
    """The order's search-attribute values, in the order they are upserted. An empty warehouse or
    carrier (no live parcel, no label yet) is left unset rather than set to ""."""

    status: str
    customer_id: str
    channel: str
    total: float
    needs_attention: bool
    warehouse: str
    carrier: str


def search_values(order: OrderView) -> SearchValues:
    """Warehouse and carrier are the first live parcel's warehouse and the first carrier named."""
    shipments = [s for s in order.shipments if s.status is not ShipmentStatus.CANCELLED]
    return SearchValues(
        order.status.value,
        order.customer.id,
        order.channel.value,
        float(order.totals.grand_total),
        order.needs_attention,
        shipments[0].warehouse if shipments else "",
        next((s.carrier for s in shipments if s.carrier), ""),
    )


def current_details(order: OrderView, event: str, awaiting: frozenset[OpsActionKind]) -> str:
    """The workflow's current details (markdown): the status and the event that led there, what
    ops are awaited for, and why the order needs attention."""
    lines = [f"**{order.status.value}** after {event}"]
    if awaiting:
        lines.append("Waiting for ops: " + ", ".join(a.value for a in sorted(awaiting)))
    if order.needs_attention:
        lines.append(f"Needs attention: {order.attention_reason}")
    return "\n\n".join(lines)
