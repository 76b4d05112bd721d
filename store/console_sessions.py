"""Ops console sessions, one row per sign-in (the table console_sessions).

The console's cookie and its codec pass carry only a session id (signed, api.console.session);
whether that session still holds is decided here, in PostgreSQL, so that every API process agrees:
signing out revokes the row, and every copy of the cookie and of the pass is refused from the next
request on, in every process. A row also ends at `expires_at`, the absolute lifetime set at sign-in,
however often its cookie was refreshed. Times are the database's (`now()`), one clock for all
processes.

Rows past their lifetime are deleted at the next sign-in (an indexed delete), so the table holds
about the sign-ins of one lifetime.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.models import ConsoleSessionRow

SessionFactory = sessionmaker[Session]


@dataclass(frozen=True)
class ActiveSession:
    """A console session that is neither revoked nor past its lifetime. Whether its key is still
    configured is the API's to check (`key_digest`, hex SHA-256 of the key signed in with)."""

    session_id: str
    principal: str
    key_digest: str
    expires_at: datetime


def open_session(sessions: SessionFactory, principal: str, key_digest: str, lifetime: timedelta) -> ActiveSession:
    """A new session for `principal`, signed in with the key whose digest is `key_digest`, good
    for `lifetime` from now at most. Deletes the rows whose lifetime is over."""
    session_id = secrets.token_urlsafe(32)
    with sessions.begin() as s:
        s.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= func.now()))
        expires_at = s.execute(
            insert(ConsoleSessionRow)
            .values(
                session_id=session_id,
                principal=principal,
                key_digest=key_digest,
                expires_at=func.now() + lifetime,
            )
            .returning(ConsoleSessionRow.expires_at)
        ).scalar_one()
    return ActiveSession(session_id, principal, key_digest, expires_at)


def active_session(sessions: SessionFactory, session_id: str) -> ActiveSession | None:
    """The session `session_id`, unless it is unknown, revoked or past its lifetime (one read by
    primary key)."""
    with sessions() as s:
        row = s.execute(
            select(ConsoleSessionRow.principal, ConsoleSessionRow.key_digest, ConsoleSessionRow.expires_at).where(
                ConsoleSessionRow.session_id == session_id,
                ConsoleSessionRow.revoked_at.is_(None),
                ConsoleSessionRow.expires_at > func.now(),
            )
        ).one_or_none()
    if row is None:
        return None
    return ActiveSession(session_id, row.principal, row.key_digest, row.expires_at)


def revoke_session(sessions: SessionFactory, session_id: str) -> None:
    """End the session `session_id` (signing out); nothing happens for an unknown or ended one."""
    with sessions.begin() as s:
        s.execute(
            update(ConsoleSessionRow)
            .where(ConsoleSessionRow.session_id == session_id, ConsoleSessionRow.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
