"""A storefront's order webhook (Shopify-style `orders/create`) as our OrderRequest.

The payload follows the storefront's shape: `id`, `email`, `currency`, `customer`, `line_items`
(`sku`, `quantity`, `price`), `shipping_address` (`address1`, `province_code`, `zip`,
`country_code`), `shipping_lines[0].code`, `gateway`, `note` and comma-separated `tags`.
`payment_token` is the charge token the storefront's payment gateway issued at checkout.

Prices (issue 17): `line_items[i].price` is the catalog price; `line_items[i].total_discount` is the
line's own discount and `discount_codes[j]` (`code`, `amount`) a discount of the whole order, both
positive amounts, mapped to our price adjustments; `shipping_lines[*].price`, when sent, is what the
shop charged for shipping (their sum replaces our fee).
"""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from domain.channels.common import (
    ChannelFormatError,
    ExternalModel,
    MappedOrder,
    PostalCode,
    build_request,
    discount,
    speed_of,
    validation_problems,
)
from domain.models import Email, Money, Phone, ShortText, Sku

CHANNEL = "web"
# Gateways that are a wallet or cash on delivery; any other gateway charges a card.
WALLET_GATEWAYS = frozenset({"alipay", "wechat_pay", "paypal", "apple_pay", "google_pay"})
COD_GATEWAYS = frozenset({"cash_on_delivery", "cod", "manual"})

StoreId = int | Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class StorefrontCustomer(ExternalModel):
    id: StoreId
    email: Email | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: Phone | None = None


class StorefrontAddress(ExternalModel):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    address1: ShortText
    address2: str | None = None
    city: ShortText
    province_code: ShortText
    zip: PostalCode
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    phone: Phone | None = None

    @property
    def full_name(self) -> str:
        return self.name or " ".join(p for p in (self.first_name, self.last_name) if p)


class StorefrontLineItem(ExternalModel):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=999)]
    price: Money
    title: str | None = None
    total_discount: Money = Decimal("0.00")


class StorefrontDiscountCode(ExternalModel):
    code: str | None = None
    amount: Money


class StorefrontShippingLine(ExternalModel):
    code: str | None = None
    title: str | None = None
    price: Money | None = None


class StorefrontOrder(ExternalModel):
    id: StoreId
    email: Email | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    customer: StorefrontCustomer
    line_items: Annotated[list[StorefrontLineItem], Field(min_length=1, max_length=100)]
    shipping_address: StorefrontAddress
    shipping_lines: list[StorefrontShippingLine] = Field(default_factory=list)
    discount_codes: Annotated[list[StorefrontDiscountCode], Field(max_length=50)] = Field(default_factory=list)
    gateway: str = "card"
    payment_token: str | None = None
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None
    tags: str = ""


def _payment_method(gateway: str) -> str:
    name = gateway.strip().lower()
    if name in COD_GATEWAYS:
        return "cod"
    return "wallet" if name in WALLET_GATEWAYS else "card"


def map_storefront(payload: Any) -> MappedOrder:
    """The storefront order as an OrderRequest; ChannelFormatError names its bad fields."""
    try:
        order = StorefrontOrder.model_validate(payload)
    except ValidationError as error:
        raise ChannelFormatError(validation_problems(error)) from None
    address = order.shipping_address
    email = order.email or order.customer.email
    customer_name = " ".join(p for p in (order.customer.first_name, order.customer.last_name) if p)
    shipping = order.shipping_lines[0] if order.shipping_lines else StorefrontShippingLine()
    tags = {t.strip().lower() for t in order.tags.split(",")}
    data = {
        "channel": CHANNEL,
        "channel_order_id": str(order.id),
        "customer": {
            "id": f"shop-{order.customer.id}",
            "email": email,
            "phone": order.customer.phone,
            "name": customer_name or address.full_name,
        },
        "lines": [
            {"sku": item.sku, "quantity": item.quantity, "unit_price": str(item.price)} for item in order.line_items
        ],
        "currency": order.currency,
        "shipping_address": {
            "name": address.full_name or customer_name,
            "line1": address.address1,
            "line2": address.address2 or None,
            "city": address.city,
            "region": address.province_code,
            "postal_code": address.zip,
            "country": address.country_code,
            "phone": address.phone,
        },
        "shipping_speed": speed_of(shipping.code or shipping.title),
        "priority": "expedited" if "expedited" in tags else "normal",
        "payment": {"method": _payment_method(order.gateway), "token": order.payment_token},
        "notes": order.note or None,
    }
    adjustments: list[dict[str, Any]] = []
    adjustment_sources: dict[str, str] = {}
    for index, item in enumerate(order.line_items):
        line_off = discount(item.total_discount, "line discount", sku=item.sku)
        if line_off is not None:
            at = f"adjustments[{len(adjustments)}]"
            for part in ("", ".amount", ".code"):
                adjustment_sources[at + part] = f"line_items[{index}].total_discount"
            adjustment_sources[at + ".sku"] = f"line_items[{index}].sku"
            adjustments.append(line_off)
    for index, code in enumerate(order.discount_codes):
        order_off = discount(code.amount, "discount code", code=code.code)
        if order_off is not None:
            adjustment_sources[f"adjustments[{len(adjustments)}]"] = f"discount_codes[{index}]"
            adjustments.append(order_off)
    if adjustments:
        data["adjustments"] = adjustments
    charged = [line.price for line in order.shipping_lines if line.price is not None]
    if charged:
        data["shipping_charge"] = str(sum(charged, Decimal(0)))
    sources = {
        "channel_order_id": "id",
        "customer.id": "customer.id",
        "customer.email": "email",
        "customer.phone": "customer.phone",
        "customer.name": "customer.first_name",
        "currency": "currency",
        "shipping_address.name": "shipping_address.first_name",
        "shipping_address.line1": "shipping_address.address1",
        "shipping_address.line2": "shipping_address.address2",
        "shipping_address.region": "shipping_address.province_code",
        "shipping_address.postal_code": "shipping_address.zip",
        "shipping_address.country": "shipping_address.country_code",
        "shipping_address": "shipping_address",
        "payment.method": "gateway",
        "payment.token": "payment_token",
        "notes": "note",
        "lines": "line_items",
        "adjustments": "discount_codes",
        "shipping_charge": "shipping_lines",
        **adjustment_sources,
    }
    for index in range(len(order.line_items)):
        sources[f"lines[{index}].unit_price"] = f"line_items[{index}].price"
        sources[f"lines[{index}]"] = f"line_items[{index}]"
    return build_request(data, sources)
