"""Cash on delivery (API.md "Changing an order"): promised at order time, collected parcel by
parcel as the carrier reports each delivery. Pure: amounts in, amounts and a status out.

Each parcel carries a share of the order's grand total, the cash its courier collects: the value
of its lines, the first parcel also the rest of the total (the shipping charge, less any
discount), so that the shares add up to the grand total to the cent. A parcel delivered has its
share captured; a parcel returned to sender, or resolved by a refund before delivery, has it
voided; a replacement parcel (a reship) carries the share of the parcel it replaces, promised
anew. Captured minus refunded is what the customer keeps; a refund never passes the capture.
"""

from decimal import Decimal

from domain.enums import PaymentMethod, PaymentStatus, ShipmentStatus
from domain.models import OrderView, ShipmentView

ZERO = Decimal("0.00")


def is_cod(order: OrderView) -> bool:
    return order.payment.method is PaymentMethod.COD


def shares(total: Decimal, values: list[Decimal]) -> list[Decimal]:
    """Split `total` over parcels worth `values` (their lines): each parcel its value, the first
    one also what is left (shipping). A total below the values (a discount larger than the
    shipping) is taken off the parcels in turn, never below zero. The shares add up to `total`."""
    if not values:
        return []
    result = [max(value, ZERO) for value in values]
    rest = total - sum(result, ZERO)
    if rest >= 0:
        result[0] += rest
        return result
    for index, share in enumerate(result):
        taken = min(share, -rest)
        result[index] = share - taken
        rest += taken
        if rest >= 0:
            break
    return result


def cod_status(captured: Decimal, refunded: Decimal, promised: bool) -> PaymentStatus:
    """The payment's status: `authorized` while nothing is collected and a share is still
    promised, `voided` once nothing is; after a capture, as for any capture."""
    if captured > 0:
        if refunded >= captured:
            return PaymentStatus.REFUNDED
        return PaymentStatus.PARTIALLY_REFUNDED if refunded > 0 else PaymentStatus.CAPTURED
    return PaymentStatus.AUTHORIZED if promised else PaymentStatus.VOIDED


def uncollected(order: OrderView, parcel: ShipmentView | None) -> bool:
    """A cash-on-delivery parcel whose cash was never collected (it was not delivered): a refund
    that resolves it voids its share of the promise instead of paying anything back."""
    if not is_cod(order) or parcel is None or parcel.status is ShipmentStatus.DELIVERED:
        return False
    # An order from before cash on delivery was captured at delivery captured it whole at once.
    return order.payment.captured < order.totals.grand_total


def outstanding(order: OrderView) -> Decimal:
    """What is promised and neither collected nor voided yet."""
    left = order.totals.grand_total - order.payment.captured - order.payment.voided
    return left if left > 0 else ZERO
