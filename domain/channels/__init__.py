"""External order formats and their mappers to our OrderRequest, one module per format.

`map_order(fmt, payload)` is the one entry: a JSON payload (storefront, social) or CSV text
(marketplace) in, a MappedOrder out, or ChannelFormatError naming the bad fields in the format's terms.
"""

from enum import StrEnum
from typing import Any

from domain.channels.common import ChannelFormatError, MappedOrder
from domain.channels.marketplace import RowGroup, map_marketplace, read_marketplace_csv
from domain.channels.social import map_social
from domain.channels.storefront import map_storefront
from domain.models import Problem

__all__ = [
    "ChannelFormat",
    "ChannelFormatError",
    "MappedOrder",
    "RowGroup",
    "map_order",
    "read_marketplace_csv",
]


class ChannelFormat(StrEnum):
    """The formats `POST /channels/{channel}/orders` and `oms import --channel` accept."""

    STOREFRONT = "storefront"  # JSON webhook, Shopify-style
    MARKETPLACE = "marketplace"  # CSV export, one row per line item
    SOCIAL = "social"  # JSON, Douyin/WeChat-shop style

    @property
    def is_csv(self) -> bool:
        return self is ChannelFormat.MARKETPLACE


def map_order(fmt: ChannelFormat, payload: Any) -> MappedOrder:
    """One order of `fmt`: a parsed JSON value for the JSON formats, the CSV text for marketplace."""
    if fmt is ChannelFormat.MARKETPLACE:
        if not isinstance(payload, str):
            raise ChannelFormatError([Problem(field="body", message="a marketplace order is CSV text")])
        return map_marketplace(payload)
    if fmt is ChannelFormat.STOREFRONT:
        return map_storefront(payload)
    return map_social(payload)
