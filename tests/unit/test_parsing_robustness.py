"""What the parsers we own make of hostile bytes: a named problem, never an unexpected exception.
Covers the codec's decrypt (a payload shorter than its nonce), the marketplace CSV reader (a cell
over the csv module's field limit), and `oms import`'s reading of a file (invalid UTF-8, JSON
nested past the parser's recursion limit)."""

from pathlib import Path

import pytest
from rich.console import Console
from temporalio.api.common.v1 import Payload

from cli.importer import import_file, read_units
from config.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec, PayloadDecryptionError, parse_codec_keys
from domain.channels import ChannelFormat, ChannelFormatError, read_marketplace_csv
from tests.data.marketplace_orders import marketplace_csv

KEYS = parse_codec_keys("k1:W6rjhQpUOgVyNfk46Q14EmFdIlSbI8dSBoSkcLdH2OU=")


@pytest.mark.parametrize("size", [0, 1, 7, 11, 12, 27])
def test_a_payload_shorter_than_nonce_and_tag_is_a_decryption_error(size: int) -> None:
    codec = EncryptionCodec(KEYS)
    payload = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"}, data=b"\x00" * size)
    with pytest.raises(PayloadDecryptionError, match="fewer than its nonce and tag"):
        codec.decrypt(payload)


def test_a_sealed_payload_still_round_trips() -> None:
    codec = EncryptionCodec(KEYS)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    assert codec.decrypt(codec.encrypt(plain)) == plain


def _csv_with_buyer_name(name: str) -> str:
    text, _ = marketplace_csv(2, skus=[("SKU-MUG", "39.00")], prefix="MP-P", bad=0)
    return text.replace("Buyer 3", name, 1)  # the second order's row (row 3)


def test_a_csv_cell_over_the_field_limit_names_its_row() -> None:
    with pytest.raises(ChannelFormatError) as refused:
        read_marketplace_csv(_csv_with_buyer_name("B" * (200 * 1024)))
    assert [p.field for p in refused.value.problems] == ["row 3"]
    assert "field limit" in refused.value.problems[0].message


def test_a_control_character_in_a_cell_rejects_only_its_order() -> None:
    groups = read_marketplace_csv(_csv_with_buyer_name("Buyer\x1b[2J"))
    assert [g.order is not None for g in groups] == [True, False]
    assert [p.field for p in groups[1].problems] == ["row 3, buyer-name"]


@pytest.mark.parametrize("fmt", [ChannelFormat.STOREFRONT, ChannelFormat.SOCIAL])
def test_json_nested_past_the_parsers_limit_is_a_named_file_problem(fmt: ChannelFormat) -> None:
    with pytest.raises(ChannelFormatError) as refused:
        read_units(fmt, "[" * 100_000 + "]" * 100_000)
    assert [(p.field, p.message) for p in refused.value.problems] == [("file", "is nested too deeply")]


def test_a_file_that_is_not_utf8_is_a_named_file_problem(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"order-id,buyer-name\n1,\xff\xfe\n")
    with pytest.raises(ChannelFormatError) as refused:
        import_file(
            path, ChannelFormat.MARKETPLACE, base_url="http://127.0.0.1:9", api_key=None, concurrency=1,
            output=None, only_problems=False, console=Console(),
        )
    assert [p.field for p in refused.value.problems] == ["file"]
