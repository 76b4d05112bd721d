"""Workflow tests: the real workflows, in the production sandbox, on the time-skipping dev server,
against in-memory stub activities. No PostgreSQL, no HTTP.

Each test gets fresh stubs and a worker of its own on a fresh task queue, so no test sees another's
stock, payments or workflows. The dev server (`temporal_env`, `client`) is the session's, from
tests/conftest.py; neither fixture touches the database.
"""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.workflows.driver import Orders, stub_worker
from tests.workflows.stubs import Stubs

HERE = Path(__file__).parent

# The fixtures of tests/conftest.py that need PostgreSQL or the HTTP app: none of these tests may use them.
STACK_FIXTURES = frozenset({"database_url", "sessions", "worker", "settings", "api"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            used = STACK_FIXTURES & set(getattr(item, "fixturenames", ()))
            if used:
                raise pytest.UsageError(f"{item.nodeid} uses {sorted(used)}: workflow tests run without the stack")


@pytest.fixture
def stubs() -> Stubs:
    return Stubs()


@pytest_asyncio.fixture
async def orders(temporal_env: WorkflowEnvironment, stubs: Stubs) -> AsyncIterator[Orders]:
    """A worker with the real workflows (OrderWorkflow, ShipmentWorkflow, ReturnWorkflow) and the
    stubs' activities, and a driver for the test."""
    task_queue = f"workflow-tests-{uuid.uuid4()}"
    driver = Orders(env=temporal_env, task_queue=task_queue, stubs=stubs)
    async with stub_worker(temporal_env, task_queue, stubs.activities()):
        try:
            yield driver
        finally:
            await driver.terminate_started()
