"""A marketplace's order export (Amazon/Tmall-style CSV) as our OrderRequests.

One row per line item; the rows of one order share its `order-id` and repeat the order's buyer,
address and payment columns. `item-price` is the price of the whole line (unit price x quantity),
as marketplaces report it. Rows are named as a spreadsheet shows them: the header is row 1.

An order is mapped whole or not at all: one bad row rejects every row of its order.

Prices (issue 17), optional columns: `item-promotion-discount` (a positive amount off the row's
line) becomes our price adjustment of that line; `shipping-price` less `ship-promotion-discount`,
summed over the order's rows when any row has a `shipping-price`, is the shipping the buyer paid
(it replaces our fee).
"""

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, field_validator

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
from domain.models import Email, Money, Phone, Problem, ShortText, Sku

CHANNEL = "marketplace"
FIRST_DATA_ROW = 2  # row 1 is the header

# Columns every export must have, and the optional ones we read.
REQUIRED_COLUMNS = (
    "order-id", "buyer-email", "buyer-name", "sku", "quantity-purchased", "item-price", "currency",
    "recipient-name", "ship-address-1", "ship-city", "ship-state", "ship-postal-code", "ship-country",
    "payment-method",
)
OPTIONAL_COLUMNS = (
    "order-item-id", "purchase-date", "buyer-phone-number", "ship-service-level", "ship-address-2",
    "ship-phone-number", "payment-token", "item-promotion-discount", "shipping-price", "ship-promotion-discount",
)
# Columns that describe the order, not the line: every row of one order must agree on them.
ORDER_COLUMNS = (
    "buyer-email", "buyer-name", "buyer-phone-number", "currency", "ship-service-level", "recipient-name",
    "ship-address-1", "ship-address-2", "ship-city", "ship-state", "ship-postal-code", "ship-country",
    "ship-phone-number", "payment-method", "payment-token",
)


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class MarketplaceRow(ExternalModel):
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)] = Field(
        alias="order-id"
    )
    buyer_email: Email = Field(alias="buyer-email")
    buyer_name: ShortText = Field(alias="buyer-name")
    buyer_phone: Phone | None = Field(None, alias="buyer-phone-number")
    sku: Sku = Field(alias="sku")
    quantity: Annotated[int, Field(ge=1, le=999)] = Field(alias="quantity-purchased")
    item_price: Money = Field(alias="item-price")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(alias="currency")
    service_level: str | None = Field(None, alias="ship-service-level")
    recipient_name: ShortText = Field(alias="recipient-name")
    address_1: ShortText = Field(alias="ship-address-1")
    address_2: str | None = Field(None, alias="ship-address-2")
    city: ShortText = Field(alias="ship-city")
    state: ShortText = Field(alias="ship-state")
    postal_code: PostalCode = Field(alias="ship-postal-code")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(alias="ship-country")
    ship_phone: Phone | None = Field(None, alias="ship-phone-number")
    payment_method: Annotated[str, StringConstraints(pattern=r"^(card|wallet|cod)$")] = Field(alias="payment-method")
    payment_token: str | None = Field(None, alias="payment-token")
    item_discount: Money | None = Field(None, alias="item-promotion-discount")
    shipping_price: Money | None = Field(None, alias="shipping-price")
    shipping_discount: Money | None = Field(None, alias="ship-promotion-discount")

    @field_validator(
        "buyer_phone",
        "service_level",
        "address_2",
        "ship_phone",
        "payment_token",
        "item_discount",
        "shipping_price",
        "shipping_discount",
        mode="before",
    )
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_is_none(value)

    @property
    def unit_price(self) -> Decimal:
        return self.item_price / self.quantity


@dataclass(frozen=True)
class RowGroup:
    """The rows of one marketplace order and what became of them: an order, or its problems."""

    channel_order_id: str
    rows: tuple[int, ...]
    order: MappedOrder | None
    problems: tuple[Problem, ...] = ()
    cells: tuple[dict[str, str], ...] = ()  # the rows as read, to pass the order on as CSV

    def as_csv(self) -> str:
        """The header and this order's rows: the body of one order for POST /channels/marketplace/orders."""
        columns = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if any(c in row for row in self.cells)]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.cells)
        return out.getvalue()


def cell(row: int, column: str) -> str:
    """How a problem names a cell: `row 14, quantity-purchased`."""
    return f"row {row}, {column}"


def _row_problems(number: int, error: ValidationError) -> list[Problem]:
    def name(loc: tuple[Any, ...]) -> str:
        return cell(number, str(loc[0])) if loc else f"row {number}"

    return validation_problems(error, name)


def _customer_id(email: str) -> str:
    """Marketplaces hide buyers behind relay addresses: the address is the buyer's only stable id."""
    return "mp-" + hashlib.sha256(email.lower().encode()).hexdigest()[:20]


def _map_group(channel_order_id: str, rows: list[tuple[int, dict[str, str], MarketplaceRow]]) -> MappedOrder:
    first_number, first_raw, first = rows[0]
    problems: list[Problem] = []
    for number, raw, parsed in rows:
        for column in ORDER_COLUMNS:
            if (raw.get(column) or "").strip() != (first_raw.get(column) or "").strip():
                problems.append(
                    Problem(field=cell(number, column), message=f"differs from row {first_number} of the same order")
                )
        if parsed.unit_price != parsed.unit_price.quantize(Decimal("0.01")):
            problems.append(
                Problem(
                    field=cell(number, "item-price"),
                    message=f"{parsed.item_price} is not a whole number of cents per unit for quantity {parsed.quantity}",
                )
            )
    if problems:
        raise ChannelFormatError(problems)
    data = {
        "channel": CHANNEL,
        "channel_order_id": channel_order_id,
        "customer": {
            "id": _customer_id(first.buyer_email),
            "email": first.buyer_email,
            "phone": first.buyer_phone,
            "name": first.buyer_name,
        },
        "lines": [
            {"sku": parsed.sku, "quantity": parsed.quantity, "unit_price": str(parsed.unit_price.quantize(Decimal("0.01")))}
            for _, _, parsed in rows
        ],
        "currency": first.currency,
        "shipping_address": {
            "name": first.recipient_name,
            "line1": first.address_1,
            "line2": first.address_2,
            "city": first.city,
            "region": first.state,
            "postal_code": first.postal_code,
            "country": first.country,
            "phone": first.ship_phone,
        },
        "shipping_speed": speed_of(first.service_level),
        "payment": {"method": first.payment_method, "token": first.payment_token},
    }
    adjustments: list[dict[str, Any]] = []
    adjustment_sources: dict[str, str] = {}
    for number, _, parsed in rows:
        off = discount(parsed.item_discount or Decimal(0), "marketplace promotion", sku=parsed.sku)
        if off is not None:
            at = f"adjustments[{len(adjustments)}]"
            for part in ("", ".amount", ".code"):
                adjustment_sources[at + part] = cell(number, "item-promotion-discount")
            adjustment_sources[at + ".sku"] = cell(number, "sku")
            adjustments.append(off)
    if adjustments:
        data["adjustments"] = adjustments
    if any(parsed.shipping_price is not None for _, _, parsed in rows):
        charged = sum(
            ((parsed.shipping_price or Decimal(0)) - (parsed.shipping_discount or Decimal(0)) for _, _, parsed in rows),
            Decimal(0),
        )
        data["shipping_charge"] = str(charged)
    sources = {
        "channel_order_id": cell(first_number, "order-id"),
        "customer.email": cell(first_number, "buyer-email"),
        "customer.phone": cell(first_number, "buyer-phone-number"),
        "customer.name": cell(first_number, "buyer-name"),
        "currency": cell(first_number, "currency"),
        "shipping_address.name": cell(first_number, "recipient-name"),
        "shipping_address.line1": cell(first_number, "ship-address-1"),
        "shipping_address.line2": cell(first_number, "ship-address-2"),
        "shipping_address.city": cell(first_number, "ship-city"),
        "shipping_address.region": cell(first_number, "ship-state"),
        "shipping_address.postal_code": cell(first_number, "ship-postal-code"),
        "shipping_address.country": cell(first_number, "ship-country"),
        "shipping_address.phone": cell(first_number, "ship-phone-number"),
        "shipping_address": f"row {first_number}",
        "payment.method": cell(first_number, "payment-method"),
        "payment.token": cell(first_number, "payment-token"),
        "lines": f"rows {', '.join(str(n) for n, _, _ in rows)}",
        "adjustments": f"rows {', '.join(str(n) for n, _, _ in rows)}, item-promotion-discount",
        "shipping_charge": f"rows {', '.join(str(n) for n, _, _ in rows)}, shipping-price",
        **adjustment_sources,
    }
    for index, (number, _, _) in enumerate(rows):
        sources[f"lines[{index}].sku"] = cell(number, "sku")
        sources[f"lines[{index}].quantity"] = cell(number, "quantity-purchased")
        sources[f"lines[{index}].unit_price"] = cell(number, "item-price")
        sources[f"lines[{index}]"] = f"row {number}"
    return build_request(data, sources)


def read_marketplace_csv(text: str) -> list[RowGroup]:
    """Every order of the export, in the order its first row appears. A file whose header lacks a
    required column raises ChannelFormatError; a bad row only rejects its own order."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # spreadsheets write a BOM
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as error:  # a header cell over the field size limit, as for rows (_rows)
        raise ChannelFormatError([Problem(field="header", message=f"cannot be read as CSV: {error}")]) from None
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ChannelFormatError([Problem(field=f"column {column}", message="is missing from the header") for column in missing])
    reader.fieldnames = header
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, raw in enumerate(_rows(reader), start=FIRST_DATA_ROW):
        values = {k: (v or "") for k, v in raw.items() if k is not None}
        if None in raw:
            # More cells than the header has columns: the row is shifted, so nothing in it is safe.
            groups[f"\0row-{number}"] = [(number, {"\0extra": "1", **values})]
            continue
        order_id = values.get("order-id", "").strip()
        groups.setdefault(order_id or f"\0row-{number}", []).append((number, values))
    return [_group(key, rows) for key, rows in groups.items()]


def _rows(reader: "csv.DictReader[str]") -> Iterator[dict[str | Any, str | Any]]:
    """The reader's rows; a row the csv module cannot read names its row number. Python's csv
    refuses a cell over its field_size_limit (128 KiB) with csv.Error, which was a 500; no column
    holds more than a thousand characters, so such a cell is a broken export, not one to read."""
    number = FIRST_DATA_ROW
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ChannelFormatError([Problem(field=f"row {number}", message=f"cannot be read as CSV: {error}")]) from None
        yield raw
        number += 1


def _group(key: str, rows: list[tuple[int, dict[str, str]]]) -> RowGroup:
    channel_order_id = "" if key.startswith("\0") else key
    numbers = tuple(number for number, _ in rows)
    cells = tuple(raw for _, raw in rows)
    problems: list[Problem] = []
    parsed: list[tuple[int, dict[str, str], MarketplaceRow]] = []
    for number, raw in rows:
        if "\0extra" in raw:
            problems.append(Problem(field=f"row {number}", message="has more cells than the header has columns"))
            continue
        try:
            parsed.append((number, raw, MarketplaceRow.model_validate(raw)))
        except ValidationError as error:
            problems.extend(_row_problems(number, error))
    if not problems:
        try:
            return RowGroup(channel_order_id, numbers, _map_group(channel_order_id, parsed), cells=cells)
        except ChannelFormatError as error:
            problems.extend(error.problems)
    return RowGroup(channel_order_id, numbers, None, tuple(problems), cells)


def map_marketplace(text: str) -> MappedOrder:
    """The one order of a CSV body (webhook-style intake); ChannelFormatError names its bad cells."""
    groups = read_marketplace_csv(text)
    if len(groups) != 1:
        raise ChannelFormatError(
            [Problem(field="order-id", message=f"one order per request, found {len(groups)}")]
        )
    group = groups[0]
    if group.order is None:
        raise ChannelFormatError(list(group.problems))
    return group.order
