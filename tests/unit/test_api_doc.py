"""docs/api.md keeps up with the app: every route the API serves is described there, and every route
it describes as served exists (the ones not built yet sit under "Planned" and are not served).

The routes are read from the app `create_app` builds; it needs no database or Temporal until its
lifespan runs, which building it does not. The ops console's HTML pages (/ops/ui) are browser pages,
not part of the HTTP contract, and are left out by name."""

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import create_app
from config.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PLANNED_HEADING = "## Planned"
CONSOLE_PREFIX = "/ops/ui"
# `METHOD /path` in backticks; a query string or a body after the path is not part of it.
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)")


def served_routes() -> set[tuple[str, str]]:
    app = create_app(Settings())
    routes = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and not context.path.startswith(CONSOLE_PREFIX):
            routes |= {(method, context.path) for method in context.methods or ()}
    # FastAPI's own pages: the OpenAPI document and its browsable form.
    routes |= {("GET", url) for url in (app.openapi_url, app.docs_url) if url}
    return routes


def documented_routes() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(routes described as served, routes described as planned)."""
    text = DOC.read_text(encoding="utf-8")
    served_part, _, planned_part = text.partition(PLANNED_HEADING)
    assert planned_part, f"docs/api.md has no '{PLANNED_HEADING}' section"
    return set(ROUTE.findall(served_part)), set(ROUTE.findall(planned_part))


@pytest.fixture(scope="module")
def served() -> set[tuple[str, str]]:
    routes = served_routes()
    assert len(routes) > 30  # the whole app, not an empty table read by mistake
    return routes


def test_every_served_route_is_in_the_doc(served):
    described, _ = documented_routes()
    missing = sorted(served - described)
    assert missing == [], f"routes the API serves that docs/api.md does not describe: {missing}"


def test_every_route_the_doc_calls_served_exists(served):
    described, _ = documented_routes()
    unknown = sorted(described - served)
    assert unknown == [], f"docs/api.md describes routes the API does not serve (planned ones go under Planned): {unknown}"


def test_planned_routes_are_not_served_yet(served):
    # Every planned route may be built (issue 17 built the last): then the section lists none.
    _, planned = documented_routes()
    built = sorted(planned & served)
    assert built == [], f"routes docs/api.md still lists as planned although they are served: {built}"


def test_every_order_status_is_in_the_doc():
    from domain.enums import OrderStatus, PaymentStatus, ReturnStatus, ShipmentStatus

    text = DOC.read_text(encoding="utf-8")
    missing = [
        f"{enum.__name__}.{status.name}"
        for enum in (OrderStatus, ShipmentStatus, ReturnStatus, PaymentStatus)
        for status in enum
        if f"`{status.value}`" not in text
    ]
    assert missing == []


def test_every_setting_is_in_the_doc():
    """Each field of the settings class is an OMS_* variable that docs/api.md's configuration names."""
    text = DOC.read_text(encoding="utf-8")
    missing = [f"OMS_{name.upper()}" for name in Settings.model_fields if f"`OMS_{name.upper()}`" not in text]
    assert missing == []


def test_every_problem_type_the_api_answers_is_in_the_doc():
    """The problem types routes name, and those of the refusals workflow validators raise."""
    root = DOC.parents[1]
    literal = {
        found
        for path in (root / "api").rglob("*.py")
        for found in re.findall(r'"(/problems/[a-z-]+)"', path.read_text(encoding="utf-8"))
    }
    refusals = {
        "/problems/" + re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
        for path in (root / "workflows").rglob("*.py")
        for name in re.findall(r'type="([A-Z][A-Za-z]+)"', path.read_text(encoding="utf-8"))
    }
    assert len(literal) > 10 and "/problems/too-late-to-cancel" in refusals
    text = DOC.read_text(encoding="utf-8")
    assert sorted(t for t in literal | refusals if f"`{t}`" not in text) == []
