"""Database fixtures for store and adapter tests: a real PostgreSQL, never a mock.

OMS_DATABASE_URL picks an existing server; otherwise an embedded PostgreSQL starts in a
temporary directory. Either way the session gets its own freshly migrated database.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_session_factory
from store.seed import seed_demo
from store.testing import temporary_database, truncate_all


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """An empty database (all tables truncated) with the demo warehouses and catalog seeded."""
    truncate_all(engine)
    factory = make_session_factory(engine)
    seed_demo(factory)
    return factory
