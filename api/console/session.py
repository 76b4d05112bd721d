"""Console logins: a signed session cookie instead of an `X-API-Key` header (browsers can't send one).

A sign-in opens a server-side session (store.console_sessions: a row in PostgreSQL, so that every
API process agrees on it). The cookie holds that session's id (never the key, nor its name), a
CSRF token and one-shot flash messages, signed with itsdangerous (`OMS_CONSOLE_SECRET`, else a
random key per process) and timestamped. It is HttpOnly (no script reads it) and SameSite=Strict
(no other site's page sends it). A session holds while all of these do, checked on every request:
- the cookie was re-signed within `OMS_CONSOLE_SESSION_TTL` (the idle timeout: each console
  response re-signs it);
- its row is not revoked: signing out revokes it, so every copy of the cookie (and of the codec
  pass below) is refused from then on, in every API process;
- its row is not past `expires_at`, `OMS_CONSOLE_SESSION_MAX_AGE` after sign-in (the absolute
  lifetime): a refreshed cookie never outlives it, and its Max-Age is cut to what is left;
- the key it was signed in with (by SHA-256 digest, with its name) is still configured with the
  ops role: removing or replacing the key, or changing its role, ends its sessions at once.
The check is one primary-key read per request, not cached, so a revocation takes effect with the
next request everywhere (no delay to document beyond the request in flight).

Every visitor has a cookie, a signed-in one or not, so that the login form has a CSRF token too.
The token is compared on every POST; signing in and out rotate it. Signing in always opens a new
session (a session id seen before sign-in is never the signed-in one) and revokes the one the
browser had, if any.

The codec pass: while a browser has a signed-in ops session, every console response also sets a
second cookie, `oms_codec`, scoped to path /codec, so that the Temporal Web UI (which has no login
in development) can call our codec server (api.routers.codec) with the browser's credentials. It
is a cookie of its own rather than the session cookie with a wider path because:
- cookies are not told apart by port: a session cookie at path / would go along to every service
  on the same host (the Temporal UI's server, any other dev server), and to every API path;
- it carries only the session id: no CSRF token and no flash messages leave /ops/ui;
- it is signed with another salt, so neither cookie can stand in for the other.
It names the same server-side session and is checked the same way, so signing out (or the key's
removal, or the absolute lifetime) ends it together with the session. It is set or renewed with
the session cookie's Max-Age on each console response while signed in, and deleted on each console
response without a session (signing out included).
"""

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, lookup
from config.settings import ApiKeyEntry, Settings, api_key_digest
from domain.enums import Role
from store import console_sessions
from store.console_sessions import ActiveSession

COOKIE = "oms_console"
COOKIE_PATH = "/ops/ui"
CSRF_FIELD = "csrf_token"
_SALT = "orderflow.console.session"
CODEC_COOKIE = "oms_codec"
# Where api.routers.codec serves (its PREFIX; that module imports this one, so not imported here).
CODEC_COOKIE_PATH = "/codec"
_CODEC_SALT = "orderflow.console.codec-pass"


@dataclass
class ConsoleSession:
    """One browser's console state, as its cookie carries it, plus (not in the cookie) the
    server-side session its `sid` names once that was checked (`ConsoleLogins.principal`) or opened."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    sid: str | None = None  # the store.console_sessions id while signed in
    flash: list[tuple[str, str]] = field(default_factory=list)  # (level, text), shown once
    active: ActiveSession | None = field(default=None, compare=False)

    def to_payload(self) -> dict[str, Any]:
        return {"csrf": self.csrf, "sid": self.sid, "flash": [list(item) for item in self.flash]}

    @classmethod
    def from_payload(cls, payload: Any) -> "ConsoleSession | None":
        """None for anything but the shape `to_payload` writes. A cookie of the older shape (with
        the key's name in `user`, no `sid`) reads as not signed in."""
        if not isinstance(payload, dict):
            return None
        csrf, sid, flash = payload.get("csrf"), payload.get("sid"), payload.get("flash", [])
        if (
            not isinstance(csrf, str)
            or not (sid is None or isinstance(sid, str))
            or not isinstance(flash, list)
        ):
            return None
        messages = [
            (str(item[0]), str(item[1])) for item in flash if isinstance(item, list) and len(item) == 2
        ]
        return cls(csrf=csrf, sid=sid, flash=messages)

    def tell(self, level: str, text: str) -> None:
        """A message for the next page shown (`level`: ok or error)."""
        self.flash.append((level, text))

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages

    def csrf_ok(self, presented: object) -> bool:
        return isinstance(presented, str) and hmac.compare_digest(presented.encode(), self.csrf.encode())

    def signed_in(self, active: ActiveSession) -> None:
        self.sid, self.active = active.session_id, active
        self.csrf = secrets.token_urlsafe(32)  # a token seen before signing in is not good after

    def ended(self) -> None:
        """No session any more (signed out, or found ended): the cookie written back forgets it."""
        self.sid, self.active = None, None

    def signed_out(self) -> None:
        self.ended()
        self.csrf = secrets.token_urlsafe(32)


class SessionCodec:
    """Signs sessions into cookie values and back."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.console_secret or secrets.token_urlsafe(32)
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._codec_serializer = URLSafeTimedSerializer(secret, salt=_CODEC_SALT)
        self.max_age = int(settings.console_session_ttl.total_seconds())  # the idle timeout

    def load(self, request: Request) -> ConsoleSession:
        value = request.cookies.get(COOKIE)
        if value:
            try:
                session = ConsoleSession.from_payload(self._serializer.loads(value, max_age=self.max_age))
            except BadSignature:  # also SignatureExpired
                session = None
            if session is not None:
                return session
        return ConsoleSession()

    def cookie_max_age(self, session: ConsoleSession) -> int:
        """The idle timeout, cut to what is left of a signed-in session's absolute lifetime."""
        if session.active is None:
            return self.max_age
        left = (session.active.expires_at - datetime.now(UTC)).total_seconds()
        return max(0, min(self.max_age, int(left)))

    def store(self, request: Request, response: Response, session: ConsoleSession) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(session.to_payload()),
            max_age=self.cookie_max_age(session),
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def store_codec_pass(self, request: Request, response: Response, session: ConsoleSession) -> None:
        """Set (renew) the codec pass of a signed-in `session`, or delete it without one."""
        secure = request.url.scheme == "https"
        if session.active is None:
            response.delete_cookie(
                CODEC_COOKIE, path=CODEC_COOKIE_PATH, httponly=True, samesite="strict", secure=secure
            )
            return
        response.set_cookie(
            CODEC_COOKIE,
            self._codec_serializer.dumps({"sid": session.active.session_id}),
            max_age=self.cookie_max_age(session),
            path=CODEC_COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    def codec_pass_sid(self, request: Request) -> str | None:
        """The session id in the request's codec pass, if it is one we signed and not expired."""
        value = request.cookies.get(CODEC_COOKIE)
        if not value:
            return None
        try:
            payload = self._codec_serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        sid = payload.get("sid") if isinstance(payload, dict) else None
        return sid if isinstance(sid, str) else None


@dataclass(frozen=True)
class ConsoleLogins:
    """Who is signed in to the console: the cookie signer, the configured keys and the session
    store (`database`: the API's sessionmaker, connected by its lifespan, so asked for late). The
    console uses it for its pages, the codec server (`api.state.console_logins`, set by
    install_console) for the codec pass. Every method but `cookies` reads or writes the database:
    call them from a thread, not on the event loop."""

    cookies: SessionCodec
    keys: tuple[ApiKeyEntry, ...]
    database: Callable[[], sessionmaker[Session]]
    lifetime: timedelta  # OMS_CONSOLE_SESSION_MAX_AGE

    def principal(self, session: ConsoleSession) -> Principal | None:
        """The ops principal signed in with `session`, while its server-side session holds; an
        ended one is forgotten by `session` (so the cookie written back no longer names it)."""
        if session.sid is None:
            return None
        active = console_sessions.active_session(self.database(), session.sid)
        principal = self._principal_of(active)
        if principal is None:
            session.ended()
        else:
            session.active = active
        return principal

    def sign_in(self, session: ConsoleSession, principal: Principal, presented_key: str) -> None:
        """Open a new server-side session for `principal`, who presented `presented_key`; the one
        this browser had before, if any, is revoked."""
        if session.sid is not None:
            console_sessions.revoke_session(self.database(), session.sid)
        digest = api_key_digest(presented_key).hex()
        session.signed_in(console_sessions.open_session(self.database(), principal.name, digest, self.lifetime))

    def sign_out(self, session: ConsoleSession) -> None:
        """Revoke the session: every copy of its cookie and of its codec pass is refused from now."""
        if session.sid is not None:
            console_sessions.revoke_session(self.database(), session.sid)
        session.signed_out()

    def codec_principal(self, request: Request) -> Principal | None:
        """The ops principal of the request's codec pass, while its session holds."""
        sid = self.cookies.codec_pass_sid(request)
        if sid is None:
            return None
        return self._principal_of(console_sessions.active_session(self.database(), sid))

    def _principal_of(self, active: ActiveSession | None) -> Principal | None:
        """The principal of a live session, while the key it was signed in with is still
        configured under the same name with the ops role."""
        if active is None:
            return None
        for entry in self.keys:
            if (
                entry.name == active.principal
                and entry.role == Role.OPS.value
                and hmac.compare_digest(entry.digest.hex(), active.key_digest)
            ):
                return Principal(name=entry.name, role=Role.OPS, customers=entry.customers)
        return None


def principal_of_key(entries: tuple[ApiKeyEntry, ...], presented: str) -> Principal | None:
    """Who `presented` is, by the API's own constant-time digest lookup."""
    return lookup(entries, presented)
