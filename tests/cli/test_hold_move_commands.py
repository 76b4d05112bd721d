"""`oms ops hold|release|move` send the actions the API takes (docs/api.md "Resolving what goes
wrong"), over a recording transport instead of a running API."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from typer.testing import CliRunner

from cli import app
from cli.ops import OpsApi

ORDER = {
    "order_id": "ORD-9",
    "status": "fulfilling",
    "needs_attention": False,
    "attention_reason": None,
    "available_actions": ["note", "release"],
    "hold": {"reason": "wrong colour?", "since": "2026-12-01T02:00:00Z", "by": "night"},
    "customer": {"id": "cust-1", "name": "Li Lei"},
    "channel": "web",
    "currency": "CNY",
    "totals": {"grand_total": "210.00"},
    "payment": {"status": "captured", "method": "card"},
    "shipping_address": {
        "name": "Li Lei",
        "line1": "1 Road",
        "city": "Hangzhou",
        "postal_code": "310000",
        "country": "CN",
    },
    "shipments": [],
    "created_at": "2026-12-01T01:59:00Z",
    "updated_at": "2026-12-01T02:00:00Z",
    "workflow_id": "order-ORD-9",
    "timeline": [],
}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, object]]]:
    """The (path, body) of every request the CLI makes; each answered with ORDER."""
    requests: list[tuple[str, dict[str, object]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append((request.url.path, json.loads(request.content or b"{}")))
        return httpx.Response(200, json=ORDER)

    @contextmanager
    def connect(base_url: str, api_key: str | None, timeout: float = 30.0) -> Iterator[OpsApi]:
        with httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer)) as http:
            yield OpsApi(http)

    monkeypatch.setattr(OpsApi, "connect", connect)
    return requests


def test_hold_release_and_move_post_their_actions(sent: list[tuple[str, dict[str, object]]]) -> None:
    runner = CliRunner()
    held = runner.invoke(app, ["ops", "hold", "ORD-9", "--note", "wrong colour?"])
    released = runner.invoke(app, ["ops", "release", "ORD-9"])
    moved = runner.invoke(
        app,
        [
            "ops",
            "move",
            "ORD-9",
            "--shipment",
            "ORD-9-S1",
            "--warehouse",
            "WH-WEST",
            "--note",
            "east flooded",
        ],
    )

    assert [r.exit_code for r in (held, released, moved)] == [0, 0, 0], (
        held.output + released.output + moved.output
    )
    assert "hold: order ORD-9 is now fulfilling" in held.output
    assert sent == [
        ("/ops/orders/ORD-9/actions", {"action": "hold", "params": {}, "note": "wrong colour?"}),
        ("/ops/orders/ORD-9/actions", {"action": "release", "params": {}}),
        (
            "/ops/orders/ORD-9/actions",
            {
                "action": "move",
                "params": {"shipment_id": "ORD-9-S1", "warehouse": "WH-WEST"},
                "note": "east flooded",
            },
        ),
    ]


def test_hold_without_a_note_and_move_without_a_warehouse_are_refused_before_any_request(
    sent: list[tuple[str, dict[str, object]]],
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["ops", "hold", "ORD-9"]).exit_code == 2
    assert runner.invoke(app, ["ops", "move", "ORD-9", "--shipment", "ORD-9-S1"]).exit_code == 2
    assert sent == []
