"""Console logins: a signed session cookie instead of an `X-API-Key` header (browsers can't send one).

The cookie holds the ops key's *name* (never the key), a CSRF token and one-shot flash messages,
signed with itsdangerous (`OMS_CONSOLE_SECRET`, else a random key per process) and timestamped:
a cookie not re-signed within `OMS_CONSOLE_SESSION_TTL` (no request for that long) is refused. It
is HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it).

Every visitor has a session, a signed-in one or not, so that the login form has a CSRF token too.
The token is compared on every POST; signing in rotates it.

The name is checked against the configured keys on every request, so removing a key or changing
its role ends its console sessions at once.

The codec pass: while a browser has a signed-in ops session, every console response also sets a
second cookie, `oms_codec`, scoped to path /codec, so that the Temporal Web UI (which has no login
in development) can call our codec server (api.routers.codec) with the browser's credentials. It
is a cookie of its own rather than the session cookie with a wider path because:
- cookies are not told apart by port: a session cookie at path / would go along to every service
  on the same host (the Temporal UI's server, any other dev server), and to every API path;
- it carries only the key's name: no CSRF token and no flash messages leave /ops/ui;
- it is signed with another salt, so neither cookie can stand in for the other.
It is set or renewed with the same TTL on each console response while signed in (so it ends when
the console session would), and deleted on each console response without one (signing out included).
"""

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, lookup
from domain.enums import Role
from runtime.settings import ApiKeyEntry, Settings

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
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: str | None = None  # the ops key's name while signed in
    flash: list[tuple[str, str]] = field(default_factory=list)  # (level, text), shown once

    def to_payload(self) -> dict[str, Any]:
        return {"csrf": self.csrf, "user": self.user, "flash": [list(item) for item in self.flash]}

    @classmethod
    def from_payload(cls, payload: Any) -> "ConsoleSession | None":
        """None for anything but the shape `to_payload` writes (a signed cookie of an older shape)."""
        if not isinstance(payload, dict):
            return None
        csrf, user, flash = payload.get("csrf"), payload.get("user"), payload.get("flash", [])
        if (
            not isinstance(csrf, str)
            or not (user is None or isinstance(user, str))
            or not isinstance(flash, list)
        ):
            return None
        messages = [
            (str(item[0]), str(item[1])) for item in flash if isinstance(item, list) and len(item) == 2
        ]
        return cls(csrf=csrf, user=user, flash=messages)

    def tell(self, level: str, text: str) -> None:
        """A message for the next page shown (`level`: ok or error)."""
        self.flash.append((level, text))

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages

    def csrf_ok(self, presented: object) -> bool:
        return isinstance(presented, str) and hmac.compare_digest(presented.encode(), self.csrf.encode())

    def sign_in(self, user: str) -> None:
        self.user = user
        self.csrf = secrets.token_urlsafe(32)  # a token seen before signing in is not good after

    def sign_out(self) -> None:
        self.user = None
        self.csrf = secrets.token_urlsafe(32)


class SessionCodec:
    """Signs sessions into cookie values and back."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.console_secret or secrets.token_urlsafe(32)
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._codec_serializer = URLSafeTimedSerializer(secret, salt=_CODEC_SALT)
        self.max_age = int(settings.console_session_ttl.total_seconds())

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

    def store(self, request: Request, response: Response, session: ConsoleSession) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(session.to_payload()),
            max_age=self.max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def store_codec_pass(self, request: Request, response: Response, principal: Principal | None) -> None:
        """Set (renew) the codec pass of a signed-in ops `principal`, or delete it without one."""
        secure = request.url.scheme == "https"
        if principal is None:
            response.delete_cookie(
                CODEC_COOKIE, path=CODEC_COOKIE_PATH, httponly=True, samesite="strict", secure=secure
            )
            return
        response.set_cookie(
            CODEC_COOKIE,
            self._codec_serializer.dumps({"user": principal.name}),
            max_age=self.max_age,
            path=CODEC_COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    def codec_pass_user(self, request: Request) -> str | None:
        """The key name in the request's codec pass, if it is one we signed and not expired."""
        value = request.cookies.get(CODEC_COOKIE)
        if not value:
            return None
        try:
            payload = self._codec_serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        user = payload.get("user") if isinstance(payload, dict) else None
        return user if isinstance(user, str) else None


@dataclass(frozen=True)
class ConsoleLogins:
    """What the codec server needs of the console to admit its signed-in ops users: the cookie
    signer and the configured keys (`api.state.console_logins`, set by install_console)."""

    sessions: SessionCodec
    keys: tuple[ApiKeyEntry, ...]

    def codec_principal(self, request: Request) -> Principal | None:
        """The ops principal of the request's codec pass, while its key is still an ops key."""
        user = self.sessions.codec_pass_user(request)
        return ops_principal_named(self.keys, user) if user is not None else None


def ops_principal_named(entries: tuple[ApiKeyEntry, ...], name: str) -> Principal | None:
    """The principal of the key called `name`, if it is configured with the ops role."""
    for entry in entries:
        if entry.name == name and entry.role == Role.OPS.value:
            return Principal(name=entry.name, role=Role.OPS, customers=entry.customers)
    return None


def ops_principal(entries: tuple[ApiKeyEntry, ...], session: ConsoleSession) -> Principal | None:
    """The signed-in principal, while its key is still configured with the ops role."""
    if session.user is None:
        return None
    return ops_principal_named(entries, session.user)


def principal_of_key(entries: tuple[ApiKeyEntry, ...], presented: str) -> Principal | None:
    """Who `presented` is, by the API's own constant-time digest lookup."""
    return lookup(entries, presented)
