"""One place for the timeline's event names: domain/events.py.

Every name is a constant there, each distinct; no other Python module (migrations aside: they
are history) spells one as a string literal, so renaming or adding one happens in one place.
"""

import ast
from pathlib import Path

from domain import events
from domain.disclosure import CLIENT_DETAIL

ROOT = Path(__file__).resolve().parents[2]
NAMES = {value: name for name, value in vars(events).items() if name.isupper() and isinstance(value, str)}


def test_event_names_are_distinct_and_dotted() -> None:
    constants = [v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)]
    assert len(constants) == len(set(constants))
    assert all("." in name for name in constants)


def test_no_module_spells_an_event_name_but_domain_events() -> None:
    offenders = []
    for folder in ("workflows", "activities", "api", "store", "domain", "adapters", "runtime"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "domain" / "events.py" or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, "use domain.events: " + ", ".join(offenders)


def test_what_clients_may_read_is_keyed_by_known_events() -> None:
    assert set(CLIENT_DETAIL) <= set(NAMES)
