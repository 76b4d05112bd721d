"""`oms api` and `oms worker` refuse the development keys and secrets outside the dev stack.

The refusals are checked through the real `oms` entry point, in a subprocess whose environment
holds no OMS_* variable but those a test sets (tests/conftest.py sets OMS_CODEC_KEYS for itself):
it must exit non-zero, say which variable to set, quote no secret and start nothing (no embedded
PostgreSQL in its data dir). The pass case is checked on the guard itself, so no server starts.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.production_guard import production_refusals
from config.settings import DEV_API_KEYS, DEV_CARRIER_SECRETS, Settings, api_key_digest

OMS = str(Path(sys.executable).parent / "oms")

OWN = {
    "OMS_API_KEYS": "shop:client:shop-key-of-more-than-24-chars,desk:ops:ops-key-of-more-than-24-chars",
    "OMS_CARRIER_SECRETS": "swift:swift-secret-of-our-own,economy:economy-secret-of-our-own",
    "OMS_CODEC_KEYS": "prod-1:W6rjhQpUOgVyNfk46Q14EmFdIlSbI8dSBoSkcLdH2OU=",
}


def run_oms(command: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OMS_")}
    return subprocess.run(
        [OMS, command],
        env={**clean, "OMS_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the exit code is what is under test
    )


@pytest.mark.parametrize("command", ["api", "worker"])
def test_dev_defaults_are_refused_by_the_real_command(command: str, tmp_path: Path) -> None:
    result = run_oms(command, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stderr
    assert f"oms {command}: refusing to start on development defaults" in said
    assert "OMS_API_KEYS still holds the development keys (dev-client, dev-ops, dev-warehouse): set your own" in said
    assert "OMS_CARRIER_SECRETS still holds the development secrets (swift, economy)" in said
    assert "OMS_CODEC_KEYS is not set" in said
    assert "secrets.token_urlsafe(32)" in said  # how to make a key
    for secret in ("dev-client-key", "dev-ops-key", "dev-swift-secret"):
        assert secret not in said + result.stdout
    assert not (tmp_path / "pg").exists(), "nothing started: not even the embedded PostgreSQL"


def test_each_remaining_development_default_is_named_alone(tmp_path: Path) -> None:
    result = run_oms("worker", tmp_path, **{**OWN, "OMS_CARRIER_SECRETS": DEV_CARRIER_SECRETS})
    assert result.returncode == 2
    assert "OMS_CARRIER_SECRETS still holds the development secrets" in result.stderr
    assert "OMS_API_KEYS" not in result.stderr and "OMS_CODEC_KEYS" not in result.stderr
    assert not (tmp_path / "pg").exists()


def test_a_too_short_key_stops_the_command_naming_the_entry(tmp_path: Path) -> None:
    result = run_oms("api", tmp_path, **{**OWN, "OMS_API_KEYS": "shop:client:tiny-key"})
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "API key 'shop' is 8 characters long" in result.stderr
    assert "tiny-key" not in result.stderr
    assert "Traceback" not in result.stderr


def test_own_keys_and_secrets_pass_the_guard() -> None:
    assert production_refusals(Settings(**{name[4:].lower(): value for name, value in OWN.items()})) == []


def test_the_dev_stack_switch_lets_the_dev_defaults_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OMS_"):
            monkeypatch.delenv(name)
    assert production_refusals(Settings()) != []
    monkeypatch.setenv("OMS_DEV_STACK", "1")  # what `oms dev` and the test/bench stacks set
    assert production_refusals(Settings()) == []


def test_a_dev_key_given_as_its_digest_is_still_refused() -> None:
    hashed = f"dev:ops:sha256${api_key_digest('dev-ops-key').hex()}"
    own = Settings(api_keys=hashed, carrier_secrets=OWN["OMS_CARRIER_SECRETS"], codec_keys=OWN["OMS_CODEC_KEYS"])
    (refusal,) = production_refusals(own)
    assert refusal.startswith("OMS_API_KEYS still holds the development keys (dev)")


def test_a_dev_key_beside_real_ones_is_refused() -> None:
    mixed = Settings(
        api_keys=f"{OWN['OMS_API_KEYS']},{DEV_API_KEYS.split(',')[1]}",
        carrier_secrets=OWN["OMS_CARRIER_SECRETS"],
        codec_keys=OWN["OMS_CODEC_KEYS"],
    )
    (refusal,) = production_refusals(mixed)
    assert refusal.startswith("OMS_API_KEYS still holds the development keys (dev-ops): set your own")


def test_a_weak_console_secret_is_refused_but_none_is_allowed() -> None:
    """Unset, each API process signs with a random key (sessions end when it restarts); set, it
    must be long enough that nobody can guess it and forge an ops session."""
    base = {name[4:].lower(): value for name, value in OWN.items()}
    assert production_refusals(Settings(**base)) == []
    (refusal,) = production_refusals(Settings(**base, console_secret="hunter2"))
    assert refusal.startswith("OMS_CONSOLE_SECRET is shorter than 32 characters")
    assert "hunter2" not in refusal
    assert production_refusals(Settings(**base, console_secret="c" * 32)) == []
