"""The codec server the Temporal Web UI calls to show (and send) readable payloads.

Temporal's remote codec protocol: `POST .../encode` and `POST .../decode`, each taking and
returning `{"payloads": [...]}`, the protobuf JSON form of Payloads (metadata values and data in
base64). The UI calls it from the browser, so:
- it is behind ops auth: decoding shows personal data. The UI sends its credential as
  `Authorization: Bearer <token>`, so the ops key is accepted there as well as in `X-API-Key`;
- the dev UI has no login and so no token: a browser signed in to the ops console sends the
  console's codec pass instead (a cookie scoped to /codec, api.console.session), when the UI's
  "include cross-origin credentials" is on. The pass is honoured only on requests whose `Origin`
  is one of the UI's, so another page of the same site (localhost on another port) can't use it;
- CORS is answered only on these paths and only for the UI's origins
  (`Settings.codec_allowed_origins`), never `*`, with `Access-Control-Allow-Credentials: true`
  so that the browser sends the pass and lets the UI read the answer.
Cross-site request forgery: neither endpoint changes any state. Decode only reads, for the caller,
and its answer is readable only by the UI's origins; encode only seals what it is given. A forged
request could make us do the work but learn nothing and change nothing. The cookie is also
SameSite=Strict (no other site's page sends it), and a JSON body needs a CORS preflight, which
other origins fail.
Without `OMS_CODEC_KEYS` there is nothing to undo: both endpoints return the payloads unchanged.

Access policy (`OMS_CODEC_ACCESS`, see `loopback_opens`): "authenticated", the default everywhere,
admits only the callers above. "loopback-open", which only `oms dev` sets, also admits the dev UI's
page with no credential at all, when everything is on this machine: the dev UI has no login, and
needing a sign-in plus a browser setting left engineers reading ciphertext.
"""

import base64
import binascii
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import Principal, RoleGuard
from api.console.session import ConsoleLogins
from api.problems import ProblemError
from config.codec import EncryptionCodec, PayloadDecryptionError, codec_keys_of
from config.settings import Settings
from config.temporal import is_loopback
from domain.enums import Role

PREFIX = "/codec"

router = APIRouter(prefix=PREFIX, tags=["codec"])

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


class KeyOrBearerGuard(RoleGuard):
    """A RoleGuard that also reads the key from `Authorization: Bearer`, as the Temporal UI sends it,
    and, when no key is given at all, admits the ops console's codec pass from the UI's origins.
    `X-API-Key` wins over a bearer key, and a key over the pass."""

    # A plain `def` (FastAPI runs it in its thread pool): the console's pass is a database read.
    def __call__(  # type: ignore[override]
        self,
        request: Request,
        api_key: Annotated[str | None, Depends(_api_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> Principal:
        presented = api_key or (bearer.credentials if bearer else None)
        if presented is None and loopback_opens(request):
            return LOOPBACK_UI
        if presented is None:
            principal = _console_principal(request)
            if principal is not None:
                return principal
        return self.check(request, presented)


def _console_principal(request: Request) -> Principal | None:
    """The ops user signed in to the console in this browser, by the codec pass it sent (it names
    the console's server-side session: signing out ends it); 403 when the pass comes from a page
    that is not the Temporal UI's. Not rate limited, like the console's
    own pages: the limiter counts API keys, and the UI sends one decode per payload field."""
    logins: ConsoleLogins | None = getattr(request.app.state, "console_logins", None)
    principal = logins.codec_principal(request) if logins is not None else None
    if principal is None:
        return None
    origin = request.headers.get("origin")
    allowed: frozenset[str] = request.app.state.codec_origins
    if origin not in allowed:
        raise ProblemError(
            403,
            "a console sign-in is accepted here only from the Temporal UI's origins "
            f"(OMS_CODEC_CORS_ORIGINS), not from {origin or 'a request without Origin'}",
        )
    return principal


# --- the access policy: OMS_CODEC_ACCESS ----------------------------------------------------------

LOOPBACK_OPEN = "loopback-open"
# Who a request admitted by loopback-open is (it has no key, so no key's name).
LOOPBACK_UI = Principal(name="loopback-dev-ui", role=Role.OPS)
# A request that passed through a proxy is not the local browser's, whatever address it came from.
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def loopback_open_at_start(settings: Settings) -> bool:
    """Whether this API runs the loopback-open policy. Refuses to start with it on an API bound
    elsewhere than loopback: there, "this machine" is not where the callers are."""
    if settings.codec_access != LOOPBACK_OPEN:
        return False
    if not is_loopback(settings.api_host):
        raise ValueError(
            f"OMS_CODEC_ACCESS={LOOPBACK_OPEN} lets the codec server decode without credentials, so it is "
            f"allowed only on an API bound to a loopback host (127.0.0.1, ::1 or localhost), and OMS_API_HOST "
            f"is {settings.api_host!r}: bind the API to 127.0.0.1, or unset OMS_CODEC_ACCESS (the default, "
            "authenticated, admits an ops key or an ops console sign-in)"
        )
    return True


def loopback_opens(request: Request) -> bool:
    """Under loopback-open, whether this request is the dev Temporal UI's, on this machine, and so
    decodes with no credential. All of these must hold:
    - it arrived from a loopback address (the TCP peer, after uvicorn's trusted proxy headers) on a
      loopback address of ours, and carries no proxy header: a proxy on this machine is not a
      browser on this machine;
    - its Host names a loopback host: a page of another site whose name was rebound to 127.0.0.1
      (DNS rebinding) calls us with its own name;
    - its Origin is one of the UI's origins (OMS_CODEC_CORS_ORIGINS) and a loopback one: no other
      page in the browser, not even another local one. A request with no Origin is no browser's
      (browsers send it on every cross-origin call): the CLI and scripts use the ops key.
    Anything else falls back to the authenticated policy (so, without a key, 401)."""
    if not getattr(request.app.state, "codec_loopback_open", False):
        return False
    server = request.scope.get("server")
    if request.client is None or not is_loopback(request.client.host):
        return False
    if not server or not is_loopback(str(server[0])):
        return False
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    if not is_loopback(urlsplit("//" + request.headers.get("host", "")).hostname):
        return False
    origin = request.headers.get("origin")
    allowed: frozenset[str] = request.app.state.codec_origins
    return origin is not None and origin in allowed and is_loopback(urlsplit(origin).hostname)


# RoleGuard always admits ops, and here no one else.
OpsOnly = Annotated[Principal, Depends(KeyOrBearerGuard())]

_BASE64 = r"^[A-Za-z0-9+/]*={0,2}$"


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not valid base64") from None


class WirePayload(BaseModel):
    """One Payload in protobuf JSON: metadata values and data as standard base64."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, str] = Field(default_factory=dict, json_schema_extra={"additionalProperties": {"type": "string", "pattern": _BASE64}})
    data: str = Field(default="", pattern=_BASE64)

    @field_validator("metadata")
    @classmethod
    def _metadata_is_base64(cls, value: dict[str, str]) -> dict[str, str]:
        for name, encoded in value.items():
            try:
                _base64(encoded)
            except ValueError:
                raise ValueError(f"metadata {name!r} is not valid base64") from None
        return value

    @field_validator("data")
    @classmethod
    def _data_is_base64(cls, value: str) -> str:
        _base64(value)
        return value

    def to_proto(self) -> Payload:
        return Payload(metadata={k: _base64(v) for k, v in self.metadata.items()}, data=_base64(self.data))


class WirePayloads(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payloads: list[WirePayload] = Field(max_length=1000)


def _to_wire(payloads: list[Payload]) -> WirePayloads:
    # Protobuf's own JSON form, as the protocol asks, then checked into our response model.
    document = json_format.MessageToDict(Payloads(payloads=payloads))
    return WirePayloads.model_validate({"payloads": document.get("payloads", [])})


def _codec(request: Request) -> EncryptionCodec | None:
    codec: EncryptionCodec | None = request.app.state.codec
    return codec


_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "no or unknown key, and no valid console sign-in"},
    403: {"description": "not an ops key, or a console sign-in sent from outside the Temporal UI"},
}


@router.post("/encode", response_model=WirePayloads, responses=_RESPONSES)
async def encode(body: WirePayloads, request: Request, _: OpsOnly) -> WirePayloads:
    """Encrypt payloads with the current key (the UI uses this to send signals and updates)."""
    codec = _codec(request)
    payloads = [p.to_proto() for p in body.payloads]
    return _to_wire(await codec.encode(payloads) if codec is not None else payloads)


@router.post(
    "/decode",
    response_model=WirePayloads,
    responses={**_RESPONSES, 422: {"description": "a payload is not valid base64, or cannot be decrypted"}},
)
async def decode(body: WirePayloads, request: Request, _: OpsOnly) -> WirePayloads:
    """Decrypt payloads encrypted under any configured key; other payloads pass unchanged."""
    codec = _codec(request)
    payloads = [p.to_proto() for p in body.payloads]
    if codec is None:
        return _to_wire(payloads)
    try:
        return _to_wire(await codec.decode(payloads))
    except PayloadDecryptionError as error:
        raise ProblemError(422, str(error), type_="/problems/undecryptable-payload") from None


class CodecCors:
    """CORS for the codec paths only, for the Temporal UI's origins only; every other path of the
    API stays without CORS (browsers keep refusing cross-origin calls to it). Credentialed: the
    answer names the caller's origin (never `*`) and allows credentials, so that a browser sends
    the console's codec pass with the UI's `credentials: 'include'` fetch and lets the UI read it."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace", "X-API-Key"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(PREFIX + "/"):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def install_codec(app: FastAPI, settings: Settings) -> None:
    """The codec routes and their CORS (called by api.app.create_app)."""
    keys = codec_keys_of(settings)  # a malformed OMS_CODEC_KEYS fails here, at start
    app.state.codec = EncryptionCodec(keys) if keys is not None else None
    origins = settings.codec_allowed_origins()
    app.state.codec_origins = frozenset(origins)
    app.state.codec_loopback_open = loopback_open_at_start(settings)  # a non-loopback OMS_API_HOST fails here
    app.include_router(router)
    app.add_middleware(CodecCors, origins=origins)
