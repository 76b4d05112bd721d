"""The ops console's pages and form posts, as a FastAPI app mounted at /ops/ui.

A mounted app of its own because it speaks another dialect than the API: HTML pages and
redirects instead of problem documents, a session cookie instead of `X-API-Key` (api.console.session),
and routes that are no part of the API's OpenAPI contract. What it does goes through the API's own
functions: ops actions through `api.routers.ops.apply_action` (a Temporal update on the order's
workflow), complaint resolution through `api.routers.feedback.resolve_complaint`, the report through
`store.reports.summary` (as GET /reports/summary); it reads the projection and never calls an adapter.

Every POST carries the session's CSRF token; a form with bad input shows a message and changes nothing.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from api.auth import Principal
from api.console import charts
from api.console.session import (
    CSRF_FIELD,
    ConsoleLogins,
    ConsoleSession,
    SessionCodec,
    principal_of_key,
)
from api.problems import ProblemError
from api.routers.feedback import ComplaintStatus, ResolveBody, complaint_out, resolve_complaint
from api.routers.ops import ActionBody, apply_action, queue_item
from api.routers.orders import ContactBody, LinesBody, apply_contact_change, apply_lines_edit
from api.throttle import FailureLimiter
from config.settings import ApiKeyEntry, Settings, api_key_digest
from domain.enums import OpsActionKind, OrderStatus, Role
from store import feedback as feedback_store
from store import projection, reports

PREFIX = "/ops/ui"
_HERE = Path(__file__).parent
# Failed sign-ins (api.throttle): per client address LOGIN_BURST, then one per LOGIN_RETRY_SECONDS;
# per presented key (by digest) LOGIN_KEY_BURST, then one per LOGIN_KEY_RETRY_SECONDS, which stops
# one key being tried from many addresses. Each table keeps at most LOGIN_TABLE_SIZE names.
LOGIN_BURST, LOGIN_RETRY_SECONDS = 20, 3
LOGIN_KEY_BURST, LOGIN_KEY_RETRY_SECONDS = 10, 30
LOGIN_TABLE_SIZE = 10_000
MAX_FIELD = 200  # longest search term or id accepted from a form
# Actions a queue row offers as one click; the others need input (a carrier, a note): on the order page.
ONE_CLICK = (
    OpsActionKind.APPROVE,
    OpsActionKind.REJECT,
    OpsActionKind.RETRY,
    OpsActionKind.SKIP,
    OpsActionKind.CANCEL,
)
# plotly.js needs inline styles (it styles the SVG it draws); nothing needs inline script or eval.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",  # one-click actions must not be clickable through someone else's frame
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Console:
    """What every console request needs. `api` is the API app: its sessions and Temporal client may
    be connected only by its lifespan, after the console was built."""

    api: FastAPI
    settings: Settings
    keys: tuple[ApiKeyEntry, ...]
    codec: SessionCodec
    logins: ConsoleLogins
    templates: Jinja2Templates
    failed_logins_by_address: FailureLimiter
    failed_logins_by_key: FailureLimiter

    @property
    def sessions(self) -> sessionmaker[Session]:
        sessions: sessionmaker[Session] = self.api.state.sessions
        return sessions

    @property
    def client(self) -> Client:
        client: Client = self.api.state.temporal
        return client

    def temporal_ui_url(self, workflow_id: str) -> str:
        ns = quote(self.settings.temporal_namespace, safe="")
        return f"http://localhost:{self.settings.temporal_ui_port}/namespaces/{ns}/workflows/{quote(workflow_id, safe='')}"


class LoginRequired(Exception):
    """No signed-in ops session: the answer is the login page."""


@dataclass
class Visit:
    """One request's console, session and (when signed in) principal; renders pages and redirects,
    writing the session cookie back on each."""

    request: Request
    console: Console
    session: ConsoleSession
    principal: Principal | None

    def render(self, template: str, http_status: int = 200, **context: Any) -> Response:
        context.update(
            user=self.principal.name if self.principal else None,
            csrf_field=CSRF_FIELD,
            csrf_token=self.session.csrf,
            messages=self.session.take_flash(),
            prefix=PREFIX,
        )
        response = self.console.templates.TemplateResponse(
            self.request, template, context, status_code=http_status
        )
        return self._finish(response)

    def redirect(self, path: str) -> Response:
        return self._finish(RedirectResponse(PREFIX + path, status_code=303))

    def _finish(self, response: Response) -> Response:
        self.console.codec.store(self.request, response, self.session)
        # The Temporal UI's pass to /codec lives exactly while this browser is signed in: set or
        # renewed with the session, deleted without one (api.console.session, "The codec pass").
        # By the session as it is now, not self.principal: that was read before this request's
        # sign-in or sign-out.
        self.console.codec.store_codec_pass(self.request, response, self.session)
        response.headers.update(SECURITY_HEADERS)
        return response


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def visit(request: Request) -> Visit:
    """Blocking (one database read for a signed-in cookie): a sync dependency, so FastAPI runs it
    in the thread pool; the exception handlers call it through run_in_threadpool."""
    console = _console(request)
    session = console.codec.load(request)
    return Visit(request, console, session, console.logins.principal(session))


def signed_in(request: Request) -> Visit:
    found = visit(request)
    if found.principal is None:
        raise LoginRequired()
    return found


AnyVisit = Annotated[Visit, Depends(visit)]
OpsVisit = Annotated[Visit, Depends(signed_in)]


async def posted_form(request: Request, found: Visit) -> FormData:
    """The posted form, once its CSRF token matched the session's (else 403, nothing done)."""
    form = await request.form()
    if not found.session.csrf_ok(form.get(CSRF_FIELD)):
        raise StarletteHTTPException(
            403, "This form was not sent by this console session. Reload the page and try again."
        )
    return form


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _validation_message(error: ValidationError) -> str:
    """Every bad field named: `field: message; field: message`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()
    )


def _age(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


# --- signing in and out -----------------------------------------------------------------------


async def login_page(found: AnyVisit) -> Response:
    if found.principal is not None:
        return found.redirect("/queue")
    return found.render("login.html")


async def login(request: Request, found: AnyVisit) -> Response:
    form = await posted_form(request, found)
    console = found.console
    address = request.client.host if request.client else "unknown"
    key = form_text(form, "api_key")
    digest = api_key_digest(key).hex() if key else None  # the key itself is never kept
    # Asked before the key is looked at: past either limit even the right key waits, so guessing
    # stops there. Only failures are counted (the login form and a good sign-in cost nothing).
    waits = [console.failed_logins_by_address.wait(address)]
    if digest is not None:
        waits.append(console.failed_logins_by_key.wait(digest))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        response = found.render(
            "login.html", http_status=429, error=f"Too many failed sign-ins: try again in {wait} s."
        )
        response.headers["Retry-After"] = str(wait)
        return response
    principal = principal_of_key(console.keys, key) if key else None
    if principal is None or principal.role is not Role.OPS:
        console.failed_logins_by_address.fail(address)
        if digest is not None:
            console.failed_logins_by_key.fail(digest)
    if principal is None:
        return found.render("login.html", http_status=401, error="Unknown API key.")
    if principal.role is not Role.OPS:
        return found.render(
            "login.html",
            http_status=403,
            error=f"The console is for ops keys; a {principal.role.value} key may not sign in.",
        )
    await run_in_threadpool(console.logins.sign_in, found.session, principal, key)
    found.session.tell("ok", f"Signed in as {principal.name}.")
    return found.redirect("/queue")


async def logout(request: Request, found: AnyVisit) -> Response:
    await posted_form(request, found)
    await run_in_threadpool(found.console.logins.sign_out, found.session)
    found.session.tell("ok", "Signed out.")
    return found.redirect("/login")


# --- pages ------------------------------------------------------------------------------------


async def home(found: OpsVisit) -> Response:
    return found.redirect("/queue")


async def queue(found: OpsVisit) -> Response:
    orders = await run_in_threadpool(projection.ops_queue, found.console.sessions, limit=200)
    now = datetime.now(UTC)
    items = [queue_item(order, now) for order in orders]
    return found.render("queue.html", items=items, one_click=ONE_CLICK, page="queue")


async def search(found: OpsVisit, request: Request) -> Response:
    params = request.query_params
    order_id = params.get("order_id", "").strip()
    customer_id = params.get("customer_id", "").strip()
    status = params.get("status", "").strip()
    cursor = params.get("cursor", "").strip()
    statuses = [s.value for s in OrderStatus]
    errors = [
        f"{name}: at most {MAX_FIELD} characters"
        for name, value in (("order_id", order_id), ("customer_id", customer_id), ("cursor", cursor))
        if len(value) > MAX_FIELD
    ]
    if status and status not in statuses:
        errors.append(f"status: must be one of {', '.join(statuses)}")
    context: dict[str, Any] = {
        "statuses": statuses,
        "order_id": order_id,
        "customer_id": customer_id,
        "status": status,
        "page": "orders",
    }
    if errors:
        return found.render("orders.html", http_status=422, errors=errors, orders=[], **context)
    sessions = found.console.sessions
    if order_id:
        order = await run_in_threadpool(projection.get_order, sessions, order_id)
        if order is not None:
            return found.redirect(f"/orders/{quote(order_id, safe='')}")
        return found.render(
            "orders.html", http_status=404, errors=[f"order_id: no order {order_id}"], orders=[], **context
        )
    try:
        orders, next_cursor = await run_in_threadpool(
            lambda: projection.list_orders(
                sessions,
                status=status or None,
                customer_id=customer_id or None,
                limit=50,
                cursor=cursor or None,
            )
        )
    except projection.InvalidCursor:
        return found.render(
            "orders.html", http_status=422, errors=["cursor: not a cursor of this list"], orders=[], **context
        )
    next_url = None
    if next_cursor:
        query = {k: v for k, v in (("customer_id", customer_id), ("status", status)) if v}
        next_url = f"{PREFIX}/orders?{urlencode({**query, 'cursor': next_cursor})}"
    return found.render("orders.html", orders=orders, next_url=next_url, errors=[], **context)


async def order_page(order_id: str, found: OpsVisit) -> Response:
    order = await run_in_threadpool(projection.get_order, found.console.sessions, order_id)
    if order is None:
        raise StarletteHTTPException(404, f"No order {order_id}.")
    return found.render(
        "order.html",
        order=order,
        item=queue_item(order, datetime.now(UTC)),
        temporal_url=found.console.temporal_ui_url(order.workflow_id),
        page="orders",
    )


async def act(order_id: str, request: Request, found: OpsVisit) -> Response:
    form = await posted_form(request, found)
    back = "/queue" if form_text(form, "next") == "queue" else f"/orders/{quote(order_id, safe='')}"
    carrier = form_text(form, "carrier")
    try:
        body = ActionBody.model_validate(
            {
                "action": form_text(form, "action"),
                "note": form_text(form, "note") or None,
                "params": {"carrier": carrier}
                if carrier
                else {**_move_params(form), **_resolution_params(form)},
            }
        )
    except ValidationError as error:
        found.session.tell("error", f"Nothing done to {order_id}: {_validation_message(error)}")
        return found.redirect(back)
    assert found.principal is not None  # signed_in
    try:
        after = await apply_action(
            found.console.client, found.console.sessions, order_id, body, found.principal.name
        )
    except ProblemError as problem:
        fields = "; ".join(f"{p.field}: {p.message}" for p in problem.errors or [])
        found.session.tell(
            "error",
            f"{body.action.value} on {order_id} refused: {problem.detail}"
            + (f" ({fields})" if fields else ""),
        )
        return found.redirect(back)
    found.session.tell("ok", f"{body.action.value} applied to {order_id}: it is {after.status.value} now.")
    return found.redirect(back)


def _typed_lines(text: str) -> list[dict[str, Any]]:
    """Lines typed as `SKU:QTY, SKU:QTY` (a part that is not SKU:QTY goes on as it is, and the
    validation names it)."""
    lines: list[dict[str, Any]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        sku, _, quantity = part.rpartition(":")
        lines.append(
            {"sku": sku.strip(), "quantity": int(quantity)}
            if sku and quantity.strip().isdigit()
            else {"sku": part}
        )
    return lines


def _refused(problem: ProblemError) -> str:
    fields = "; ".join(f"{p.field}: {p.message}" for p in problem.errors or [])
    return problem.detail + (f" ({fields})" if fields else "")


async def edit_lines_form(order_id: str, request: Request, found: OpsVisit) -> Response:
    """The order page's "Change lines" form: PATCH /orders/{id}/lines as the signed-in key."""
    form = await posted_form(request, found)
    back = f"/orders/{quote(order_id, safe='')}"
    try:
        body = LinesBody.model_validate({"lines": _typed_lines(form_text(form, "lines"))})
    except ValidationError as error:
        found.session.tell("error", f"Lines of {order_id} not changed: {_validation_message(error)}")
        return found.redirect(back)
    assert found.principal is not None  # signed_in
    try:
        after = await apply_lines_edit(
            found.console.client, found.console.sessions, order_id, body.lines, found.principal
        )
    except ProblemError as problem:
        found.session.tell("error", f"Lines of {order_id} not changed: {_refused(problem)}")
        return found.redirect(back)
    found.session.tell(
        "ok", f"Lines of {order_id} changed: the total is {after.totals.grand_total} {after.currency} now."
    )
    return found.redirect(back)


async def edit_contact_form(order_id: str, request: Request, found: OpsVisit) -> Response:
    """The order page's "Change contact" form: PATCH /orders/{id}/contact (fields left as they
    were are not sent)."""
    form = await posted_form(request, found)
    back = f"/orders/{quote(order_id, safe='')}"
    order = await run_in_threadpool(projection.get_order, found.console.sessions, order_id)
    if order is None:
        raise StarletteHTTPException(404, f"No order {order_id}.")
    email, phone = form_text(form, "email"), form_text(form, "phone")
    try:
        body = ContactBody.model_validate(
            {
                **({"email": email} if email and email != order.customer.email else {}),
                **({"phone": phone} if phone and phone != (order.customer.phone or "") else {}),
            }
        )
    except ValidationError as error:
        found.session.tell("error", f"Contact of {order_id} not changed: {_validation_message(error)}")
        return found.redirect(back)
    assert found.principal is not None  # signed_in
    try:
        await apply_contact_change(
            found.console.client, found.console.sessions, order_id, body, found.principal
        )
    except ProblemError as problem:
        found.session.tell("error", f"Contact of {order_id} not changed: {_refused(problem)}")
        return found.redirect(back)
    found.session.tell("ok", f"Contact of {order_id} changed.")
    return found.redirect(back)


def _move_params(form: FormData) -> dict[str, str]:
    """The parcel and the warehouse of a `move` from the order page (empty fields left out)."""
    return {name: value for name in ("shipment_id", "warehouse") if (value := form_text(form, name))}


def _resolution_params(form: FormData) -> dict[str, Any]:
    """The params of a refund, reship or reject_claim form: amount, claim_id, and lines typed as
    `SKU:QTY, SKU:QTY` (a line that is not SKU:QTY goes on as it is, and the API names it: 422)."""
    params: dict[str, Any] = {name: value for name in ("amount", "claim_id") if (value := form_text(form, name))}
    typed = [part.strip() for part in form_text(form, "lines").split(",") if part.strip()]
    if typed:
        lines: list[Any] = []
        for part in typed:
            sku, _, quantity = part.rpartition(":")
            lines.append(
                {"sku": sku, "quantity": int(quantity)} if sku and quantity.isdigit() else {"sku": part}
            )
        params["lines"] = lines
    return params


async def alerts(found: OpsVisit) -> Response:
    levels = await run_in_threadpool(projection.stock_alerts, found.console.sessions)
    return found.render("alerts.html", levels=levels, page="alerts")


async def complaints(found: OpsVisit, request: Request) -> Response:
    wanted = request.query_params.get("status", ComplaintStatus.OPEN.value)
    if wanted not in {s.value for s in ComplaintStatus}:
        found.session.tell("error", f"status: must be one of {', '.join(s.value for s in ComplaintStatus)}")
        wanted = ComplaintStatus.OPEN.value
    found_complaints = await run_in_threadpool(
        lambda: feedback_store.list_complaints(found.console.sessions, status=wanted, limit=200)
    )
    now = datetime.now(UTC)
    items = [complaint_out(c, now) for c in found_complaints]
    return found.render("complaints.html", items=items, wanted=wanted, page="complaints")


async def resolve(complaint_id: str, request: Request, found: OpsVisit) -> Response:
    form = await posted_form(request, found)
    try:
        body = ResolveBody.model_validate({"note": form_text(form, "note")})
    except ValidationError as error:
        found.session.tell("error", f"Complaint {complaint_id} not resolved: {_validation_message(error)}")
        return found.redirect("/complaints")
    assert found.principal is not None  # signed_in
    try:
        await run_in_threadpool(
            resolve_complaint, found.console.sessions, complaint_id, body, found.principal.name
        )
    except ProblemError as problem:
        found.session.tell("error", f"Complaint {complaint_id} not resolved: {problem.detail}")
        return found.redirect("/complaints")
    found.session.tell("ok", f"Complaint {complaint_id} resolved.")
    return found.redirect("/complaints")


def _day(params: dict[str, str], name: str, errors: list[str]) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{name}: not a date (YYYY-MM-DD)")
        return None


async def dashboard(found: OpsVisit, request: Request) -> Response:
    """The report of orders created from `from` to `to` (days, both included), as charts."""
    params = dict(request.query_params)
    errors: list[str] = []
    first, last = _day(params, "from", errors), _day(params, "to", errors)
    if first and last and last < first:
        errors.append("to: before from")
    context: dict[str, Any] = {
        "first": params.get("from", ""),
        "last": params.get("to", ""),
        "page": "dashboard",
    }
    if errors:
        return found.render(
            "dashboard.html", http_status=422, errors=errors, summary=None, charts={}, **context
        )
    since = datetime.combine(first, time(), UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), UTC) if last else None
    sessions = found.console.sessions
    summary = await run_in_threadpool(reports.summary, sessions, since, until)
    figures = charts.dashboard_charts(summary)
    return found.render("dashboard.html", errors=[], summary=summary, charts=figures, **context)


def plotly_js() -> FileResponse:
    """plotly.js as the plotly wheel ships it (pinned in pyproject.toml): no CDN, no vendored copy."""
    path = resources.files("plotly") / "package_data" / "plotly.min.js"
    return FileResponse(
        str(path), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


# --- the app ----------------------------------------------------------------------------------


def build_console(api: FastAPI, settings: Settings) -> FastAPI:
    console_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.globals.update(age=_age, when=_when)
    keys = settings.api_key_entries()
    codec = SessionCodec(settings)

    def database() -> sessionmaker[Session]:
        sessions: sessionmaker[Session] = api.state.sessions  # connected by the API's lifespan
        return sessions

    console_app.state.console = Console(
        api=api,
        settings=settings,
        keys=keys,
        codec=codec,
        logins=ConsoleLogins(
            cookies=codec, keys=keys, database=database, lifetime=settings.console_session_max_age
        ),
        templates=templates,
        failed_logins_by_address=FailureLimiter(LOGIN_BURST, LOGIN_RETRY_SECONDS, LOGIN_TABLE_SIZE),
        failed_logins_by_key=FailureLimiter(LOGIN_KEY_BURST, LOGIN_KEY_RETRY_SECONDS, LOGIN_TABLE_SIZE),
    )
    get, post = console_app.get, console_app.post
    get("/")(home)
    get("/login")(login_page)
    post("/login")(login)
    post("/logout")(logout)
    get("/queue")(queue)
    get("/orders")(search)
    get("/orders/{order_id}")(order_page)
    post("/orders/{order_id}/actions")(act)
    post("/orders/{order_id}/lines")(edit_lines_form)
    post("/orders/{order_id}/contact")(edit_contact_form)
    # Replenishment and cycle counts (api.console.stock, imported here: it builds on this module).
    from api.console.stock import add_stock_pages

    add_stock_pages(console_app)
    get("/alerts")(alerts)
    get("/complaints")(complaints)
    post("/complaints/{complaint_id}/resolve")(resolve)
    get("/dashboard")(dashboard)
    get("/vendor/plotly.min.js")(plotly_js)
    console_app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    @console_app.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        found = await run_in_threadpool(visit, request)
        if request.method == "POST":
            found.session.tell("error", "Your session ended: sign in again; nothing was done.")
        return found.redirect("/login")

    @console_app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, error: StarletteHTTPException) -> Response:
        found = await run_in_threadpool(visit, request)
        return found.render("error.html", http_status=error.status_code, detail=error.detail)

    return console_app


def install_console(api: FastAPI) -> None:
    """Mount the console on the API app at /ops/ui (one line in `create_app`)."""
    settings: Settings = api.state.settings
    console_app = build_console(api, settings)
    api.mount(PREFIX, console_app, name="console")
    # The codec server admits the console's signed-in ops users (api.routers.codec).
    console: Console = console_app.state.console
    api.state.console_logins = console.logins


__all__ = ["build_console", "install_console"]
