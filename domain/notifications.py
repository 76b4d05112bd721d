"""Notification texts (R12): to customers in their language (zh or en), to ops in English."""

from domain import ids
from domain.models import Customer, Notification, OrderView, ShipmentInput, ShipmentView, StockLevel

_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "accepted": {
        "zh": (
            "订单 {order_id} 已确认",
            "您好 {name}，您的订单 {order_id} 已确认，合计 {total} {currency}。",
        ),
        "en": (
            "Order {order_id} confirmed",
            "Hello {name}, your order {order_id} is confirmed: {total} {currency}.",
        ),
    },
    "cancelled": {
        "zh": (
            "订单 {order_id} 已取消",
            "您好 {name}，您的订单 {order_id} 已取消（{reason}）。如已付款，款项将退回。",
        ),
        "en": (
            "Order {order_id} cancelled",
            "Hello {name}, your order {order_id} was cancelled ({reason}). Any payment is returned.",
        ),
    },
    "on_hold": {
        "zh": (
            "订单 {order_id} 正在审核",
            "您好 {name}，我们正在核对您的订单 {order_id}，稍后会通知您结果。",
        ),
        "en": (
            "Order {order_id} is being checked",
            "Hello {name}, we are checking your order {order_id} and will be in touch shortly.",
        ),
    },
    "info_requested": {
        "zh": ("订单 {order_id} 需要更多信息", "您好 {name}，请就订单 {order_id} 联系我们：{reason}"),
        "en": (
            "Order {order_id}: we need a few details",
            "Hello {name}, please get in touch about order {order_id}: {reason}",
        ),
    },
    "backordered": {
        "zh": (
            "订单 {order_id} 暂时缺货",
            "您好 {name}，订单 {order_id} 中的商品暂时缺货，到货后我们会立即发货。{choices}",
        ),
        "en": (
            "Order {order_id} is backordered",
            "Hello {name}, an item of order {order_id} is out of stock; we ship as soon as it arrives.{choices}",
        ),
    },
    "partially_available": {
        "zh": (
            "订单 {order_id} 部分商品无货",
            "您好 {name}，订单 {order_id} 中部分商品无法供货，我们将发出其余商品（{reason}）。",
        ),
        "en": (
            "Order {order_id}: some items unavailable",
            "Hello {name}, part of order {order_id} cannot be supplied; we ship the rest ({reason}).",
        ),
    },
    "short_picked": {
        "zh": (
            "订单 {order_id} 部分商品缺货",
            "您好 {name}，订单 {order_id} 中的部分商品（{reason}）仓库缺货：{handling}",
        ),
        "en": (
            "Order {order_id}: some items were not in the warehouse",
            "Hello {name}, some items of order {order_id} ({reason}) were not in the warehouse: {handling}",
        ),
    },
    "delayed": {
        "zh": (
            "订单 {order_id} 配送延迟",
            "您的包裹（运单号 {tracking_number}）配送延迟，预计 {promised_by} 前送达。",
        ),
        "en": (
            "Order {order_id} is delayed",
            "Your parcel (tracking number {tracking_number}) is delayed; it is now due by {promised_by}.",
        ),
    },
    "reshipped": {
        "zh": (
            "订单 {order_id} 已重新发货",
            "您的包裹（运单号 {tracking_number}）{reason}，我们已为您重新发货。",
        ),
        "en": (
            "Order {order_id} sent again",
            "Your parcel (tracking number {tracking_number}) was {reason}; we have sent it again.",
        ),
    },
    "refunded": {
        "zh": (
            "订单 {order_id} 已退款",
            "您好 {name}，我们已为订单 {order_id} 退款 {amount} {currency}（{reason}）。",
        ),
        "en": (
            "Order {order_id} refunded",
            "Hello {name}, we refunded {amount} {currency} for order {order_id} ({reason}).",
        ),
    },
    "claim_rejected": {
        "zh": (
            "订单 {order_id} 的申诉 {claim_id} 未获受理",
            "您好 {name}，订单 {order_id} 的申诉 {claim_id} 经核实未获受理：{reason}",
        ),
        "en": (
            "Claim {claim_id} on order {order_id} declined",
            "Hello {name}, we looked into claim {claim_id} on order {order_id} and declined it: {reason}",
        ),
    },
    "return_approved": {
        "zh": (
            "退货 {rma_id} 已批准",
            "您好 {name}，订单 {order_id} 的退货 {rma_id} 已批准，请使用退货运单寄回商品。",
        ),
        "en": (
            "Return {rma_id} approved",
            "Hello {name}, return {rma_id} of order {order_id} is approved; please send the items back with the return label.",
        ),
    },
    "return_rejected": {
        "zh": (
            "退货 {rma_id} 未被受理",
            "您好 {name}，订单 {order_id} 的退货 {rma_id} 已关闭（{reason}），不会退款。",
        ),
        "en": (
            "Return {rma_id} closed",
            "Hello {name}, return {rma_id} of order {order_id} is closed ({reason}); no refund is due.",
        ),
    },
    "ops_attention": {
        "zh": ("订单 {order_id} 需要处理", "订单 {order_id} 需要人工处理：{reason}"),
        "en": ("Order {order_id} needs attention", "Order {order_id} needs attention: {reason}"),
    },
    "low_stock": {
        "zh": (
            "库存预警：{sku} 在 {warehouse}（可用 {available}）",
            (
                "{sku} 在 {warehouse} 的可用库存已降至再订货点或以下：可用 {available}（在库 {on_hand}，"
                "已预留 {reserved}，安全库存 {safety_stock}，再订货点 {reorder_point}）。请补货。"
            ),
        ),
        "en": (
            "Low stock: {sku} at {warehouse} ({available} available)",
            (
                "{sku} at {warehouse} is at or under its reorder point: {available} available "
                "(on hand {on_hand}, reserved {reserved}, safety stock {safety_stock}, "
                "reorder point {reorder_point}). Please replenish."
            ),
        ),
    },
    "complaint_resolved": {
        "zh": (
            "订单 {order_id} 的投诉已处理",
            "您好 {name}，您对订单 {order_id} 的投诉（{complaint_id}）已处理：{note}",
        ),
        "en": (
            "Your complaint about order {order_id} is resolved",
            "Hello {name}, your complaint ({complaint_id}) about order {order_id} is resolved: {note}",
        ),
    },
    "shipped": {
        "zh": (
            "订单 {order_id} 已发货",
            "您的包裹已由 {carrier} 发出，运单号 {tracking_number}，预计 {promised_by} 前送达。",
        ),
        "en": (
            "Order {order_id} shipped",
            "Your parcel is on its way with {carrier}, tracking number {tracking_number}, due by {promised_by}.",
        ),
    },
    "delivered": {
        "zh": ("订单 {order_id} 已送达", "您的包裹（运单号 {tracking_number}）已送达。欢迎评价！"),
        "en": (
            "Order {order_id} delivered",
            "Your parcel (tracking number {tracking_number}) was delivered. Tell us how we did!",
        ),
    },
}


# Values a template may go without: the `backordered` message of an order backordered before its
# customer was asked (backorder-choice-20261202) reads as it always did.
_OPTIONAL: dict[str, dict[str, object]] = {"backordered": {"choices": ""}}


def _render(kind: str, language: str, **values: object) -> tuple[str, str]:
    templates = _TEMPLATES[kind]
    subject, body = templates.get(language, templates["en"])
    values = {**_OPTIONAL.get(kind, {}), **values}
    return subject.format(**values), body.format(**values)


def ops_notification(order: OrderView, recipient: str, reason: str, occurrence: int) -> Notification:
    """Tell ops an order needs them; `occurrence` keeps each new problem its own message."""
    subject, body = _render("ops_attention", "en", order_id=order.order_id, reason=reason)
    return Notification(
        order_id=order.order_id,
        kind="ops_attention",
        recipient=recipient,
        subject=subject,
        body=body,
        dedupe_key=ids.notification_key(order.order_id, "ops_attention", str(occurrence)),
        language="en",
    )


# A stock alert belongs to no order; the outbox row still needs an order id.
NO_ORDER = "-"
LOW_STOCK = "low_stock"


def low_stock_key(sku: str, warehouse: str, crossing: int) -> str:
    """One key per crossing of the reorder point: the n-th drop of a level is its own message."""
    return f"lowstock:{sku}:{warehouse}:{crossing}"


def low_stock_notification(
    sku: str,
    warehouse: str,
    crossing: int,
    *,
    recipient: str,
    on_hand: int,
    reserved: int,
    safety_stock: int,
    reorder_point: int,
) -> Notification:
    """Tell ops a stock level went to or under its reorder point (its `crossing`-th time)."""
    available = StockLevel(
        sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=reserved, safety_stock=safety_stock
    ).available
    subject, body = _render(
        LOW_STOCK,
        "en",  # as ops_attention: ops read English
        sku=sku,
        warehouse=warehouse,
        available=available,
        on_hand=on_hand,
        reserved=reserved,
        safety_stock=safety_stock,
        reorder_point=reorder_point,
    )
    return Notification(
        order_id=NO_ORDER,
        kind=LOW_STOCK,
        recipient=recipient,
        subject=subject,
        body=body,
        dedupe_key=low_stock_key(sku, warehouse, crossing),
        language="en",
    )


COMPLAINT_RESOLVED = "complaint_resolved"


def complaint_resolved_notification(order_id: str, complaint_id: str, customer: Customer, note: str) -> Notification:
    """Tell the customer how ops resolved their complaint; one message per complaint (its id
    scopes the dedupe key, so a second complaint about the same order is its own message)."""
    subject, body = _render(
        COMPLAINT_RESOLVED,
        customer.language,
        order_id=order_id,
        complaint_id=complaint_id,
        name=customer.name,
        note=note,
    )
    return Notification(
        order_id=order_id,
        kind=COMPLAINT_RESOLVED,
        recipient=customer.email,
        subject=subject,
        body=body,
        dedupe_key=ids.notification_key(order_id, COMPLAINT_RESOLVED, complaint_id),
        language=customer.language,
    )


def order_notification(
    order: OrderView,
    kind: str,
    reason: str = "",
    occurrence: int = 0,
    **values: object,
) -> Notification:
    """A message to the customer about the order; `occurrence` (or a `scope` value) keeps repeated
    kinds (a second info request, a refund per parcel) apart in the outbox."""
    scope = str(values.pop("scope", "") or (occurrence if occurrence else ""))
    subject, body = _render(
        kind,
        order.customer.language,
        order_id=order.order_id,
        name=order.customer.name,
        total=order.totals.grand_total,
        currency=order.currency,
        reason=reason,
        **values,
    )
    return Notification(
        order_id=order.order_id,
        kind=kind,
        recipient=order.customer.email,
        subject=subject,
        body=body,
        dedupe_key=ids.notification_key(order.order_id, kind, scope),
        language=order.customer.language,
    )


# What the customer reads about a short pick's missing items, per handling (OrderWorkflow).
SHORT_PICK_HANDLING: dict[str, dict[str, str]] = {
    "reallocated": {
        "zh": "我们将从其他仓库为您另行发货。",
        "en": "we send them from another warehouse, in a parcel of their own.",
    },
    "backordered": {
        "zh": "到货后我们会立即发货，逾期未到将为您退款。",
        "en": "we ship them as soon as they arrive, or refund them if they do not arrive in time.",
    },
    "refunded": {
        "zh": "我们已为这些商品退款 {amount} {currency}。",
        "en": "we refunded them: {amount} {currency}.",
    },
}


def short_pick_handling(handling: str, language: str, **values: object) -> str:
    texts = SHORT_PICK_HANDLING[handling]
    return texts.get(language, texts["en"]).format(**values)


def shipment_notification(
    inp: ShipmentInput, view: ShipmentView, kind: str, occurrence: int = 0
) -> Notification:
    """A message to the customer about one parcel: shipped, delivered or delayed."""
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
        dedupe_key=ids.notification_key(
            inp.order_id, kind, view.shipment_id + (f":{occurrence}" if occurrence else "")
        ),
        language=inp.language,
    )
