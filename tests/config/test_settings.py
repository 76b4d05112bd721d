"""Configuration is read only from OMS_* variables; durations accept short forms and ISO-8601."""

from datetime import timedelta

import pytest

from config.settings import (
    DEV_API_KEYS,
    DEV_CARRIER_SECRETS,
    MIN_API_KEY_LENGTH,
    Settings,
    api_base_url,
    first_key_with_role,
    parse_duration,
)


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
    assert settings.api_keys.get_secret_value() == DEV_API_KEYS
    assert settings.carrier_secrets.get_secret_value() == DEV_CARRIER_SECRETS
    assert settings.dev_stack is False  # the dev stack says so itself (OMS_DEV_STACK=1)


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
        " shop:client:k-1-of-24-characters-long , ops-team:ops:k:with:colons:24-characters,,"
        " wh:warehouse:k-3-of-24-characters-long",
    )
    assert Settings().api_key_table() == {
        "k-1-of-24-characters-long": ("shop", "client"),
        "k:with:colons:24-characters": ("ops-team", "ops"),
        "k-3-of-24-characters-long": ("wh", "warehouse"),
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


# --- API key length and secrets kept out of sight ---------------------------------------------------

SHORT_KEY = "short-but-not-24-chars"  # 22 characters
LONG_KEY = "x" * MIN_API_KEY_LENGTH


def test_a_short_api_key_is_refused_by_name_never_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(SHORT_KEY) < MIN_API_KEY_LENGTH
    monkeypatch.setenv("OMS_API_KEYS", f"good:ops:{LONG_KEY},shop-a:client:{SHORT_KEY}")
    with pytest.raises(ValueError, match="api_keys") as raised:
        Settings()
    message = str(raised.value)
    assert "'shop-a' is 22 characters long; use at least 24" in message
    assert SHORT_KEY not in message and LONG_KEY not in message  # the input is never quoted


def test_a_key_of_the_minimum_length_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_API_KEYS", f"good:ops:{LONG_KEY}")
    assert Settings().api_key_table() == {LONG_KEY: ("good", "ops")}


def test_a_malformed_api_keys_variable_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, it failed only when the API app was built or the first request came.
    monkeypatch.setenv("OMS_API_KEYS", f"good:boss:{LONG_KEY}")
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        Settings()


def test_digests_are_not_measured_and_the_dev_keys_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `sha256$<hex>` entry cannot be measured: accepted as given. The built-in development keys
    are exempt (public anyway; the production guard refuses them outside the dev stack)."""
    digest = "sha256$" + "ab" * 32
    monkeypatch.setenv("OMS_API_KEYS", f"hashed:ops:{digest},{DEV_API_KEYS}")
    assert [e.name for e in Settings().api_key_entries()] == ["hashed", "dev-client", "dev-ops", "dev-warehouse"]


def test_repr_and_str_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "OMS_API_KEYS": f"ops:ops:{'api-key-secret-' * 2}",
        "OMS_CARRIER_SECRETS": "swift:carrier-secret-value",
        "OMS_SMTP_PASSWORD": "smtp-password-value",
        "OMS_CONSOLE_SECRET": "console-secret-value",
        "OMS_CODEC_KEYS": "k1:Y29kZWMta2V5LXZhbHVlLTE2Ynl0ZXM=",
        "OMS_NOTIFY_WEBHOOKS": "https://hooks.example/in|webhook-secret-value",
        "OMS_DATABASE_URL": "postgresql+psycopg2://oms:database-password@db:5432/oms",
        "OMS_RISK_BLOCKLIST": "blocked-customer@example.com",  # customers' contacts, not a secret
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    # SecretStr fields show as '**********' even in a dump or an f-string.
    secret_fields = ("api_keys", "carrier_secrets", "smtp_password", "codec_keys", "notify_webhooks")
    shown = repr(settings) + str(settings) + repr(settings.model_dump(include=set(secret_fields)))
    shown += "".join(f"{getattr(settings, name)}" for name in secret_fields)
    for needle in (
        "api-key-secret",
        "carrier-secret-value",
        "smtp-password-value",
        "console-secret-value",
        "Y29kZWMta2V5",
        "webhook-secret-value",
        "database-password",
        "blocked-customer",
    ):
        assert needle not in shown, needle
    # ...while the callers still read them
    assert settings.carrier_secret_table() == {"swift": "carrier-secret-value"}
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "smtp-password-value"
    assert settings.console_secret == "console-secret-value"


def test_keys_by_role() -> None:
    k1, k2, k3, k4 = (f"k{n}-at-least-24-characters-long" for n in (1, 2, 3, 4))
    table = Settings(
        api_keys=f"a:client:{k1},b:ops:{k2},c:ops:{k3},d:warehouse:{k4}"
    ).api_key_table()
    assert first_key_with_role(table, "ops") == k2
    assert first_key_with_role(table, "warehouse") == k4
    assert first_key_with_role(table, "nobody") is None


def test_api_base_url() -> None:
    assert (
        api_base_url(Settings(api_host="0.0.0.0", api_port=9000))
        == "http://127.0.0.1:9000"
    )
    assert api_base_url(Settings(api_url="http://api:8000/")) == "http://api:8000"
