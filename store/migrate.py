"""Run the Alembic migrations to head, from code: no alembic.ini is needed at run time.

Several processes (API, workers, `oms dev`) may start at once; a PostgreSQL advisory lock
makes them take turns, and the ones that come second find nothing left to do.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from store.db import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant shared by every Orderflow process: "orderflow" as a 63-bit integer.
MIGRATION_LOCK_ID = 0x6F7264657266


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats "%" specially (URL-encoded passwords).
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            conn.commit()
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                conn.rollback()
                conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                conn.commit()
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT to_regclass('alembic_version') IS NOT NULL")
            ).scalar()
            if not exists:
                return None
            rev: str | None = conn.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
            return rev
    finally:
        engine.dispose()
