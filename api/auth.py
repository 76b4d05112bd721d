"""API keys and roles (API.md "Auth"): `X-API-Key` names a principal with one role."""

import hmac
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from api.problems import ProblemError
from domain.enums import Role

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


def _lookup(request: Request, presented: str) -> Principal | None:
    # Compare against every key in constant time, so timing tells nothing about near misses.
    found: Principal | None = None
    for key, (name, role) in request.app.state.api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = Principal(name=name, role=Role(role))
    return found


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency admitting the given roles (ops is admitted everywhere)."""
    allowed = set(roles) | {Role.OPS}

    def dependency(request: Request, api_key: str | None = Depends(_api_key_header)) -> Principal:
        if not api_key:
            raise ProblemError(401, "missing X-API-Key header", headers={"WWW-Authenticate": "ApiKey"})
        principal = _lookup(request, api_key)
        if principal is None:
            raise ProblemError(401, "unknown API key", headers={"WWW-Authenticate": "ApiKey"})
        if principal.role not in allowed:
            raise ProblemError(403, f"role {principal.role.value} may not do this")
        return principal

    return dependency
