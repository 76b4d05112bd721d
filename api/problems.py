"""RFC 9457 problem details: the one shape of every error the API returns."""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import BusinessError
from domain.models import Problem, json_path

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)

# Temporal answers that mean "not reachable now", not "this request is wrong": down, too slow to
# answer in time, or shedding load. All pass, and a repeat is safe.
_UNAVAILABLE_RPC = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
# Seconds a client should wait before repeating a request refused during an outage.
OUTAGE_RETRY_AFTER = "2"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        errors: list[Problem] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[Problem] | None = None,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers) if headers else None
    )


def refusal_problem(refusal_type: str, message: str, status: int) -> ProblemError:
    return ProblemError(status, message, type_=f"/problems/{_kebab(refusal_type)}")


def _kebab(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    return json_path(parts) or str(loc[0] if loc else "body")


def invalid_request(problems: list[Problem]) -> ProblemError:
    """The 422 for a request with bad fields, every one of them named."""
    return ProblemError(
        422, f"{len(problems)} invalid field(s)", type_="/problems/invalid-request", errors=problems
    )


def problems_of(errors: Any) -> list[Problem]:
    """One Problem per pydantic error, named by its JSON path (`lines[0].unit_price`)."""
    return [Problem(field=_field_of(tuple(e.get("loc", ()))), message=e.get("msg", "invalid")) for e in errors]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = problems_of(exc.errors())
        return problem_response(
            422, f"{len(errors)} invalid field(s)", type_="/problems/invalid-request", errors=errors
        )

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, type_=exc.type, errors=exc.errors, extra=exc.extra, headers=exc.headers
        )

    @app.exception_handler(BusinessError)
    async def _refusal(_: Request, exc: BusinessError) -> JSONResponse:
        return problem_response(
            exc.http_status, exc.message, type_=f"/problems/{_kebab(type(exc).__name__)}"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    # An outage of Temporal or PostgreSQL (found by tests/reliability/test_outages.py) answered with a
    # bare text/plain 500 and closed the connection. It is a 503 problem with Retry-After instead: a
    # deadline may pass after Temporal took the request, so the answer does not promise that nothing
    # changed, only that repeating the same request is safe (submissions are idempotent).
    @app.exception_handler(RPCError)
    async def _temporal_error(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status in _UNAVAILABLE_RPC:
            return _outage("Temporal")
        log.error("unexpected error from Temporal: %s %s", exc.status.name if exc.status else None, exc.message)
        return problem_response(500, "unexpected error from Temporal")

    # Whatever escapes every other handler is a bug: still a problem document (Starlette's own
    # answer is a bare text/plain 500), telling nothing of the error; the traceback goes to the log.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        return problem_response(500, "unexpected error; it was logged")

    @app.exception_handler(DBAPIError)
    async def _database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated or _is_connection_error(exc):
            return _outage("the database")
        return problem_response(500, "unexpected database error")


def _outage(what: str) -> JSONResponse:
    return problem_response(
        503,
        f"{what} is not reachable; repeat the same request later (repeating is safe)",
        type_="/problems/service-unavailable",
        headers={"Retry-After": OUTAGE_RETRY_AFTER},
    )


def _is_connection_error(exc: DBAPIError) -> bool:
    """psycopg2 reports a refused or dropped connection as OperationalError (SQLSTATE class 08,
    or none at all when no connection was made); other DB errors are real bugs (500)."""
    code = getattr(exc.orig, "pgcode", None)
    return isinstance(exc, OperationalError) and (code is None or str(code).startswith(("08", "57P")))
