"""A social shop's order (Douyin/WeChat-shop style JSON) as our OrderRequest.

The payload follows the shop platform's shape: `order_id`, `buyer.open_id`, `post_receiver`,
`post_tel`, `post_addr` (`province/city/town.name`, `detail`, `post_code`), `sku_order_list`
(`out_sku_id` = our SKU, `item_num`, `sku_price` in fen), `pay_type` (0 cash on delivery,
1 WeChat Pay, 2 Alipay), `pay_token`, `buyer_words` and `is_urgent`.

Prices (issue 17): `sku_order_list[i].sku_price` is the catalog price; the platform's promotion on a
line, `sku_order_list[i].promotion_amount` (fen, for the whole line), becomes our price adjustment
of that line, and `post_amount` (fen), when sent, is the shipping the buyer paid (it replaces our fee).

Social shops do not hand out buyers' e-mail addresses: without `buyer.email` the customer gets
`<open_id>@social.invalid` (the reserved `.invalid` domain, so nothing is ever delivered there);
the buyer is reached by the phone number instead.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from domain.channels.common import (
    ChannelFormatError,
    ExternalModel,
    MappedOrder,
    PostalCode,
    build_request,
    discount,
    validation_problems,
)
from domain.models import Email, Phone, ShortText, Sku

CHANNEL = "social"
CURRENCY = "CNY"  # the platforms settle in yuan only
PLACEHOLDER_EMAIL_DOMAIN = "social.invalid"
PAY_TYPES = {0: "cod", 1: "wallet", 2: "wallet"}

OpenId = Annotated[str, StringConstraints(min_length=1, max_length=58, pattern=r"^[A-Za-z0-9_-]+$")]


class SocialBuyer(ExternalModel):
    open_id: OpenId
    nick_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    email: Email | None = None


class NamedPlace(ExternalModel):
    name: ShortText


class SocialAddress(ExternalModel):
    province: NamedPlace
    city: NamedPlace
    town: NamedPlace | None = None
    detail: ShortText
    post_code: PostalCode


class SocialSkuOrder(ExternalModel):
    out_sku_id: Sku
    item_num: Annotated[int, Field(ge=1, le=999)]
    sku_price: Annotated[int, Field(ge=0, strict=True)]  # fen: 9900 is 99.00 yuan
    promotion_amount: Annotated[int, Field(ge=0, le=10**12, strict=True)] = 0  # fen off the whole line


class SocialOrder(ExternalModel):
    free_text_fields = ExternalModel.free_text_fields | {"buyer_words"}  # the buyer's note: our notes

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z_-]+$")]
    buyer: SocialBuyer
    post_receiver: ShortText
    post_tel: Phone
    post_addr: SocialAddress
    sku_order_list: Annotated[list[SocialSkuOrder], Field(min_length=1, max_length=100)]
    pay_type: Literal[0, 1, 2]
    pay_token: str | None = None
    buyer_words: Annotated[str, StringConstraints(max_length=1000)] | None = None
    is_urgent: bool = False
    post_amount: Annotated[int, Field(ge=0, le=10**12, strict=True)] | None = None  # fen: the shipping paid


def _yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def map_social(payload: Any) -> MappedOrder:
    """The social-shop order as an OrderRequest; ChannelFormatError names its bad fields."""
    try:
        order = SocialOrder.model_validate(payload)
    except ValidationError as error:
        raise ChannelFormatError(validation_problems(error)) from None
    address = order.post_addr
    line1 = " ".join(p for p in ((address.town.name if address.town else None), address.detail) if p)
    data = {
        "channel": CHANNEL,
        "channel_order_id": order.order_id,
        "customer": {
            "id": f"social-{order.buyer.open_id}",
            "email": order.buyer.email or f"{order.buyer.open_id}@{PLACEHOLDER_EMAIL_DOMAIN}",
            "phone": order.post_tel,
            "name": order.buyer.nick_name or order.post_receiver,
        },
        "lines": [
            {"sku": item.out_sku_id, "quantity": item.item_num, "unit_price": _yuan(item.sku_price)}
            for item in order.sku_order_list
        ],
        "currency": CURRENCY,
        "shipping_address": {
            "name": order.post_receiver,
            "line1": line1,
            "city": address.city.name,
            "region": address.province.name,
            "postal_code": address.post_code,
            "country": "CN",
            "phone": order.post_tel,
        },
        "shipping_speed": "express" if order.is_urgent else "standard",
        "priority": "expedited" if order.is_urgent else "normal",
        "payment": {"method": PAY_TYPES[order.pay_type], "token": order.pay_token},
        "notes": order.buyer_words or None,
    }
    adjustments: list[dict[str, Any]] = []
    adjustment_sources: dict[str, str] = {}
    for index, item in enumerate(order.sku_order_list):
        off = discount(Decimal(item.promotion_amount) / 100, "platform promotion", sku=item.out_sku_id)
        if off is not None:
            at = f"adjustments[{len(adjustments)}]"
            for part in ("", ".amount", ".code"):
                adjustment_sources[at + part] = f"sku_order_list[{index}].promotion_amount"
            adjustment_sources[at + ".sku"] = f"sku_order_list[{index}].out_sku_id"
            adjustments.append(off)
    if adjustments:
        data["adjustments"] = adjustments
    if order.post_amount is not None:
        data["shipping_charge"] = _yuan(order.post_amount)
    sources = {
        "channel_order_id": "order_id",
        "customer.id": "buyer.open_id",
        "customer.email": "buyer.email",
        "customer.phone": "post_tel",
        "customer.name": "buyer.nick_name",
        "currency": "sku_order_list",
        "shipping_address.name": "post_receiver",
        "shipping_address.line1": "post_addr.detail",
        "shipping_address.city": "post_addr.city.name",
        "shipping_address.region": "post_addr.province.name",
        "shipping_address.postal_code": "post_addr.post_code",
        "shipping_address.country": "post_addr",
        "shipping_address.phone": "post_tel",
        "shipping_address": "post_addr",
        "payment.method": "pay_type",
        "payment.token": "pay_token",
        "notes": "buyer_words",
        "lines": "sku_order_list",
        "adjustments": "sku_order_list",
        "shipping_charge": "post_amount",
        **adjustment_sources,
    }
    for index in range(len(order.sku_order_list)):
        sources[f"lines[{index}].sku"] = f"sku_order_list[{index}].out_sku_id"
        sources[f"lines[{index}].quantity"] = f"sku_order_list[{index}].item_num"
        sources[f"lines[{index}].unit_price"] = f"sku_order_list[{index}].sku_price"
        sources[f"lines[{index}]"] = f"sku_order_list[{index}]"
    return build_request(data, sources)
