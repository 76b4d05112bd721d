"""Slow reliability proofs (issue 6): real processes killed and restarted.

Every test here is marked `reliability` and left out of a plain `pytest` / `make test` run; `make
reliability` runs them (`pytest -m reliability tests/reliability`).
"""

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.stack import Stack

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: slow crash/restart proofs, run by `make reliability`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if HERE in Path(item.path).parents]
    for item in ours:
        item.add_marker(pytest.mark.reliability)
    if "reliability" in (config.option.markexpr or ""):
        return  # `-m reliability` (or another expression naming it) selects them itself
    config.hook.pytest_deselected(items=ours)
    items[:] = [item for item in items if item not in ours]


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A fresh stack of the product's processes under a temporary directory; the caller starts it.
    When the test fails, the last lines of every process's log are printed."""
    with tempfile.TemporaryDirectory(prefix="oms-reliability-") as root:
        running = Stack(Path(root))
        try:
            yield running
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                print(running.logs())
            running.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


async def until(check: Callable[[], Awaitable[object] | object], timeout: float, what: str) -> object:
    """Poll `check` until truthy (its value is returned); errors while polling count as "not yet",
    since the tests poll through outages on purpose."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - a store or API mid-outage answers with errors
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:.0f}s: {what} (last error: {last_error!r})")
        await asyncio.sleep(0.25)
