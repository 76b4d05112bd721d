"""Marketplace CSV exports for tests and demos: `marketplace_csv(...)` builds one, with chosen rows
broken in known ways. Run as a script to rewrite tests/data/marketplace_1000.csv (seed SKUs,
1,000 single-line orders; rows 252, 502 and 752 bad):

    .venv/bin/python tests/data/marketplace_orders.py
"""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

COLUMNS = (
    "order-id", "order-item-id", "purchase-date", "buyer-email", "buyer-name", "buyer-phone-number", "sku",
    "quantity-purchased", "item-price", "currency", "ship-service-level", "recipient-name", "ship-address-1",
    "ship-address-2", "ship-city", "ship-state", "ship-postal-code", "ship-country", "ship-phone-number",
    "payment-method", "payment-token",
)
# (column, bad value): three different ways a row goes wrong.
BREAKAGES = (
    ("quantity-purchased", "0"),
    ("buyer-email", "not-an-address"),
    ("ship-country", "China"),
)


def row(order_id: str, sku: str, price: str, number: int, quantity: int = 1) -> dict[str, str]:
    total = str(Decimal(price) * quantity)
    return {
        "order-id": order_id,
        "order-item-id": f"{order_id}-1",
        "purchase-date": "2026-11-26T10:00:00+00:00",
        "buyer-email": f"buyer{number}@marketplace.example",
        "buyer-name": f"Buyer {number}",
        "buyer-phone-number": "+8613800000000",
        "sku": sku,
        "quantity-purchased": str(quantity),
        "item-price": total,
        "currency": "CNY",
        "ship-service-level": "Standard",
        "recipient-name": f"Buyer {number}",
        "ship-address-1": f"{number} Market Street",
        "ship-address-2": "",
        "ship-city": "Hangzhou",
        "ship-state": "ZJ",
        "ship-postal-code": "310000",
        "ship-country": "CN",
        "ship-phone-number": "+8613800000000",
        "payment-method": "card",
        "payment-token": "tok_visa",
    }


def bad_rows(rows: int, bad: int) -> list[int]:
    """Spreadsheet rows (header = 1) to break: `bad` of them spread over the file."""
    return [2 + (rows * (k + 1)) // (bad + 1) for k in range(bad)] if bad else []


def marketplace_csv(
    rows: int, *, skus: Iterable[tuple[str, str]], prefix: str, bad: int = 3
) -> tuple[str, dict[int, str]]:
    """`rows` single-line orders cycling over (sku, price); returns the CSV text and the broken
    rows with the column each one names."""
    catalog = list(skus)
    broken = {r: BREAKAGES[k % len(BREAKAGES)] for k, r in enumerate(bad_rows(rows, bad))}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for index in range(rows):
        number = index + 2
        sku, price = catalog[index % len(catalog)]
        line = row(f"{prefix}-{index + 1:05d}", sku, price, number)
        if number in broken:
            column, value = broken[number]
            line[column] = value
        writer.writerow(line)
    return out.getvalue(), {r: column for r, (column, _) in broken.items()}


if __name__ == "__main__":
    text, broken = marketplace_csv(
        1000, skus=[("SKU-RED-M", "99.00"), ("SKU-MUG", "39.00"), ("SKU-BOOK-ZH", "59.00")], prefix="AMZ-DEMO"
    )
    Path(__file__).with_name("marketplace_1000.csv").write_text(text, encoding="utf-8")
    print(f"wrote 1000 rows, bad rows {sorted(broken)}")
