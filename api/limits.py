"""Request limits: no request body may exceed a fixed size (413, as a problem document).

The limit is checked twice: on the declared `Content-Length` before anything is read, and on the
bytes actually received (read here, before the route runs), so a chunked body cannot stream past
it. Wire it with one line in `create_app`::

    install_limits(app)
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response

DEFAULT_MAX_BODY_BYTES = 256 * 1024


def _to_utc(value: datetime) -> datetime:
    """Times are UTC: a naive one is taken as UTC, an offset one converted. PostgreSQL refuses
    offsets beyond +-15:59 that ISO-8601 allows (a 500 before), and a conversion past year 1 or
    9999 cannot be represented: both are a 422 naming the parameter."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]
"""A timestamp parameter, normalized to UTC (use for query filters that reach the database)."""


def _too_large(limit: int) -> JSONResponse:
    return problem_response(
        413,
        f"request body exceeds the limit of {limit} bytes",
        type_="/problems/payload-too-large",
        headers={"Connection": "close"},
    )


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing `max_body_bytes` on every HTTP request body."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await problem_response(400, "invalid Content-Length header")(scope, receive, send)
                return
            if length > limit:
                await _too_large(limit)(scope, receive, send)
                return

        # Read the body here, never more than the limit, then hand it on in one piece. Bounded
        # memory per request, and the route sees the same bytes (webhooks sign the raw body).
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            body: bytes = message.get("body", b"")
            received += len(body)
            if received > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def install_limits(app: FastAPI, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Add the request limits to `app` (once: a second call changes nothing)."""
    if getattr(app.state, "limits_installed", False):
        return
    app.state.limits_installed = True
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)
