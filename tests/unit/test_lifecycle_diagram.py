"""The renderer that draws docs/architecture.md's state machines from the allowed-moves tables.

Run against a sample table here; tests/unit/test_architecture_doc.py holds the document to the real ones."""

from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.lifecycle_diagram import block_of, fenced, main, markers, mermaid, rendered_blocks, with_block


class Door(StrEnum):
    # Declared out of alphabetical order on purpose: the diagram follows the declaration.
    SHUT = "shut"
    OPEN = "open"
    AJAR = "ajar"
    GONE = "gone"


SAMPLE = {
    Door.OPEN: frozenset({Door.SHUT, Door.AJAR}),
    Door.SHUT: frozenset({Door.OPEN, Door.GONE}),
    Door.AJAR: frozenset({Door.SHUT}),
}


def test_a_table_becomes_a_state_diagram_with_its_start_and_its_ends():
    # SHUT is where it starts (no move leads there); AJAR and GONE are where it ends (no move out).
    table = {Door.SHUT: frozenset({Door.OPEN}), Door.OPEN: frozenset({Door.AJAR, Door.GONE}), Door.AJAR: frozenset()}
    assert mermaid(table, "Door") == (
        "---\n"
        "title: Door\n"
        "---\n"
        "stateDiagram-v2\n"
        "    [*] --> shut\n"
        "    shut --> open\n"
        "    open --> ajar\n"
        "    open --> gone\n"
        "    ajar --> [*]\n"
        "    gone --> [*]\n"
    )


def test_states_follow_the_enum_declaration_not_the_table_or_the_alphabet():
    lines = mermaid(SAMPLE, "Door").splitlines()[4:]
    assert lines == [
        "    shut --> open",
        "    shut --> gone",
        "    open --> shut",
        "    open --> ajar",
        "    ajar --> shut",
        "    gone --> [*]",
    ]


@given(st.permutations(list(SAMPLE.items())))
def test_the_same_table_always_gives_the_same_text(items):
    assert mermaid(dict(items), "Door") == mermaid(SAMPLE, "Door")


def test_every_allowed_move_is_drawn_and_no_other():
    drawn = {
        tuple(line.strip().split(" --> "))
        for line in mermaid(SAMPLE, "Door").splitlines()
        if " --> " in line and "[*]" not in line
    }
    allowed = {(source.value, target.value) for source, targets in SAMPLE.items() for target in targets}
    assert drawn == allowed


def test_a_state_a_diagram_cannot_carry_is_refused():
    with pytest.raises(ValueError, match="plain name"):
        mermaid({"a b": frozenset({"c"})}, "bad")


DOCUMENT = f"""# Title

text before

{markers("order")[0]}
placeholder
{markers("order")[1]}

text after
"""


def test_a_block_is_replaced_between_its_markers_and_nothing_else_changes():
    block = fenced(mermaid(SAMPLE, "Door"))
    updated = with_block(DOCUMENT, "order", block)
    assert block_of(updated, "order") == block
    assert updated.replace(block, "placeholder\n") == DOCUMENT
    assert with_block(updated, "order", block) == updated  # redrawing is idempotent


def test_blocks_are_rendered_for_the_tables_that_exist():
    assert rendered_blocks({"ORDER_MOVES": SAMPLE}) == {"order": fenced(mermaid(SAMPLE, "Order"))}


def test_the_script_redraws_a_file_and_check_catches_a_stale_one(tmp_path, monkeypatch):
    from domain import lifecycle

    for table in ("ORDER_MOVES", "SHIPMENT_MOVES", "RETURN_MOVES"):
        monkeypatch.setattr(lifecycle, table, SAMPLE, raising=False)
    doc = tmp_path / "architecture.md"
    doc.write_text(
        DOCUMENT
        + "".join(f"{markers(name)[0]}\nold\n{markers(name)[1]}\n" for name in ("shipment", "return")),
        encoding="utf-8",
    )
    assert main(["--check", str(doc)]) == 1
    assert main(["--write", str(doc)]) == 0
    assert main(["--check", str(doc)]) == 0
    assert block_of(doc.read_text(encoding="utf-8"), "shipment") == fenced(mermaid(SAMPLE, "Shipment (one per parcel)"))


def test_a_move_to_itself_is_drawn_and_makes_a_state_neither_a_start_nor_an_end():
    table = {Door.SHUT: frozenset({Door.SHUT, Door.OPEN}), Door.OPEN: frozenset({Door.OPEN})}
    assert mermaid(table, "Door").splitlines()[4:] == [
        "    [*] --> shut",
        "    shut --> shut",
        "    shut --> open",
        "    open --> open",
        "    open --> [*]",
    ]
