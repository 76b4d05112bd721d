"""docs/architecture.md stays true to the code: its state machines are the tables the door checks,
drawn by domain/lifecycle_diagram.py; it lists the requirements R1-R15 the code's tags point at; and
the links between the docs land on headings that exist."""

import re
from pathlib import Path

import pytest

from domain import lifecycle
from domain.lifecycle_diagram import DIAGRAMS, block_of, fenced, markers, mermaid

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "table", "title"), DIAGRAMS, ids=[d[0] for d in DIAGRAMS])
def test_each_state_machine_has_its_markers(name, table, title):
    opening, closing = markers(name)
    text = _text(ARCHITECTURE)
    assert text.count(opening) == 1 and text.count(closing) == 1
    assert text.index(opening) < text.index(closing)


@pytest.mark.parametrize(("name", "table", "title"), DIAGRAMS, ids=[d[0] for d in DIAGRAMS])
def test_each_state_machine_is_drawn_from_the_table_the_door_checks(name, table, title):
    moves = getattr(lifecycle, table)
    assert block_of(_text(ARCHITECTURE), name) == fenced(mermaid(moves, title)), (
        "stale diagram: run `python -m domain.lifecycle_diagram --write docs/architecture.md`"
    )


def test_every_requirement_the_code_tags_is_written_out():
    text = _text(ARCHITECTURE)
    written = set(re.findall(r"^\| (R\d+) \| \S", text, flags=re.MULTILINE))
    assert written == {f"R{n}" for n in range(1, 16)}
    tagged = set()
    for folder in ("api", "activities", "adapters", "domain", "store", "workflows"):
        for path in (ROOT / folder).rglob("*.py"):
            tagged |= set(re.findall(r"\bR(\d{1,2})\b", _text(path)))
    assert tagged  # the code does tag requirements
    assert {f"R{n}" for n in tagged} <= written


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    return {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", _text(path), flags=re.MULTILINE)}


def test_github_anchor_matches_how_github_names_headings():
    assert github_anchor("Requirements (R1-R15)") == "requirements-r1-r15"
    assert github_anchor("Catalog, warehouses and inventory") == "catalog-warehouses-and-inventory"


@pytest.mark.parametrize("doc", ["architecture.md", "api.md"])
def test_links_between_the_docs_land_on_existing_headings(doc):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _text(DOCS / doc)):
        if re.match(r"[a-z]+:", target):
            continue  # an outside address
        file_part, _, anchor = target.partition("#")
        linked = (DOCS / file_part) if file_part else DOCS / doc
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors_of(linked)):
            broken.append(target)
    assert broken == []


def test_the_walk_names_only_files_that_exist():
    """A newcomer follows one order through the files the walk names: each must be there."""
    text = _text(ARCHITECTURE)
    walk = text[text.index("## One order, file by file") :]
    walk = walk[: walk.index("\n## ", 1)]
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_]+)*(?:\.py|/))`", walk))
    assert len(named) > 15
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
