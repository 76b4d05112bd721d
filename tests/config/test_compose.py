"""docker-compose.yml is safe by default: nothing but the API is published, and the keys and
secrets are required (no default), so `docker compose up` stops without them.

No Docker engine runs here: the file is read as YAML (compose's `<<` merge included) and its
`${VAR:?message}` references are checked as compose interpolates them.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import DEV_API_KEYS, DEV_CARRIER_SECRETS, DEV_KEYS, DEV_SECRETS

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED = ("OMS_API_KEYS", "OMS_CARRIER_SECRETS", "OMS_CODEC_KEYS", "OMS_CONSOLE_SECRET")
OURS = ("migrate", "api", "worker")  # the services that run the orderflow image


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_only_the_api_is_published(compose: dict[str, Any]) -> None:
    published = {name: service["ports"] for name, service in compose["services"].items() if service.get("ports")}
    by_default = {name: ports for name, ports in published.items() if not compose["services"][name].get("profiles")}
    assert by_default == {"api": ["8000:8000"]}
    assert "temporal" not in published, "Temporal's gRPC port has no authentication"
    # The Temporal UI (no authentication) starts only on request, and on the host's loopback only.
    assert compose["services"]["temporal-ui"]["profiles"] == ["ui"]
    for name, ports in published.items():
        if name != "api":
            assert all(str(port).startswith("127.0.0.1:") for port in ports), (name, ports)


@pytest.mark.parametrize("variable", REQUIRED)
def test_keys_and_secrets_are_required_without_a_default(compose: dict[str, Any], variable: str) -> None:
    for name in OURS:
        value = compose["services"][name]["environment"][variable]
        # `${VAR:?message}`: compose refuses to start when VAR is unset or empty.
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", value), (name, value)
    # ...and nowhere in the file is it given a fallback (`${VAR:-x}` / `${VAR-x}`).
    assert not re.search(rf"\$\{{{variable}:?-", COMPOSE.read_text())


def test_no_development_key_or_secret_appears(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for secret in (*DEV_KEYS, *DEV_SECRETS, DEV_API_KEYS, DEV_CARRIER_SECRETS):
        assert secret not in text, secret
    for name in OURS:
        assert "OMS_DEV_STACK" not in compose["services"][name]["environment"]


def test_the_image_sets_no_key_and_no_dev_switch() -> None:
    """The Dockerfile's ENV could quietly undo the above: it sets none of the keys or secrets,
    and never OMS_DEV_STACK (which would let the image run on the development defaults)."""
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    for variable in (*REQUIRED, "OMS_DEV_STACK"):
        assert f"{variable}=" not in dockerfile, variable
    for secret in (*DEV_KEYS, *DEV_SECRETS):
        assert secret not in dockerfile, secret
