"""Order edits (PATCH /orders/{id}/lines and /contact): what may change, and what the change is.

The lines may change while the order is on hold (nothing is reserved or paid yet) or being
fulfilled, as long as no parcel holding a changed line is picked. A line left out, or with
quantity 0, is cancelled; a line kept keeps its price; a new SKU comes at the catalog price. The
totals follow from the lines by `domain.pricing.price_order`, the one place that prices an order.

When the order is being fulfilled, the parcels not yet picked that hold a changed line are rebuilt:
their reservations are swapped for one of the new content (what they held, plus or minus the
change) in one inventory transaction, and new parcels start for it. Parcels that are picked,
replacements (a reship) and parcels with a delivery issue never change; a change that would touch
one is refused.
"""

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from domain.enums import OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus
from domain.models import CatalogItem, EditLine, OrderLine, OrderView, Problem, ShipmentView

# Where an edit reaches stock and payment (the parcels are rebuilt, the difference paid or refunded).
FULFILLING_STATUSES = (OrderStatus.FULFILLING, OrderStatus.PARTIALLY_SHIPPED)
# Where an edit only changes the lines: nothing is reserved or paid yet.
BEFORE_STOCK_STATUSES = (OrderStatus.ON_HOLD,)
_PAID = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
_NOT_PICKED = (ShipmentStatus.PENDING, ShipmentStatus.PICKING)
# Cash on delivery collected parcel by parcel (cod-capture-on-delivery-20261202): an edit would
# have to re-share the promise over the rebuilt parcels and authorize or void the difference; not
# built yet, so such an order's lines are refused once it is paid for (on hold they still change).
COD_EDIT_REFUSAL = "cash on delivery: edits are not supported yet"


def cod_collected_at_delivery(order: OrderView) -> bool:
    """A cash-on-delivery order whose cash is still (partly) to be collected at delivery. One from
    before cod-capture-on-delivery-20261202 was captured whole at order time: edited as any."""
    return order.payment.method is PaymentMethod.COD and order.payment.captured < order.totals.grand_total


@dataclass(frozen=True)
class EditPlan:
    """What an edit of a fulfilling order does to its parcels."""

    changed: list[str]  # the SKUs whose quantity changes
    rebuild: list[ShipmentView]  # parcels not yet picked that hold a changed line: replaced
    reserve: list[OrderLine]  # what the replacing parcels ship (may be empty)


def duplicate_skus(lines: list[EditLine]) -> list[int]:
    """Indexes of lines naming a SKU an earlier line named."""
    seen: set[str] = set()
    duplicates = []
    for index, line in enumerate(lines):
        if line.sku in seen:
            duplicates.append(index)
        seen.add(line.sku)
    return duplicates


def edit_problems(order: OrderView, lines: list[EditLine], catalog: dict[str, CatalogItem]) -> list[Problem]:
    """The 422s of an edit of the lines, every bad field named: a SKU named twice, a new SKU the
    catalog does not sell (in the order's currency), an order left without lines. `catalog`
    holds the new SKUs' items (those it lacks are unknown)."""
    problems = [
        Problem(field=f"lines[{index}].sku", message=f"sku {lines[index].sku!r} is named twice")
        for index in duplicate_skus(lines)
    ]
    known = {line.sku for line in order.lines}
    for index, line in enumerate(lines):
        if line.quantity == 0 or line.sku in known:
            continue
        item = catalog.get(line.sku)
        if item is None:
            problems.append(Problem(field=f"lines[{index}].sku", message=f"unknown sku {line.sku!r}"))
        elif not item.active:
            problems.append(Problem(field=f"lines[{index}].sku", message=f"sku {line.sku!r} is not for sale"))
        elif item.currency != order.currency:
            problems.append(
                Problem(field=f"lines[{index}].sku", message=f"sku {line.sku!r} is sold in {item.currency}")
            )
    if not any(line.quantity > 0 for line in lines):
        problems.append(
            Problem(field="lines", message="the order would have no lines left: cancel it instead")
        )
    return problems


def requested_quantities(lines: list[EditLine]) -> dict[str, int]:
    """The new quantity of every SKU named (0: cancelled); the last mention of a SKU counts."""
    return {line.sku: line.quantity for line in lines}


def new_skus(order: OrderView, requested: dict[str, int]) -> list[str]:
    """SKUs the edit adds to the order (they need a catalog price)."""
    known = {line.sku for line in order.lines}
    return [sku for sku, quantity in requested.items() if quantity > 0 and sku not in known]


def quantities(lines: list[OrderLine]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts[line.sku] += line.quantity
    return dict(counts)


def changed_skus(order: OrderView, requested: dict[str, int]) -> list[str]:
    """SKUs whose quantity the edit changes (a line left out goes to 0)."""
    old = quantities(order.lines)
    return sorted(sku for sku in set(old) | set(requested) if old.get(sku, 0) != requested.get(sku, 0))


def picked(parcel: ShipmentView) -> bool:
    """The warehouse has picked the parcel (or it went further): its content is fixed."""
    return parcel.status not in _NOT_PICKED or parcel.label_id is not None or parcel.handed_over


def _live(parcel: ShipmentView) -> bool:
    return parcel.status is not ShipmentStatus.CANCELLED and parcel.outcome is None


def _replacement(order: OrderView, parcel: ShipmentView) -> bool:
    key = parcel.reservation_key or order.order_id
    return "#reship" in key


def lines_edit_refusal(order: OrderView, requested: dict[str, int]) -> str | None:
    """Why the order's lines cannot change as asked now, or None if they can."""
    status = order.status
    if status.terminal:
        return f"the order is {status.value}"
    if not any(quantity > 0 for quantity in requested.values()):
        return "the order would have no lines left: cancel it instead"
    if status in BEFORE_STOCK_STATUSES:
        return None
    if status not in FULFILLING_STATUSES:
        return (
            f"the order is {status.value}: its lines can change while it is on hold or being "
            "fulfilled, until a parcel holding a changed line is picked"
        )
    if cod_collected_at_delivery(order):
        return COD_EDIT_REFUSAL
    if order.payment.status not in _PAID:
        return f"the payment is {order.payment.status.value}"
    refunded = refunded_skus(order)
    for line in order.lines:
        # Its units were paid back already (an ops refund, a return, a short pick): an edit that
        # took them off would pay them back a second time (make fuzz, seed 20261201, order 412).
        if line.sku in refunded and requested.get(line.sku, 0) < line.quantity:
            return f"{line.sku} was refunded {refunded[line.sku]}: its line can no longer be reduced"
    for sku in changed_skus(order, requested):
        for parcel in order.shipments:
            if parcel.status is ShipmentStatus.CANCELLED or not any(line.sku == sku for line in parcel.lines):
                continue
            if parcel.outcome is not None or parcel.delivery_issue is not None:
                return f"parcel {parcel.shipment_id} holding {sku} had a delivery issue"
            if _replacement(order, parcel):
                return f"{sku} is in replacement parcel {parcel.shipment_id}"
            if picked(parcel):
                return f"parcel {parcel.shipment_id} holding {sku} is already picked ({parcel.status.value})"
    return None


def refunded_skus(order: OrderView) -> dict[str, Decimal]:
    """What refunds for lines paid back so far, per SKU (only those with something)."""
    paid_back: dict[str, Decimal] = {}
    for line in order.refunded_lines:
        paid_back[line.sku] = paid_back.get(line.sku, Decimal(0)) + line.amount
    return {sku: amount for sku, amount in paid_back.items() if amount > 0}


def total_refusal(order: OrderView, new_total: Decimal) -> str | None:
    """An edit may not lower the total below what was refunded already (goodwill included): the
    customer would be paid back more than the order costs."""
    if new_total < order.totals.refunded:
        return f"the order was refunded {order.totals.refunded}: its total cannot go below that (it would be {new_total})"
    return None


def edited_lines(order: OrderView, requested: dict[str, int], prices: dict[str, Decimal]) -> list[OrderLine]:
    """The order's new lines: kept lines keep their price and place, cancelled ones go, new SKUs
    follow at `prices` (the catalog's)."""
    lines = [
        line.model_copy(update={"quantity": requested[line.sku]})
        for line in order.lines
        if requested.get(line.sku, 0) > 0
    ]
    for sku in new_skus(order, requested):
        lines.append(OrderLine(sku=sku, quantity=requested[sku], unit_price=prices[sku]))
    return lines


def edit_plan(order: OrderView, lines: list[OrderLine]) -> EditPlan:
    """The parcels an edit (already allowed by `lines_edit_refusal`) rebuilds, and their content."""
    new = quantities(lines)
    old = quantities(order.lines)
    changed = sorted(sku for sku in set(old) | set(new) if old.get(sku, 0) != new.get(sku, 0))
    rebuild = [
        parcel
        for parcel in order.shipments
        if _live(parcel) and not picked(parcel) and any(line.sku in changed for line in parcel.lines)
    ]
    content: Counter[str] = Counter()
    for parcel in rebuild:
        for parcel_line in parcel.lines:
            content[parcel_line.sku] += parcel_line.quantity
    for sku in changed:
        content[sku] += new.get(sku, 0) - old.get(sku, 0)
    prices = {line.sku: line.unit_price for line in lines}
    reserve = [
        OrderLine(sku=sku, quantity=content[sku], unit_price=prices[sku])
        for sku in sorted(content)
        if content[sku] > 0 and sku in prices
    ]
    return EditPlan(changed=changed, rebuild=rebuild, reserve=reserve)


def contact_refusal(order: OrderView) -> str | None:
    """Why the contact can no longer change, or None if it can (until the order is terminal)."""
    if order.status.terminal:
        return f"the order is {order.status.value}"
    return None
