"""The API sends signals through typed handles, under the names recorded histories carry (issue 15, item 5).

A signal sent by a string name type-checks whatever the workflow calls its handler; a typed handle
(`handle.signal(ShipmentWorkflow.pick_confirmed, ...)`) breaks mypy the day the handler is renamed.
The names on the wire must not change with it: running orders and tests/histories/ know them."""

import ast
from pathlib import Path

import pytest

from workflows.returns import ReturnWorkflow
from workflows.shipment import ShipmentWorkflow

API = Path(__file__).resolve().parents[2] / "api"


def _signal_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "signal":
                calls.append((f"{path.relative_to(API.parent)}:{node.lineno}", node))
    return calls


def test_the_api_sends_signals():
    # Guards the next test against passing on nothing: the API does send its facts from outside as signals.
    assert len(_signal_calls()) >= 3


def test_every_signal_the_api_sends_names_a_workflow_handler_not_a_string():
    untyped = [
        where
        for where, call in _signal_calls()
        if not (
            call.args
            and isinstance(call.args[0], ast.Attribute)
            and isinstance(call.args[0].value, ast.Name)
            and call.args[0].value.id.endswith("Workflow")
        )
    ]
    assert untyped == [], f"signals sent by name, not by a typed handler: {untyped}"


@pytest.mark.parametrize(
    ("handler", "wire_name"),
    [
        (ShipmentWorkflow.pick_confirmed, "pick_confirmed"),
        (ShipmentWorkflow.tracking_event, "tracking_event"),
        (ReturnWorkflow.received, "received"),
    ],
)
def test_the_signals_keep_the_names_recorded_histories_carry(handler, wire_name):
    assert getattr(handler, "__temporal_signal_definition").name == wire_name
