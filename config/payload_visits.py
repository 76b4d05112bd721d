"""The worker's payload visits, with the ones that cannot do anything left out.

temporalio 1.35 walks every workflow activation three times before the workflow sees it, and
every completion three times after (temporalio.bridge.worker `decode_activation` and
`encode_completion`): once for external-storage references, once for external storage itself,
once for the payload codec. Each walk visits every payload of every job or command, whatever the
data converter holds. Without external storage (we configure none) the first two walks change
nothing, and without a codec (no OMS_CODEC_KEYS) neither does the third; yet the three walks were
about a fifth of the worker's CPU under the bench (py-spy, docs/performance.md, 2026-12-02).

`install()` replaces the two functions, for this process, with ones that run the SDK's own code
when external storage is configured, only the codec walk (the SDK's visitor, with the same
arguments) when just a codec is, and no walk when there is neither. The SDK module is private
API: temporalio is pinned in pyproject.toml, and tests/unit/test_payload_visits.py checks the
answers against the SDK's own and fails if the functions' signatures change.
"""

from __future__ import annotations

from typing import Any

import temporalio.bridge.worker as bridge_worker
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics
from temporalio.worker._command_aware_visitor import CommandAwarePayloadVisitor

SDK_DECODE_ACTIVATION = bridge_worker.decode_activation
SDK_ENCODE_COMPLETION = bridge_worker.encode_completion


async def decode_activation(
    activation: Any, data_converter: DataConverter, decode_headers: bool, storage_concurrency_limit: int
) -> StorageOperationMetrics:
    if data_converter.external_storage is not None:
        return await SDK_DECODE_ACTIVATION(
            activation,
            data_converter,
            decode_headers=decode_headers,
            storage_concurrency_limit=storage_concurrency_limit,
        )
    if data_converter.payload_codec is not None:
        await CommandAwarePayloadVisitor(skip_search_attributes=True, skip_headers=not decode_headers).visit(
            bridge_worker._Visitor(data_converter._decode_payload_sequence), activation
        )
    return StorageOperationMetrics()


async def encode_completion(
    completion: Any, data_converter: DataConverter, encode_headers: bool, storage_concurrency_limit: int
) -> StorageOperationMetrics:
    if data_converter.external_storage is not None:
        return await SDK_ENCODE_COMPLETION(
            completion,
            data_converter,
            encode_headers=encode_headers,
            storage_concurrency_limit=storage_concurrency_limit,
        )
    if data_converter.payload_codec is not None:
        await CommandAwarePayloadVisitor(skip_search_attributes=True, skip_headers=not encode_headers).visit(
            bridge_worker._Visitor(data_converter._encode_payload_sequence), completion
        )
    return StorageOperationMetrics()


def install() -> None:
    """Use the functions above in this process (idempotent). The SDK's workflow worker looks
    them up on temporalio.bridge.worker at each activation."""
    bridge_worker.decode_activation = decode_activation
    bridge_worker.encode_completion = encode_completion
