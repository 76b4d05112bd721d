"""What every channel format shares: the mapped order, the problems of a bad one, and naming a
field the way the channel names it (a shop fixes its export in its own terms, not ours)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, StringConstraints, ValidationError

from domain.models import CleanText, OrderRequest, Problem, json_path

# The postal code our Address accepts, checked in the channel's payload so it is named there.
PostalCode = Annotated[str, StringConstraints(min_length=3, max_length=12, pattern=r"^[A-Za-z0-9 -]+$")]


class ExternalModel(CleanText):
    """A channel's payload. Unknown fields are ignored: shops send far more than an order needs,
    and a field they add next year must not break intake. The fields read are clean text
    (CleanText), so a control character is named in the channel's terms."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False)


class ChannelFormatError(ValueError):
    """The payload cannot become an order; every bad field is named in the channel's terms."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class MappedOrder:
    """An order in our model plus where each of its fields came from in the channel's payload."""

    request: OrderRequest
    # OrderRequest path (`lines[0].unit_price`) -> the channel's name for it (`line_items[0].price`).
    sources: Mapping[str, str] = field(default_factory=dict)

    def source_field(self, path: str) -> str:
        return source_field(path, self.sources)

    def in_source_terms(self, problems: Sequence[Problem]) -> list[Problem]:
        return [Problem(field=self.source_field(p.field), message=p.message) for p in problems]


def source_field(path: str, sources: Mapping[str, str]) -> str:
    """The channel's name of `path`: an exact entry, else the longest mapped prefix plus the rest."""
    if path in sources:
        return sources[path]
    for prefix in sorted(sources, key=len, reverse=True):
        if path.startswith((prefix + ".", prefix + "[")):
            return sources[prefix] + path[len(prefix) :]
    return path


def path_of(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path: ("line_items", 0, "price") -> line_items[0].price."""
    return json_path(loc) or "body"


def validation_problems(error: ValidationError, name: Any = path_of) -> list[Problem]:
    """One Problem per pydantic error; `name` turns an error location into the field's name."""
    return [Problem(field=name(tuple(e["loc"])), message=e["msg"]) for e in error.errors()]


def build_request(data: dict[str, Any], sources: Mapping[str, str]) -> MappedOrder:
    """Validate the mapped fields as an OrderRequest; its problems are named in the channel's terms."""
    try:
        request = OrderRequest.model_validate(data)
    except ValidationError as error:
        raise ChannelFormatError(
            validation_problems(error, lambda loc: source_field(path_of(loc), sources))
        ) from None
    return MappedOrder(request=request, sources=dict(sources))


def discount(off: Decimal, reason: str, sku: str | None = None, code: str | None = None) -> dict[str, Any] | None:
    """A channel's discount of `off` (a positive amount, as shops report it) as one of our price
    adjustments (a negative amount); None for nothing off. The amount is not checked here: the
    adjustment's own rules name a bad one in the shop's terms (MappedOrder.sources)."""
    if off == 0:
        return None
    return {"sku": sku, "amount": str(-off), "reason": reason, "code": code}


def speed_of(text: str | None) -> str:
    """A shop's free-text shipping option as our speed: overnight / express / standard."""
    words = (text or "").lower()
    if any(w in words for w in ("overnight", "next day", "nextday", "next-day", "次日")):
        return "overnight"
    if any(w in words for w in ("express", "expedited", "priority", "加急", "特快")):
        return "express"
    return "standard"
