"""The question a backordered order asks its customer, and what each answer makes of the order
(issue 17; POST /orders/{id}/backorder-choice). Pure: lines, stock levels and catalog items in.

- `wait`: nothing changes; the order goes on waiting, and at OMS_BACKORDER_TIMEOUT the policy applies.
- `ship_available`: the same as the `ship_available` policy, now: every line is cut to what one
  warehouse can ship (a line short of units ships the units there are), the rest is dropped.
- `cancel_missing`: every line that cannot ship whole is dropped; the lines in stock ship whole.
  It differs from `ship_available` only for a line that is partly in stock: ship_available ships
  the part, cancel_missing drops the line. Nothing left to ship cancels the order, either way.
- `substitute`: the missing units of each missing line become units of a substitute the catalog
  lists for its SKU, at the line's own unit price (the price the customer agreed: no more, no
  less, whatever the substitute's catalog price). Every missing line needs one.

Nothing is charged while an order is backordered (payment follows allocation), so "refund" of a
dropped line means it is never charged: the totals follow the lines.
"""

from datetime import datetime

from domain.enums import BackorderChoiceKind
from domain.models import (
    BackorderAsk,
    BackorderChoice,
    CatalogItem,
    MissingLine,
    OrderLine,
    Problem,
    StockLevel,
)


def _best_single_warehouse(levels: list[StockLevel]) -> dict[str, int]:
    best: dict[str, int] = {}
    for level in levels:
        best[level.sku] = max(best.get(level.sku, 0), level.available)
    return best


def missing_lines(lines: list[OrderLine], levels: list[StockLevel]) -> list[MissingLine]:
    """Per SKU, the units no single warehouse can ship now (a line ships whole from one
    warehouse, as domain.allocation.shippable_lines has it), in the order's line order."""
    best = _best_single_warehouse(levels)
    missing: dict[str, int] = {}
    for line in lines:
        short = line.quantity - min(line.quantity, best.get(line.sku, 0))
        if short > 0:
            missing[line.sku] = missing.get(line.sku, 0) + short
    return [MissingLine(sku=sku, quantity=quantity) for sku, quantity in missing.items()]


def whole_lines(lines: list[OrderLine], levels: list[StockLevel]) -> list[OrderLine]:
    """The lines one warehouse can ship whole now (`cancel_missing`)."""
    best = _best_single_warehouse(levels)
    return [line for line in lines if best.get(line.sku, 0) >= line.quantity]


def backorder_ask(
    lines: list[OrderLine], levels: list[StockLevel], catalog: dict[str, CatalogItem], until: datetime
) -> BackorderAsk:
    """The question: what is missing, the substitutes on offer for it, the choices."""
    missing = missing_lines(lines, levels)
    offers = {
        m.sku: list(catalog[m.sku].substitutes)
        for m in missing
        if m.sku in catalog and catalog[m.sku].substitutes
    }
    choices = [BackorderChoiceKind.WAIT, BackorderChoiceKind.SHIP_AVAILABLE, BackorderChoiceKind.CANCEL_MISSING]
    if missing and all(m.sku in offers for m in missing):  # every missing line needs one
        choices.append(BackorderChoiceKind.SUBSTITUTE)
    return BackorderAsk(missing=missing, choices=choices, substitutes=offers, until=until)


def choice_problems(ask: BackorderAsk, choice: BackorderChoice) -> list[Problem]:
    """Every problem of an answer to `ask`, each naming its field; empty when it applies."""
    problems: list[Problem] = []
    if choice.choice not in ask.choices:
        problems.append(Problem(field="choice", message=f"{choice.choice.value} is not offered for this order"))
    if choice.choice is not BackorderChoiceKind.SUBSTITUTE:
        if choice.substitutes:
            problems.append(Problem(field="substitutes", message="only with the choice substitute"))
        return problems
    missing = {m.sku for m in ask.missing}
    for sku, substitute in choice.substitutes.items():
        field = f"substitutes.{sku}"
        if sku not in missing:
            problems.append(Problem(field=field, message=f"{sku} is not a missing line of the order"))
        elif substitute not in ask.substitutes.get(sku, []):
            listed = ", ".join(ask.substitutes.get(sku, [])) or "none"
            problems.append(
                Problem(field=field, message=f"{substitute} is not a listed substitute of {sku} (listed: {listed})")
            )
    for sku in sorted(missing - set(choice.substitutes)):
        problems.append(Problem(field=f"substitutes.{sku}", message=f"missing line {sku} has no substitute named"))
    return problems


def substituted_lines(
    lines: list[OrderLine], missing: list[MissingLine], substitutes: dict[str, str]
) -> list[OrderLine]:
    """The order's lines with the missing units of each substituted SKU taken from its lines (the
    last lines first) and added as units of the substitute, at the unit price of the line they
    come from."""
    short = {m.sku: m.quantity for m in missing if m.sku in substitutes}
    kept: list[OrderLine | None] = list(lines)
    added: list[OrderLine] = []
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        take = min(short.get(line.sku, 0), line.quantity)
        if take <= 0:
            continue
        short[line.sku] -= take
        left = line.quantity - take
        kept[index] = line.model_copy(update={"quantity": left}) if left else None
        added.insert(0, OrderLine(sku=substitutes[line.sku], quantity=take, unit_price=line.unit_price))
    return [line for line in kept if line is not None] + added


_CHOICE_WORDS = {
    "en": {
        BackorderChoiceKind.WAIT: "wait for it",
        BackorderChoiceKind.SHIP_AVAILABLE: "ship what is in stock now",
        BackorderChoiceKind.CANCEL_MISSING: "cancel the missing items",
        BackorderChoiceKind.SUBSTITUTE: "take a substitute at the same price",
    },
    "zh": {
        BackorderChoiceKind.WAIT: "继续等待",
        BackorderChoiceKind.SHIP_AVAILABLE: "先发有货商品",
        BackorderChoiceKind.CANCEL_MISSING: "取消缺货商品",
        BackorderChoiceKind.SUBSTITUTE: "以原价改换替代商品",
    },
}


def choices_text(ask: BackorderAsk, language: str) -> str:
    """The question in words, appended to the `backordered` notification."""
    words = _CHOICE_WORDS.get(language, _CHOICE_WORDS["en"])
    missing = ", ".join(f"{m.sku} x{m.quantity}" for m in ask.missing)
    options = [f"{c.value} ({words[c]})" for c in ask.choices]
    offers = "; ".join(f"{sku}: {', '.join(subs)}" for sku, subs in ask.substitutes.items())
    until = ask.until.strftime("%Y-%m-%d %H:%M UTC")
    if language == "zh":
        text = f" 缺货：{missing}。请在 {until} 前选择：{'、'.join(options)}。"
        return text + (f"可选替代商品：{offers}。" if offers else "")
    text = f" Missing: {missing}. Tell us by {until} what you prefer: {', '.join(options)}."
    return text + (f" Substitutes on offer: {offers}." if offers else "")
