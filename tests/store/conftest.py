"""The store tests share the adapters' database fixtures: a real PostgreSQL, never a mock."""

from tests.adapters.conftest import database_url, engine, session_factory

__all__ = ["database_url", "engine", "session_factory"]
