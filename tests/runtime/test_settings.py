"""Configuration is read only from OMS_* variables; durations accept short forms and ISO-8601."""

from datetime import timedelta

import pytest

from runtime.settings import DEV_API_KEYS, Settings, parse_duration


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OMS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("30d", timedelta(days=30)),
        ("PT2H", timedelta(hours=2)),
        ("P1DT30M", timedelta(days=1, minutes=30)),
        ("90", timedelta(seconds=90)),
    ],
)
def test_durations_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv("OMS_SLA_PICKING", raw)
    monkeypatch.setenv("OMS_RETURN_WINDOW", raw)
    settings = Settings()
    assert settings.sla_picking == expected
    assert settings.return_window == expected


def test_bad_duration_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_HOLD_TIMEOUT", "two days")
    with pytest.raises(ValueError, match="hold_timeout"):
        Settings()


def test_parse_duration_leaves_other_values_to_pydantic() -> None:
    assert parse_duration("PT5M") == "PT5M"
    assert parse_duration(5) == 5
    assert parse_duration(" 5 m ") == timedelta(minutes=5)


def test_defaults_are_the_embedded_stack() -> None:
    settings = Settings()
    assert settings.database_url is None
    assert settings.temporal_address is None
    assert settings.temporal_target == "127.0.0.1:7233"
    assert settings.simulator is True
    assert settings.return_window == timedelta(days=30)
    assert settings.hold_timeout == timedelta(hours=48)
    assert settings.api_keys == DEV_API_KEYS


@pytest.mark.parametrize(
    ("raw", "expected"), [("off", False), ("on", True), ("false", False), ("1", True)]
)
def test_simulator_switch(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("OMS_SIMULATOR", raw)
    assert Settings().simulator is expected


def test_temporal_target_prefers_configured_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMS_TEMPORAL_PORT", "17233")
    assert Settings().temporal_target == "127.0.0.1:17233"
    monkeypatch.setenv("OMS_TEMPORAL_ADDRESS", "temporal:7233")
    assert Settings().temporal_target == "temporal:7233"


def test_api_key_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OMS_API_KEYS",
        " shop:client:k-1 , ops-team:ops:k:with:colons,, wh:warehouse:k-3",
    )
    assert Settings().api_key_table() == {
        "k-1": ("shop", "client"),
        "k:with:colons": ("ops-team", "ops"),
        "k-3": ("wh", "warehouse"),
    }


def test_dev_key_table_has_every_role() -> None:
    roles = {role for _name, role in Settings().api_key_table().values()}
    assert roles == {"client", "ops", "warehouse"}


def test_carrier_secret_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_CARRIER_SECRETS", "swift:s3cr:et, economy:e")
    assert Settings().carrier_secret_table() == {"swift": "s3cr:et", "economy": "e"}


def test_simulator_speed_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_SIMULATOR_SPEED", "0")
    with pytest.raises(ValueError, match="simulator_speed"):
        Settings()
