"""The text every input model takes (domain.models.CleanText): control characters and lone
surrogates refused, naming the field; free text keeps tabs and newlines (CRLF taken as LF); all
else passes."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from domain.channels.social import SocialOrder
from domain.models import (
    FREE_TEXT_FIELDS,
    MAX_NESTING,
    Address,
    CleanText,
    OrderRequest,
    Strict,
    forbidden_character,
    value_problem,
)

CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
LINE_BREAKS = ["\t", "\n"]
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
# Any text without control characters or surrogates: letters of every script, marks, emoji,
# bidirectional overrides (U+202E), zero-width joiners, the replacement character.
CLEAN = st.text(st.characters(exclude_categories=("Cc", "Cs")))
FORBIDDEN = st.sampled_from(CONTROLS) | SURROGATES


class Note(Strict):
    title: str | None = None
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


@given(CLEAN)
def test_clean_text_passes_everywhere(text: str) -> None:
    assert forbidden_character(text) is None
    assert Note(title=text, note=text, tags=[text], params={text: [text, {"k": text}]}).title == text


@given(CLEAN, FORBIDDEN, CLEAN)
def test_a_forbidden_character_is_found_and_named_by_code_point_and_position(
    before: str, bad: str, after: str
) -> None:
    assert forbidden_character(before + bad + after) == f"U+{ord(bad):04X} at position {len(before)}"
    with pytest.raises(ValidationError) as refused:
        Note(tags=["fine", before + bad + after])
    assert [e["loc"] for e in refused.value.errors()] == [("tags",)]
    assert f"U+{ord(bad):04X} at position {len(before)} in [1]" in refused.value.errors()[0]["msg"]


@given(CLEAN, st.sampled_from(LINE_BREAKS), CLEAN)
def test_free_text_keeps_tabs_and_line_breaks(before: str, kept: str, after: str) -> None:
    assert forbidden_character(before + kept + after, free_text=True) is None
    assert Note(note=before + kept + after).note == before + kept + after
    with pytest.raises(ValidationError) as refused:
        Note(title=before + kept + after)
    assert [e["loc"] for e in refused.value.errors()] == [("title",)]


@given(CLEAN, st.sampled_from([c for c in CONTROLS if c not in LINE_BREAKS]), CLEAN)
def test_free_text_refuses_the_other_controls(before: str, bad: str, after: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Note(note=before + bad + after)
    (error,) = refused.value.errors()
    assert error["loc"] == ("note",)
    assert f"U+{ord(bad):04X} at position {len(before)}" in error["msg"]


@given(FORBIDDEN, st.integers(0, 3))
def test_texts_inside_lists_and_dicts_are_checked_keys_too(bad: str, where: int) -> None:
    values: list[dict[str, Any]] = [
        {"tags": ["ok", f"x{bad}"]},
        {"params": {"carrier": f"x{bad}"}},
        {"params": {f"x{bad}": 1}},
        {"params": {"a": [{"b": [f"x{bad}"]}]}},
    ]
    with pytest.raises(ValidationError) as refused:
        Note(**values[where])
    assert len(refused.value.errors()) == 1


def test_deep_nesting_is_refused_without_recursion() -> None:
    value: Any = "x"
    for _ in range(100_000):
        value = [value]
    assert value_problem(value) == f"must not nest lists and objects more than {MAX_NESTING} levels deep"


@given(st.integers(0, MAX_NESTING - 1), st.booleans())
def test_nesting_up_to_the_limit_passes(depth: int, as_object: bool) -> None:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value} if as_object else [value]
    assert Note(params={"v": value}).params == {"v": value}


def test_nesting_beyond_the_limit_is_refused_naming_the_field() -> None:
    # Found by hand: deeper params passed validation, then Temporal's payload serializer refused them (a 500).
    value: Any = 1
    for _ in range(MAX_NESTING):
        value = {"a": value}
    assert Note(params=value).params == value  # MAX_NESTING objects, the field's own included
    with pytest.raises(ValidationError) as refused:
        Note(params={"a": value})
    assert [e["loc"] for e in refused.value.errors()] == [("params",)]


def test_nested_models_name_the_field_by_its_path() -> None:
    body = {
        "channel": "web",
        "customer": {"id": "c1", "email": "a@b.cn", "name": "Li\x00Lei"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}],
        "currency": "CNY",
        "shipping_address": {
            "name": "Li", "line1": "1 Road\x1b[2J", "city": "Hangzhou", "region": "ZJ",
            "postal_code": "310000", "country": "CN",
        },
        "payment": {"method": "card"},
        "notes": "line one\r\nline two\ttabbed",
    }
    with pytest.raises(ValidationError) as refused:
        OrderRequest.model_validate(body)
    assert sorted(e["loc"] for e in refused.value.errors()) == [("customer", "name"), ("shipping_address", "line1")]


def test_one_line_fields_of_an_address_refuse_line_breaks() -> None:
    with pytest.raises(ValidationError):
        Address(name="Li", line1="1 Road\n2 Road", city="Hangzhou", region="ZJ", postal_code="310000", country="CN")


@given(CLEAN, CLEAN)
def test_free_text_takes_crlf_as_a_newline_and_refuses_a_lone_cr(before: str, after: str) -> None:
    assert Note(note=f"{before}\r\n{after}").note == f"{before}\n{after}"
    with pytest.raises(ValidationError):
        Note(note=f"{before}\r{after}x")
    with pytest.raises(ValidationError):
        Note(title=f"{before}\r\n{after}")  # one-line text: no line break at all


def test_channel_models_have_their_own_free_text() -> None:
    assert SocialOrder.free_text_fields == FREE_TEXT_FIELDS | {"buyer_words"}


def test_every_request_body_of_the_api_is_a_clean_text_model() -> None:
    # A request model that is not CleanText (Strict) would let control characters through again.
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from api.app import create_app
    from api.routers.codec import WirePayloads
    from config.settings import Settings

    # The codec's payloads: every text is base64 by pattern, and metadata names go to protobuf only.
    exempt = {WirePayloads}

    def routes(container: Any) -> Iterator[APIRoute]:
        for route in container.routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI's included router, walked lazily
                yield from routes(route.original_router)

    bodies = {
        param.field_info.annotation for route in routes(create_app(Settings())) for param in route.dependant.body_params
    }
    models = {body for body in bodies if isinstance(body, type) and issubclass(body, BaseModel)}
    assert len(models) >= 10, models
    assert {model for model in models - exempt if not issubclass(model, CleanText)} == set()


def test_data_we_stored_is_read_back_under_the_rules_of_its_day() -> None:
    """An order accepted before the text rule (a tab in the customer's name) keeps loading: the rule
    guards intake, and a Temporal payload or projection document read back is ours. Checking it again
    would fail the replay of an order already running, and every read of it."""
    from temporalio.converter import DataConverter

    from config.codec import shared_pydantic_data_converter
    from domain.models import STORED_DATA, Customer
    from tests.integration.helpers import order_body

    body = order_body("SKU-RED-M")
    body["customer"]["name"] = "Li\tLei"
    with pytest.raises(ValidationError, match="customer.name|control"):
        OrderRequest.model_validate(body)  # at intake: refused
    stored = OrderRequest.model_validate(body, context=STORED_DATA)  # as the projection reads it
    assert stored.customer.name == "Li\tLei"

    converter: DataConverter = shared_pydantic_data_converter
    payload = converter.payload_converter.to_payloads([stored])
    [decoded] = converter.payload_converter.from_payloads(payload, [OrderRequest])
    assert decoded == stored  # as a workflow or activity reads its input
    with pytest.raises(ValidationError):
        Customer.model_validate({"id": "c-1", "email": "a@example.com", "name": "Li\x00Lei"})
