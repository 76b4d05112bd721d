"""A marketplace CSV whose header holds a cell over Python's csv field size limit (128 KiB) is a
422 naming the header, not a 500 (found by the hostile fuzzing of tests/integration/test_hostile_input.py,
seed 20261201, once the cycle-count routes shifted the operations' seeds)."""

import pytest

from domain.channels import ChannelFormat, ChannelFormatError, map_order, read_marketplace_csv


def test_a_header_cell_over_the_field_limit_is_a_format_error() -> None:
    text = '"' + "x" * 140_000 + '",order-id\n1,2\n'
    with pytest.raises(ChannelFormatError) as refused:
        read_marketplace_csv(text)
    assert [p.field for p in refused.value.problems] == ["header"]
    with pytest.raises(ChannelFormatError):
        map_order(ChannelFormat.MARKETPLACE, text)
