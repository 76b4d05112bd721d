"""Encryption of every Temporal payload (AES-256-GCM), so that e-mail addresses, phone numbers and
postal addresses never sit readable in Temporal's history, its database or its UI.

Every payload is encrypted, not only the fields holding personal data: the order model travels
whole through workflow inputs, activity results, updates and queries, and choosing fields would be
one forgotten field away from a leak. Failure messages and stack traces are moved into an encoded
payload too (`DefaultFailureConverterWithEncodedAttributes`), because error texts may quote input.

Keys come from `OMS_CODEC_KEYS` as `kid:base64key` entries; the first one encrypts, all of them
decrypt, so a key is rotated by putting a new entry first and dropping the old one only once no
open workflow's history still needs it. Each encrypted payload names its key id in its metadata
and binds it as associated data, so a payload cannot be passed off as encrypted under another key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
    pydantic_data_converter,
)
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)

from domain.models import STORED_DATA

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

# The metadata Temporal's own encryption samples use, so their tools recognise our payloads.
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12  # the size GCM is specified for; a fresh random nonce per payload
TAG_BYTES = 16  # GCM's authentication tag, at the end of the sealed bytes
AES_KEY_BYTES = (16, 24, 32)
# Where `oms dev` keeps the key it generated, so that a restart still decodes old histories.
DEV_KEY_FILE = "codec-keys"


class PayloadDecryptionError(Exception):
    """A payload marked as ours could not be decrypted: unknown key id, or it was altered."""


@dataclass(frozen=True)
class CodecKeys:
    """The key ring: `keys` by key id, and the id of the key that encrypts new payloads."""

    encrypting: str
    keys: Mapping[str, bytes] = dataclasses.field(repr=False)


def parse_codec_keys(text: str) -> CodecKeys:
    """Parse `OMS_CODEC_KEYS`: comma-separated `kid:base64key` entries, the first one encrypting.

    Keys are AES keys of 16, 24 or 32 bytes in standard base64. Errors name the entry by its
    position and key id, never by the key.
    """
    keys: dict[str, bytes] = {}
    for position, raw in enumerate(filter(None, (e.strip() for e in text.split(","))), start=1):
        kid, sep, encoded = raw.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise ValueError(f"codec key entry {position} is not kid:base64key")
        if kid in keys:
            raise ValueError(f"codec key id {kid!r} appears twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise ValueError(f"codec key {kid!r} is not valid base64") from None
        if len(key) not in AES_KEY_BYTES:
            raise ValueError(f"codec key {kid!r} has {len(key)} bytes; AES needs 16, 24 or 32")
        keys[kid] = key
    if not keys:
        raise ValueError("no codec keys given")
    return CodecKeys(encrypting=next(iter(keys)), keys=keys)


def format_codec_key(kid: str, key: bytes) -> str:
    """One `kid:base64key` entry of `OMS_CODEC_KEYS`."""
    return f"{kid}:{base64.b64encode(key).decode('ascii')}"


def new_codec_key(kid: str) -> str:
    """A fresh 256-bit key as an `OMS_CODEC_KEYS` entry."""
    return format_codec_key(kid, AESGCM.generate_key(bit_length=256))


class EncryptionCodec(PayloadCodec):
    """AES-GCM over each whole serialized payload (its metadata included, so even the encoding
    and message type are hidden). Decoding passes through payloads that are not ours, so history
    written before encryption was turned on still reads."""

    def __init__(self, keys: CodecKeys) -> None:
        self._kid = keys.encrypting
        self._kid_bytes = keys.encrypting.encode()
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._kid].encrypt(nonce, payload.SerializeToString(), self._kid_bytes)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: self._kid_bytes}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid_bytes = payload.metadata.get(KEY_ID_METADATA, b"")
        kid = kid_bytes.decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise PayloadDecryptionError(f"payload encrypted with unknown codec key {kid!r}")
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            # Shorter than what encrypt writes: AES-GCM would refuse the nonce with a ValueError
            # (the codec server answered 500 to such a payload).
            raise PayloadDecryptionError(
                f"payload marked as encrypted with codec key {kid!r} has {len(payload.data)} bytes, "
                f"fewer than its nonce and tag ({NONCE_BYTES + TAG_BYTES})"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, kid_bytes)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with codec key {kid!r} failed authentication: altered, or not made with this key"
            ) from None
        decrypted = Payload()
        try:
            decrypted.ParseFromString(plain)
        except DecodeError:  # authenticated, so made with our key, but not a payload: never ours
            raise PayloadDecryptionError(f"payload decrypted with codec key {kid!r} is not a Temporal payload") from None
        return decrypted


class StoredDataJSONConverter(PydanticJSONPlainPayloadConverter):
    """Temporal's pydantic JSON converter, validating in the STORED_DATA context: every payload it
    reads is one we wrote (a workflow input, a result, a signal), so intake-only rules such as the
    text hygiene of domain.models.CleanText do not run again, and an order accepted before a rule
    was added keeps replaying."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        adapter: TypeAdapter[Any] = self._type_adapter(type_hint if type_hint is not None else Any)
        return adapter.validate_json(payload.data, context=STORED_DATA)


@final
class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """Temporal's pydantic payload converter, built once per process.

    temporalio (1.35) builds a new payload converter for each workflow activation and each
    workflow instance (`payload_converter_class()`), and a new pydantic converter starts with an
    empty cache of pydantic TypeAdapters, so every activation built its converters and adapters
    again: about 7 % of the worker's CPU under the bench (docs/performance.md). Apart from that
    cache (keyed by type, thread-safe) the converter keeps no state, and with `domain` and
    pydantic passed through the sandbox the types are the same objects everywhere, so one shared
    instance gives exactly the answers a fresh one would.
    """

    _shared: ClassVar[SharedPydanticPayloadConverter | None] = None

    def __new__(cls) -> SharedPydanticPayloadConverter:
        shared = cls._shared
        if shared is None:
            # Two threads racing here build two; one is kept, both convert alike.
            shared = super().__new__(cls)
            json_converter = StoredDataJSONConverter()
            CompositePayloadConverter.__init__(
                shared,
                *(
                    json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                    for c in DefaultPayloadConverter.default_encoding_payload_converters
                ),
            )
            cls._shared = shared
        return shared

    def __init__(self) -> None:
        """Built once, in `__new__`."""


# pydantic_data_converter with the shared payload converter.
shared_pydantic_data_converter = dataclasses.replace(
    pydantic_data_converter, payload_converter_class=SharedPydanticPayloadConverter
)


def data_converter_for(keys: CodecKeys | None) -> DataConverter:
    """The pydantic data converter (docs/architecture.md, "Rules that keep the rooms clear"), with
    the codec and encoded failure messages when there are keys."""
    if keys is None:
        return shared_pydantic_data_converter
    return dataclasses.replace(
        shared_pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def codec_keys_of(settings: Settings) -> CodecKeys | None:
    """The key ring `OMS_CODEC_KEYS` configures, or None (payloads then stay plaintext)."""
    if not settings.codec_keys:
        return None
    return parse_codec_keys(settings.codec_keys.get_secret_value())


def data_converter_of(settings: Settings) -> DataConverter:
    keys = codec_keys_of(settings)
    if keys is None:
        log.warning("OMS_CODEC_KEYS is not set: Temporal payloads (personal data included) are stored unencrypted")
    return data_converter_for(keys)


def dev_codec_keys(data_dir: Path) -> str:
    """The `OMS_CODEC_KEYS` of `oms dev`: read from `<data_dir>/codec-keys`, or generated there
    (owner-only) on the first start, so that a restart still decodes the histories it wrote."""
    path = data_dir / DEV_KEY_FILE
    if path.is_file():
        text = path.read_text().strip()
        parse_codec_keys(text)  # a damaged file fails here, not at the first payload
        return text
    text = new_codec_key("dev-1")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return text
