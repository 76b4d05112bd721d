"""The state machines of docs/architecture.md, drawn from the tables the code checks.

`domain/lifecycle.py` holds the allowed status moves (ORDER_MOVES, SHIPMENT_MOVES, RETURN_MOVES) and the
workflows' door refuses any other move. The diagrams in docs/architecture.md are rendered from those same
tables, so a picture can never show a move the code refuses or hide one it allows:
tests/unit/test_architecture_doc.py fails when a block is stale, and

    python -m domain.lifecycle_diagram --write docs/architecture.md

rewrites every block between its markers (`<!-- state-machine:order -->` ... `<!-- /state-machine:order -->`).

Rendering is pure and deterministic: states appear in the order their enum declares them (the order of the
lifecycle), so the same table always gives the same text, byte for byte.
"""

import argparse
import re
import sys
from collections.abc import Hashable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S", bound=Hashable)

# The diagrams docs/architecture.md carries: (marker name, table name in domain.lifecycle, title).
DIAGRAMS: tuple[tuple[str, str, str], ...] = (
    ("order", "ORDER_MOVES", "Order"),
    ("shipment", "SHIPMENT_MOVES", "Shipment (one per parcel)"),
    ("return", "RETURN_MOVES", "Return"),
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def state_name(state: Hashable) -> str:
    """The name a state has in the diagram: an enum's value (the status string of the API)."""
    name = str(state.value) if isinstance(state, Enum) else str(state)
    if not _NAME.fullmatch(name):
        raise ValueError(f"state {name!r} is not a plain name a diagram can carry")
    return name


def _ordered(states: set[S]) -> list[S]:
    """Declaration order for enum members (the lifecycle's own order), name order otherwise."""

    def key(state: S) -> tuple[int, str]:
        if isinstance(state, Enum):
            return (list(type(state)).index(state), state_name(state))
        return (0, state_name(state))

    return sorted(states, key=key)


def mermaid(moves: Mapping[S, frozenset[S]], title: str) -> str:
    """A Mermaid stateDiagram-v2 of an allowed-moves table.

    A state no other state moves to is where the machine starts (`[*] --> state`); a state with no
    move out to another state is where it ends (`state --> [*]`). A move from a state to itself is
    drawn like any other, and makes it neither. Every line ends with a newline."""
    states = set(moves) | {target for targets in moves.values() for target in targets}
    ordered = _ordered(states)
    entered = {target for source, targets in moves.items() for target in targets if target != source}
    lines = ["---", f"title: {title}", "---", "stateDiagram-v2"]
    lines += [f"    [*] --> {state_name(s)}" for s in ordered if s not in entered]
    for source in ordered:
        for target in _ordered(set(moves.get(source, frozenset()))):
            lines.append(f"    {state_name(source)} --> {state_name(target)}")
    lines += [f"    {state_name(s)} --> [*]" for s in ordered if not moves.get(s, frozenset()) - {s}]
    return "\n".join(lines) + "\n"


def fenced(diagram: str) -> str:
    """A diagram as the Markdown code block GitHub renders."""
    return f"```mermaid\n{diagram}```\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- state-machine:{name} -->", f"<!-- /state-machine:{name} -->"


def block_of(document: str, name: str) -> str:
    """The text between a diagram's two markers (without the newline after the opening one)."""
    opening, closing = markers(name)
    start = document.index(opening) + len(opening) + 1
    return document[start : document.index(closing, start)]


def with_block(document: str, name: str, content: str) -> str:
    """The document with one diagram's block replaced; everything outside the markers unchanged."""
    opening, closing = markers(name)
    start = document.index(opening) + len(opening) + 1
    end = document.index(closing, start)
    return document[:start] + content + document[end:]


def rendered_blocks(tables: Mapping[str, Mapping[Any, frozenset[Any]]]) -> dict[str, str]:
    """Marker name -> the block to place there, for each table given by its name in domain.lifecycle."""
    return {name: fenced(mermaid(tables[table], title)) for name, table, title in DIAGRAMS if table in tables}


def _lifecycle_tables() -> dict[str, Mapping[Any, frozenset[Any]]]:
    from domain import lifecycle

    return {table: getattr(lifecycle, table) for _, table, _ in DIAGRAMS if hasattr(lifecycle, table)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m domain.lifecycle_diagram", description="Draw the state machines into a Markdown file."
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE", type=Path, help="rewrite the diagram blocks of FILE")
    mode.add_argument("--check", metavar="FILE", type=Path, help="exit 1 if a diagram block of FILE is stale")
    args = parser.parse_args(argv)
    path: Path = args.write or args.check
    tables = _lifecycle_tables()
    missing = [table for _, table, _ in DIAGRAMS if table not in tables]
    if missing:
        print(f"domain.lifecycle has no {', '.join(missing)}: nothing to draw", file=sys.stderr)
        return 1
    document = path.read_text(encoding="utf-8")
    updated = document
    for name, content in rendered_blocks(tables).items():
        updated = with_block(updated, name, content)
    if args.check:
        if updated != document:
            print(f"{path}: a state-machine block is stale; run with --write", file=sys.stderr)
            return 1
        return 0
    if updated != document:
        path.write_text(updated, encoding="utf-8")
        print(f"{path}: state machines redrawn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
