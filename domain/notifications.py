"""Customer notification texts (R12), in the customer's language (zh or en)."""

from domain import ids
from domain.enums import ShipmentStatus
from domain.models import Notification, OrderView, ShipmentInput, ShipmentView

_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "accepted": {
        "zh": ("订单 {order_id} 已确认", "您好 {name}，您的订单 {order_id} 已确认，合计 {total} {currency}。"),
        "en": ("Order {order_id} confirmed", "Hello {name}, your order {order_id} is confirmed: {total} {currency}."),
    },
    "cancelled": {
        "zh": ("订单 {order_id} 已取消", "您好 {name}，您的订单 {order_id} 已取消（{reason}）。如已付款，款项将退回。"),
        "en": ("Order {order_id} cancelled", "Hello {name}, your order {order_id} was cancelled ({reason}). Any payment is returned."),
    },
    "shipped": {
        "zh": ("订单 {order_id} 已发货", "您的包裹已由 {carrier} 发出，运单号 {tracking_number}，预计 {promised_by} 前送达。"),
        "en": ("Order {order_id} shipped", "Your parcel is on its way with {carrier}, tracking number {tracking_number}, due by {promised_by}."),
    },
    "delivered": {
        "zh": ("订单 {order_id} 已送达", "您的包裹（运单号 {tracking_number}）已送达。欢迎评价！"),
        "en": ("Order {order_id} delivered", "Your parcel (tracking number {tracking_number}) was delivered. Tell us how we did!"),
    },
}


def _render(kind: str, language: str, **values: object) -> tuple[str, str]:
    templates = _TEMPLATES[kind]
    subject, body = templates.get(language, templates["en"])
    return subject.format(**values), body.format(**values)


def order_notification(order: OrderView, kind: str, reason: str = "") -> Notification:
    subject, body = _render(
        kind,
        order.customer.language,
        order_id=order.order_id,
        name=order.customer.name,
        total=order.totals.grand_total,
        currency=order.currency,
        reason=reason,
    )
    return Notification(
        order_id=order.order_id,
        kind=kind,
        recipient=order.customer.email,
        subject=subject,
        body=body,
        dedupe_key=ids.notification_key(order.order_id, kind),
        language=order.customer.language,
    )


def shipment_notification(inp: ShipmentInput, view: ShipmentView, status: ShipmentStatus) -> Notification:
    kind = "delivered" if status is ShipmentStatus.DELIVERED else "shipped"
    subject, body = _render(
        kind,
        inp.language,
        order_id=inp.order_id,
        carrier=view.carrier,
        tracking_number=view.tracking_number,
        promised_by=view.promised_by,
    )
    return Notification(
        order_id=inp.order_id,
        kind=kind,
        recipient=inp.recipient,
        subject=subject,
        body=body,
        dedupe_key=ids.notification_key(inp.order_id, kind, view.shipment_id),
        language=inp.language,
    )
