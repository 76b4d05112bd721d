"""The payload codec on its own: encryption, key rotation, tampering, key configuration, `oms dev`'s key."""

import base64
import dataclasses
import stat
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from config.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    SharedPydanticPayloadConverter,
    data_converter_for,
    dev_codec_keys,
    format_codec_key,
    parse_codec_keys,
)
from config.settings import Settings
from config.temporal import dev_codec_access, dev_server_command, is_loopback, ui_codec_endpoint
from domain.enums import ShippingSpeed
from domain.models import RateQuote

OLD = format_codec_key("2025-a", b"\x01" * 32)
NEW = format_codec_key("2026-b", b"\x02" * 32)
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email":"li.lei@example.com"}')


def codec(text: str) -> EncryptionCodec:
    return EncryptionCodec(parse_codec_keys(text))


async def test_a_payload_is_encrypted_under_the_first_key_and_decrypts_back() -> None:
    [sealed] = await codec(f"{NEW},{OLD}").encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"2026-b"
    assert b"li.lei" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert await codec(f"{NEW},{OLD}").decode([sealed]) == [PLAIN]


async def test_two_encryptions_of_one_payload_differ() -> None:
    first, second = await codec(NEW).encode([PLAIN, PLAIN])
    assert first.data != second.data  # a fresh nonce each time


async def test_after_rotation_old_payloads_still_decrypt_and_new_ones_use_the_new_key() -> None:
    [under_old] = await codec(OLD).encode([PLAIN])
    rotated = codec(f"{NEW},{OLD}")
    assert await rotated.decode([under_old]) == [PLAIN]
    [under_new] = await rotated.encode([PLAIN])
    assert under_new.metadata[KEY_ID_METADATA] == b"2026-b"
    with pytest.raises(PayloadDecryptionError, match="unknown codec key '2026-b'"):
        await codec(OLD).decode([under_new])  # the old ring cannot read what the new key wrote


async def test_a_tampered_ciphertext_fails_clearly() -> None:
    [sealed] = await codec(NEW).encode([PLAIN])
    flipped = bytearray(sealed.data)
    flipped[-20] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))
    with pytest.raises(PayloadDecryptionError, match="'2026-b' failed authentication"):
        await codec(NEW).decode([tampered])


async def test_the_key_id_cannot_be_swapped_for_another_key_of_the_ring() -> None:
    # Both keys equal: only the key id, bound as associated data, tells the payloads apart.
    same = base64.b64encode(b"\x03" * 32).decode()
    ring = codec(f"a:{same},b:{same}")
    [sealed] = await ring.encode([PLAIN])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"b"}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await ring.decode([relabelled])


async def test_payloads_that_are_not_encrypted_pass_through_decoding() -> None:
    assert await codec(NEW).decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no codec keys"),
        ("nokey", "entry 1 is not kid:base64key"),
        (":AAAA", "entry 1 is not kid:base64key"),
        ("k1:not base64!", "'k1' is not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "'k1' has 5 bytes"),
        (f"{NEW},{NEW}", "'2026-b' appears twice"),
    ],
)
def test_bad_key_configuration_is_refused_without_quoting_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_codec_keys(text)
    assert NEW.split(":")[1] not in str(refused.value)


def test_the_first_key_encrypts() -> None:
    keys = parse_codec_keys(f" {NEW} , {OLD} ,")
    assert keys.encrypting == "2026-b"
    assert set(keys.keys) == {"2026-b", "2025-a"}
    assert "\\x02" not in repr(keys)  # keys never end up in logs through repr


def test_oms_dev_generates_one_private_key_and_keeps_it(tmp_path: Path) -> None:
    first = dev_codec_keys(tmp_path)
    assert parse_codec_keys(first).encrypting == "dev-1"
    assert len(parse_codec_keys(first).keys["dev-1"]) == 32
    assert stat.S_IMODE((tmp_path / "codec-keys").stat().st_mode) == 0o600
    assert dev_codec_keys(tmp_path) == first  # a restart reads the same key


def test_the_dev_ui_is_pointed_at_our_codec_endpoint(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    cmd = dev_server_command(settings, codec_endpoint="http://127.0.0.1:8000/codec")
    assert cmd[cmd.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8000/codec"
    assert "--ui-codec-endpoint" not in dev_server_command(settings, headless=True, codec_endpoint="x")


def test_the_ui_calls_a_local_codec_endpoint_at_localhost() -> None:
    """The console's codec pass is a cookie for the host name it was set on (the console links to
    the UI at localhost), so the UI must call the codec server at localhost too."""
    assert ui_codec_endpoint(Settings(api_port=8123)) == "http://localhost:8123/codec"
    assert ui_codec_endpoint(Settings(api_host="0.0.0.0")) == "http://localhost:8000/codec"
    assert ui_codec_endpoint(Settings(api_host="10.0.0.5")) == "http://10.0.0.5:8000/codec"
    assert ui_codec_endpoint(Settings(api_url="https://oms.example/")) == "https://oms.example/codec"


def test_the_codec_origins_default_to_the_dev_ui() -> None:
    assert Settings(temporal_ui_port=9999).codec_allowed_origins() == [
        "http://localhost:9999",
        "http://127.0.0.1:9999",
    ]
    assert Settings(codec_cors_origins="https://ui.example/, https://b.example").codec_allowed_origins() == [
        "https://ui.example",
        "https://b.example",
    ]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
        ("LocalHost", True), ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False), ("::", False), ("", False), (None, False), ("10.0.0.5", False),
        ("::ffff:10.0.0.5", False), ("localhost.evil.example", False), ("oms.example", False),
    ],
)
def test_what_counts_as_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_oms_dev_opens_the_codec_to_its_own_ui_only_on_loopback() -> None:
    assert dev_codec_access(Settings(), started_temporal=True) == "loopback-open"
    assert dev_codec_access(Settings(api_host="localhost"), started_temporal=True) == "loopback-open"
    # Listening beyond this machine, or beside a Temporal (and UI) it did not start: as everywhere.
    assert dev_codec_access(Settings(api_host="0.0.0.0"), started_temporal=True) == "authenticated"
    assert dev_codec_access(Settings(), started_temporal=False) == "authenticated"


def test_the_codec_access_policy_is_authenticated_unless_set_and_only_a_known_value() -> None:
    assert Settings().codec_access == "authenticated"
    assert Settings(codec_access="loopback-open").codec_access == "loopback-open"
    with pytest.raises(ValidationError, match="codec_access"):
        Settings(codec_access="open")


def test_the_converters_the_sdk_builds_per_activation_share_one_pydantic_converter_and_its_adapters() -> None:
    # The SDK rebuilds the data converter per workflow activation (a dataclass copy, which makes
    # a new payload converter); ours must then reuse the one converter and its TypeAdapter cache.
    first, second = (dataclasses.replace(data_converter_for(None)) for _ in range(2))
    shared = SharedPydanticPayloadConverter()
    assert first.payload_converter._inner_payload_converter is shared  # type: ignore[attr-defined]
    assert second.payload_converter._inner_payload_converter is shared  # type: ignore[attr-defined]
    adapters = shared.converters[b"json/plain"]._type_adapter

    quote = RateQuote(
        carrier="SF", service=ShippingSpeed.STANDARD, price=Decimal("12.50"), transit_days=2, promised_by=date(2026, 12, 1)
    )
    [payload] = first.payload_converter.to_payloads([quote])
    assert payload == pydantic_data_converter.payload_converter.to_payloads([quote])[0]
    first.payload_converter.from_payloads([payload], [RateQuote])
    hits = adapters.cache_info().hits
    [decoded] = second.payload_converter.from_payloads([payload], [RateQuote])
    assert decoded == quote
    assert adapters.cache_info().hits == hits + 1  # the second converter used the first one's adapter
