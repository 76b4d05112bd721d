"""Short picks (issue 17): what a warehouse's pick confirmation says about a parcel's lines.

`lines` absent from the confirmation: everything was picked. Present: exactly what was picked;
a parcel line left out was not picked at all (0). Fewer than asked is a short pick: the parcel
ships what was picked, and the units missing go to the order, which allocates them elsewhere,
backorders or refunds them (OrderPolicy.short_pick_policy).
"""

from domain.models import ParcelLine, Problem


def pick_problems(parcel: list[ParcelLine], picked: list[ParcelLine] | None) -> list[Problem]:
    """Every picked line that cannot be: a SKU not in the parcel (or given twice), a quantity
    below 0 or above what the parcel asked for. Named `lines[i].sku` / `lines[i].quantity`."""
    if picked is None:
        return []
    asked = _units(parcel)
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, line in enumerate(picked):
        if line.sku not in asked:
            problems.append(Problem(field=f"lines[{index}].sku", message=f"{line.sku} is not in the parcel"))
            continue
        if line.sku in seen:
            problems.append(Problem(field=f"lines[{index}].sku", message=f"{line.sku} is given more than once"))
            continue
        seen.add(line.sku)
        if line.quantity < 0:
            problems.append(Problem(field=f"lines[{index}].quantity", message="must be 0 or more"))
        elif line.quantity > asked[line.sku]:
            problems.append(
                Problem(
                    field=f"lines[{index}].quantity",
                    message=f"the parcel asked for {asked[line.sku]} of {line.sku}, not {line.quantity}",
                )
            )
    return problems


def split_pick(parcel: list[ParcelLine], picked: list[ParcelLine] | None) -> tuple[list[ParcelLine], list[ParcelLine]]:
    """(what ships, what is missing), in the parcel's line order. A pick beyond what was asked or
    of a SKU not in the parcel (refused by the API; clamped here, since a signal may come by
    another path) never adds units."""
    if picked is None:
        return [line.model_copy() for line in parcel], []
    got: dict[str, int] = {}
    for line in picked:
        got.setdefault(line.sku, max(0, line.quantity))
    kept: list[ParcelLine] = []
    missing: list[ParcelLine] = []
    for line in parcel:
        taken = min(line.quantity, got.get(line.sku, 0))
        got[line.sku] = got.get(line.sku, 0) - taken
        if taken:
            kept.append(ParcelLine(sku=line.sku, quantity=taken))
        if line.quantity - taken:
            missing.append(ParcelLine(sku=line.sku, quantity=line.quantity - taken))
    return kept, missing


def _units(lines: list[ParcelLine]) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units
