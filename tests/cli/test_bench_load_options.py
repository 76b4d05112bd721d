"""`oms bench`'s load-mode options reach the harness as asked (issue 18): the rates parsed, the
wake-up's default size and return window, one mode per run."""

from typing import Any

import pytest
from typer.testing import CliRunner

import bench.run
from cli import app


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    monkeypatch.setattr(bench.run, "run_bench", lambda options: seen.append(options))
    return seen


def test_rates_and_duration(captured: list[Any]) -> None:
    result = CliRunner().invoke(app, ["bench", "--rate", "0.5,1,2", "--duration", "30", "--max-in-flight", "16"])
    assert result.exit_code == 0, result.output
    (options,) = captured
    assert options.rates == (0.5, 1.0, 2.0) and options.duration == 30.0 and options.max_in_flight == 16


def test_wake_together_defaults_to_2000_orders_and_a_window_longer_than_the_parking(captured: list[Any]) -> None:
    result = CliRunner().invoke(app, ["bench", "--wake-together"])
    assert result.exit_code == 0, result.output
    (options,) = captured
    assert options.wake_together and options.park == 2000
    assert options.return_window == "2060s"


def test_burst_and_bad_rates(captured: list[Any]) -> None:
    assert CliRunner().invoke(app, ["bench", "--burst", "60"]).exit_code == 0
    assert captured[0].burst == 60 and captured[0].burst_clients == 200
    assert CliRunner().invoke(app, ["bench", "--rate", "0"]).exit_code != 0
    assert CliRunner().invoke(app, ["bench", "--rate", "1", "--burst", "5"]).exit_code != 0
    assert len(captured) == 1
