"""Every identifier and idempotency key is formatted here and nowhere else."""

import secrets
from datetime import datetime

_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def new_order_id(now: datetime) -> str:
    """`ORD-` + UTC date + 6 random Crockford base32 characters (about 1e9 per day)."""
    suffix = "".join(secrets.choice(_BASE32) for _ in range(6))
    return f"ORD-{now:%Y%m%d}-{suffix}"


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def order_id_from_workflow_id(workflow_id: str) -> str:
    return workflow_id.removeprefix("order-")


def shipment_id(order_id: str, parcel_number: int) -> str:
    return f"{order_id}-P{parcel_number}"


def shipment_workflow_id(shipment_id_: str) -> str:
    return f"shipment-{shipment_id_}"


def reship_reservation_key(order_id: str, reship_number: int) -> str:
    """Reservations of a replacement parcel are held under their own key, apart from the order's."""
    return f"{order_id}#reship{reship_number}"


def edit_reservation_key(order_id: str, edit_number: int) -> str:
    """Reservations of the parcels rebuilt by an order edit are held under a key of their own."""
    return f"{order_id}#edit{edit_number}"


def rma_id(order_id: str, number: int) -> str:
    return f"{order_id}-R{number}"


def order_of_rma(rma_id_: str) -> str | None:
    """The order an RMA id (`rma_id`) belongs to, or None when it is not one."""
    order_id, sep, number = rma_id_.rpartition("-R")
    return order_id if sep and order_id and number.isdigit() else None


def return_workflow_id(rma_id_: str) -> str:
    return f"return-{rma_id_}"


def exchange_reservation_key(order_id: str, rma_id_: str) -> str:
    return f"{order_id}#exchange-{rma_id_}"


def payment_key(order_id: str, step: str) -> str:
    """Idempotency key of one payment operation (authorize, capture, void, refund-...) of one order."""
    return f"pay:{order_id}:{step}"


def label_key(shipment_id_: str, attempt: int = 1) -> str:
    return f"label:{shipment_id_}:{attempt}"


def notification_key(order_id: str, kind: str, scope: str = "") -> str:
    return f"notify:{order_id}:{kind}" + (f":{scope}" if scope else "")


def api_order_key(order_id: str) -> str:
    """Idempotency row of an order id: every order the API starts holds it (a generated id as
    well as a client-chosen one), so that a later submission naming the id is compared with the
    first body before anything else happens. Global: an order id names one order."""
    return f"order:{order_id}"


def api_idempotency_key(client: str, key: str) -> str:
    """Idempotency row of an `Idempotency-Key` header, scoped to the API key that sent it."""
    return f"idem:{client}:{key}"


def api_channel_key(channel: str, channel_order_id: str, scope: str | None = None) -> str:
    """Claim row of a channel order id, unique within a claim scope: None is the shop's own scope
    (keys that see every order: unbound client keys and ops), else the name of a key bound to
    customers, which claims only in a scope of its own. Key names never contain `:`, so the two
    forms cannot meet."""
    if scope is None:
        return f"channel:{channel}:{channel_order_id}"
    return f"channel@{scope}:{channel}:{channel_order_id}"


def claim_id(order_id: str, number: int) -> str:
    """A customer claim's id: the order's, numbered."""
    return f"{order_id}-C{number}"


def parcel_back_key(order_id: str, shipment_id_: str, condition: str) -> str:
    """The stock step of a returned parcel received back, per condition (the inventory's take-back
    is idempotent by this key and the SKU)."""
    return f"parcel-back:{order_id}:{shipment_id_}:{condition}"
