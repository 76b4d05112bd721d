"""Console logins: a signed session cookie instead of an `X-API-Key` header (browsers can't send one).

The cookie holds the ops key's *name* (never the key), a CSRF token and one-shot flash messages,
signed with itsdangerous (`OMS_CONSOLE_SECRET`, else a random key per process) and timestamped:
a cookie not re-signed within `OMS_CONSOLE_SESSION_TTL` (no request for that long) is refused. It
is HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it).

Every visitor has a session, a signed-in one or not, so that the login form has a CSRF token too.
The token is compared on every POST; signing in rotates it.

The name is checked against the configured keys on every request, so removing a key or changing
its role ends its console sessions at once.
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


def ops_principal(entries: tuple[ApiKeyEntry, ...], session: ConsoleSession) -> Principal | None:
    """The signed-in principal, while its key is still configured with the ops role."""
    if session.user is None:
        return None
    for entry in entries:
        if entry.name == session.user and entry.role == Role.OPS.value:
            return Principal(name=entry.name, role=Role.OPS, customers=entry.customers)
    return None


def principal_of_key(entries: tuple[ApiKeyEntry, ...], presented: str) -> Principal | None:
    """Who `presented` is, by the API's own constant-time digest lookup."""
    return lookup(entries, presented)
