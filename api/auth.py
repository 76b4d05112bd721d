"""API keys, roles, customer binding and rate limiting (docs/api.md "Conventions").

`X-API-Key` names a principal with one role. Keys are configured as `name:role:key` entries,
optionally `name:client:key:cust-1|cust-2` to bind a client key to its customers, and the key may
be given as `sha256$<hex>` (config.settings.parse_api_keys). The API keeps only the SHA-256 digest
of each key: a presented key is hashed and its digest compared with every configured digest by
`hmac.compare_digest`, with no early exit, so the time taken tells nothing about which key (or how
much of one) matched.

Each principal (key name) has a token bucket of `rate_limit_burst` requests refilled at
`rate_limit_per_second`; an empty bucket answers 429 with `Retry-After`. The buckets live in this
API process: with several API processes, each one limits on its own (the effective limit is
multiplied by the number of processes).

Unknown keys are throttled per client address (`request.client.host`: the peer, or the address
uvicorn takes from X-Forwarded-For when started with --proxy-headers behind a trusted proxy):
FAILED_KEY_BURST unknown keys, then one per FAILED_KEY_RETRY_SECONDS; past that, every request
from the address that presents a key answers 429 with `Retry-After`, the right key included (else
a guess would still be told right from wrong). A request without any key is not counted: it
guesses nothing. The counts live in this API process, in at most FAILED_KEY_ADDRESSES addresses
(api.throttle: a flood of new addresses cannot flush a throttled one cheaply). The price: clients
sharing one address (a NAT, a proxy without --proxy-headers) are throttled together.
"""

import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyHeader

from api.problems import ProblemError
from api.throttle import FailureLimiter
from config.settings import ApiKeyEntry, Settings, api_key_digest
from domain.enums import Role

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

FAILED_KEY_BURST, FAILED_KEY_RETRY_SECONDS, FAILED_KEY_ADDRESSES = 20, 3, 10_000


@dataclass(frozen=True)
class Principal:
    """Who is calling. `customers` binds a client key to those customer ids; None is unbound."""

    name: str
    role: Role
    customers: frozenset[str] | None = None

    def may_access(self, customer_id: str) -> bool:
        """Whether this principal may see or act on an order of `customer_id`."""
        return self.customers is None or customer_id in self.customers


class RateLimiter:
    """Token buckets per principal name, in this process. Thread-safe (sync dependencies run in
    the thread pool). `per_second` or `burst` of 0 turns limiting off."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0 and self.burst > 0

    def take(self, name: str) -> int | None:
        """Take one token for `name`: None when allowed, else the whole seconds (>= 1) until one is free."""
        if not self.enabled:
            return None
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(name, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return None
            self._buckets[name] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.per_second))


_state_lock = threading.Lock()


def _key_entries(app: FastAPI) -> tuple[ApiKeyEntry, ...]:
    """The digests to authenticate against. `create_app` stores `settings.api_key_table()`
    (plain keys) in `app.state.api_keys`; the first request replaces it by the digests only."""
    entries = app.state.api_keys
    if isinstance(entries, tuple):
        return entries
    with _state_lock:
        if not isinstance(app.state.api_keys, tuple):
            settings: Settings = app.state.settings
            app.state.api_keys = settings.api_key_entries()
        result: tuple[ApiKeyEntry, ...] = app.state.api_keys
        return result


def _rate_limiter(app: FastAPI) -> RateLimiter:
    limiter: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        with _state_lock:
            limiter = getattr(app.state, "rate_limiter", None)
            if limiter is None:
                settings: Settings = app.state.settings
                limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
                app.state.rate_limiter = limiter
    return limiter


def _failed_keys(app: FastAPI) -> FailureLimiter:
    """Unknown keys per client address (`app.state.failed_key_limiter`; a test app may set its own)."""
    limiter: FailureLimiter | None = getattr(app.state, "failed_key_limiter", None)
    if limiter is None:
        with _state_lock:
            limiter = getattr(app.state, "failed_key_limiter", None)
            if limiter is None:
                limiter = FailureLimiter(FAILED_KEY_BURST, FAILED_KEY_RETRY_SECONDS, FAILED_KEY_ADDRESSES)
                app.state.failed_key_limiter = limiter
    return limiter


def lookup(entries: tuple[ApiKeyEntry, ...], presented: str) -> Principal | None:
    """The principal of `presented`, comparing its digest with every entry (constant time)."""
    digest = api_key_digest(presented)
    found: ApiKeyEntry | None = None
    for entry in entries:
        if hmac.compare_digest(entry.digest, digest):
            found = entry
    if found is None:
        return None
    return Principal(name=found.name, role=Role(found.role), customers=found.customers)


class RoleGuard:
    """The dependency admitting `allowed_roles` (ops is always among them): 401 without a known
    key, 429 when the key's bucket is empty or the address sent too many unknown keys, 403 for
    another role. `allowed_roles` is public so that
    tests can check every route against it."""

    def __init__(self, *roles: Role) -> None:
        self.allowed_roles: frozenset[Role] = frozenset(roles) | {Role.OPS}

    async def __call__(self, request: Request, api_key: str | None = Depends(_api_key_header)) -> Principal:
        # Nothing here blocks (digests, in-memory buckets): on the event loop, not a thread hop.
        return self.check(request, api_key)

    def check(self, request: Request, api_key: str | None) -> Principal:
        """The principal of `api_key` if it may pass (the errors of the class docstring)."""
        if not api_key:
            raise ProblemError(401, "missing X-API-Key header", headers={"WWW-Authenticate": "ApiKey"})
        address = request.client.host if request.client else "unknown"
        failed = _failed_keys(request.app)
        wait = failed.wait(address)
        if wait is not None:
            raise ProblemError(
                429,
                "too many unknown API keys from this address",
                type_="/problems/rate-limited",
                headers={"Retry-After": str(wait)},
            )
        principal = lookup(_key_entries(request.app), api_key)
        if principal is None:
            failed.fail(address)
            raise ProblemError(401, "unknown API key", headers={"WWW-Authenticate": "ApiKey"})
        retry_after = _rate_limiter(request.app).take(principal.name)
        if retry_after is not None:
            raise ProblemError(
                429,
                f"rate limit of API key {principal.name} exceeded",
                type_="/problems/rate-limited",
                headers={"Retry-After": str(retry_after)},
            )
        if principal.role not in self.allowed_roles:
            raise ProblemError(403, f"role {principal.role.value} may not do this")
        return principal


def require(*roles: Role) -> RoleGuard:
    """A dependency admitting the given roles (ops is admitted everywhere)."""
    return RoleGuard(*roles)


def forbid_other_customers(principal: Principal, customer_id: str, order_id: str) -> None:
    """404 (as if the order did not exist) when a bound key asks about another customer's order."""
    if not principal.may_access(customer_id):
        raise ProblemError(404, f"no order {order_id}")
