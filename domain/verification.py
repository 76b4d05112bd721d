"""Verification of an order against the catalog: complete, consistent, priced as we sell it (R2, R14).

The API runs it before starting a workflow (a bad request starts nothing) and the workflow runs it
again in its verify step (the catalog may have changed in between).
"""

from domain.models import Address, CatalogItem, OrderRequest, Problem


def address_problems(address: Address, path: str = "shipping_address") -> list[Problem]:
    problems: list[Problem] = []
    for field in ("name", "line1", "city", "region", "postal_code", "country"):
        if not str(getattr(address, field) or "").strip():
            problems.append(Problem(field=f"{path}.{field}", message="is required"))
    if address.country == "CN" and not (address.postal_code.isdigit() and len(address.postal_code) == 6):
        problems.append(Problem(field=f"{path}.postal_code", message="a Chinese postal code has 6 digits"))
    return problems


def catalog_problems(request: OrderRequest, catalog: dict[str, CatalogItem]) -> list[Problem]:
    problems: list[Problem] = []
    for index, line in enumerate(request.lines):
        path = f"lines[{index}]"
        item = catalog.get(line.sku)
        if item is None:
            problems.append(Problem(field=f"{path}.sku", message=f"unknown sku {line.sku!r}"))
            continue
        if not item.active:
            problems.append(Problem(field=f"{path}.sku", message=f"sku {line.sku!r} is not for sale"))
            continue
        if item.currency != request.currency:
            problems.append(Problem(field="currency", message=f"sku {line.sku!r} is sold in {item.currency}"))
        if line.unit_price != item.price:
            problems.append(
                Problem(
                    field=f"{path}.unit_price",
                    message=f"price {line.unit_price} does not match the catalog price {item.price}",
                )
            )
    return problems


def payment_problems(request: OrderRequest) -> list[Problem]:
    if request.payment.method.value != "cod" and not request.payment.token:
        return [Problem(field="payment.token", message="is required for card and wallet payments")]
    return []


def verify_order(request: OrderRequest, catalog: dict[str, CatalogItem]) -> list[Problem]:
    """Every problem of the order; empty when it may proceed."""
    return (
        catalog_problems(request, catalog)
        + address_problems(request.shipping_address)
        + payment_problems(request)
    )
