"""`oms ops`: the operations desk in a terminal, over the HTTP API only.

The commands talk to `/ops/orders`, `/ops/complaints` and `/orders/{id}` with an ops key, like any
other client: nothing here touches Temporal or the database. Rendering is pure (JSON in, rich renderables out)
so it is testable on real API answers. Every value from the API reaches Rich through
`cli.terminal.literal`: comments, notes and names are customers' and operators' text, never markup.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table

from cli.terminal import literal, visible_controls
from config.settings import Settings, api_base_url, first_key_with_role

Json = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Talking to the API


class ApiProblem(Exception):
    """A non-2xx answer, carrying its problem document (or what the server sent instead)."""

    def __init__(self, status: int, problem: Json) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem


def resolve_base_url(api_url: str | None, settings: Settings | None = None) -> str:
    """`--api-url`, else OMS_API_URL (settings.api_url), else http://{api_host}:{api_port}."""
    if api_url:
        return api_url.rstrip("/")
    return api_base_url(settings or Settings())


def resolve_api_key(
    api_key: str | None, settings: Settings | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """`--api-key`, else OMS_OPS_KEY, else the first ops key of OMS_API_KEYS (dev keys by default)."""
    if api_key:
        return api_key
    env = os.environ if environ is None else environ
    if env.get("OMS_OPS_KEY"):
        return env["OMS_OPS_KEY"]
    return first_key_with_role((settings or Settings()).api_key_table(), "ops")


class OpsApi:
    """The few calls `oms ops` makes; every non-2xx answer raises ApiProblem."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    @classmethod
    @contextmanager
    def connect(cls, base_url: str, api_key: str | None, timeout: float = 30.0) -> Iterator[OpsApi]:
        headers = {"X-API-Key": api_key} if api_key else {}
        with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as http:
            yield cls(http)

    def _answer(self, response: httpx.Response) -> Json:
        try:
            body = response.json()
        except ValueError:
            body = {"title": response.reason_phrase, "detail": response.text[:500]}
        if response.is_success:
            if not isinstance(body, dict):
                raise ApiProblem(response.status_code, {"title": "Unexpected answer", "detail": str(body)[:500]})
            return body
        if not isinstance(body, dict):
            body = {"detail": str(body)[:500]}
        body.setdefault("status", response.status_code)
        body.setdefault("title", response.reason_phrase)
        raise ApiProblem(response.status_code, body)

    def queue(self, *, attention: bool = False, held: bool = False, limit: int = 100) -> list[Json]:
        params: dict[str, str | int] = {"limit": limit}
        if attention and not held:
            params["needs_attention"] = "true"
        elif held and not attention:
            params["status"] = "on_hold"
        items: list[Json] = self._answer(self.http.get("/ops/orders", params=params))["items"]
        return items

    def order(self, order_id: str) -> Json:
        return self._answer(self.http.get(f"/orders/{order_id}"))

    def act(self, order_id: str, action: str, note: str | None = None, params: Json | None = None) -> Json:
        body: Json = {"action": action, "params": params or {}}
        if note is not None:
            body["note"] = note
        return self._answer(self.http.post(f"/ops/orders/{order_id}/actions", json=body))

    def edit_lines(self, order_id: str, lines: list[Json]) -> Json:
        return self._answer(self.http.patch(f"/orders/{order_id}/lines", json={"lines": lines}))

    def edit_contact(self, order_id: str, contact: Json) -> Json:
        return self._answer(self.http.patch(f"/orders/{order_id}/contact", json=contact))

    def complaints(self, *, resolved: bool = False, limit: int = 100) -> list[Json]:
        params: dict[str, str | int] = {"status": "resolved" if resolved else "open", "limit": limit}
        items: list[Json] = self._answer(self.http.get("/ops/complaints", params=params))["items"]
        return items

    def resolve_complaint(self, complaint_id: str, note: str) -> Json:
        return self._answer(self.http.post(f"/ops/complaints/{complaint_id}/resolve", json={"note": note}))

    def replenishment(self, *, sku: str | None = None, warehouse: str | None = None, every: bool = False) -> Json:
        params = {k: v for k, v in (("sku", sku), ("warehouse", warehouse)) if v is not None}
        if every:
            params["all"] = "true"
        return self._answer(self.http.get("/inventory/replenishment", params=params))

    def put_reorder_rule(self, sku: str, warehouse: str, rule: Json) -> Json:
        return self._answer(self.http.put(f"/inventory/reorder-rules/{sku}/{warehouse}", json=rule))

    def transfer(self, body: Json, idempotency_key: str | None = None) -> Json:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._answer(self.http.post("/inventory/transfers", json=body, headers=headers))


# ---------------------------------------------------------------------------------------------
# Rendering (pure)


def format_age(seconds: float) -> str:
    """A compact age: 45s, 12m, 3h05m, 2d04h."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def format_time(value: str | None) -> str:
    """ISO-8601 from the API as `YYYY-MM-DD HH:MM:SS` UTC."""
    if not value:
        return "-"
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _add_row(table: Table, *cells: object) -> None:
    """A row of data: each cell literal (cli.terminal), never parsed as markup."""
    table.add_row(*(literal(cell) for cell in cells))


def queue_table(items: Sequence[Json]) -> Table:
    table = Table(title=f"Ops queue: {len(items)} order(s), oldest first", title_justify="left")
    for column in ("order", "status", "attention", "reason", "since (UTC)", "age", "actions", "customer"):
        table.add_column(column, no_wrap=column in ("order", "since (UTC)"))
    table.add_column("total", justify="right")
    for item in items:
        _add_row(
            table,
            item["order_id"],
            item["status"],
            "yes" if item["needs_attention"] else "",
            item.get("reason") or "-",
            format_time(item.get("since")),
            format_age(item.get("age_seconds", 0)),
            ", ".join(item.get("available_actions") or []) or "-",
            item.get("customer_id", ""),
            str(item.get("total", "")),
        )
    return table


def complaints_table(items: Sequence[Json], *, resolved: bool = False) -> Table:
    """`oms ops complaints`: the after-sales complaints queue, oldest first."""
    kind = "resolved" if resolved else "open"
    table = Table(title=f"Complaints: {len(items)} {kind}, oldest first", title_justify="left")
    for column in ("complaint", "order", "rating", "comment", "opened (UTC)", "age"):
        table.add_column(column, no_wrap=column in ("complaint", "order", "opened (UTC)"))
    if resolved:
        for column in ("resolved by", "note", "service rating"):
            table.add_column(column)
    for item in items:
        row = [
            item["complaint_id"],
            item["order_id"],
            str(item.get("rating", "")),
            item.get("comment") or "-",
            format_time(item.get("opened_at")),
            format_age(item.get("age_seconds", 0)),
        ]
        if resolved:
            rating = item.get("service_rating")
            row += [item.get("resolved_by") or "-", item.get("note") or "-", "-" if rating is None else str(rating)]
        _add_row(table, *row)
    return table


def order_summary(order: Json) -> Table:
    table = Table(title=literal(f"Order {order['order_id']}"), show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    hold = order.get("hold")
    totals = order.get("totals") or {}
    payment = order.get("payment") or {}
    address = order.get("shipping_address") or {}
    rows: list[tuple[str, str]] = [
        ("status", order["status"]),
        ("needs attention", f"yes: {order.get('attention_reason') or '-'}" if order.get("needs_attention") else "no"),
        ("hold", f"{hold['reason']} (since {format_time(hold.get('since'))})" if hold else "-"),
        ("available actions", ", ".join(order.get("available_actions") or []) or "-"),
        ("customer", f"{order['customer']['id']} {order['customer'].get('name', '')}".strip()),
        ("channel", order.get("channel", "")),
        ("total", f"{totals.get('grand_total', '')} {order.get('currency', '')}".strip()),
        ("payment", f"{payment.get('status', '')} ({payment.get('method', '')})"),
        ("ship to", ", ".join(str(address[k]) for k in ("name", "line1", "city", "postal_code", "country") if address.get(k))),
        ("created", format_time(order.get("created_at"))),
        ("updated", format_time(order.get("updated_at"))),
        ("workflow", order.get("workflow_id", "")),
    ]
    for shipment in order.get("shipments") or []:
        carrier = " ".join(filter(None, [shipment.get("carrier"), shipment.get("tracking_number")]))
        rows.append(
            (f"parcel {shipment['shipment_id']}", f"{shipment['status']} from {shipment['warehouse']} {carrier}".strip())
        )
    for claim in order.get("claims") or []:
        lines = ", ".join(f"{line['sku']} x{line['quantity']}" for line in claim.get("lines") or [])
        answer = f": {claim['note']}" if claim.get("note") else ""
        rows.append(
            (f"claim {claim['claim_id']}", f"{claim['status']} {claim['kind']} on {claim['shipment_id']} ({lines}){answer}")
        )
    for label, value in rows:
        _add_row(table, label, value)
    return table


def _detail_text(detail: Mapping[str, Any]) -> str:
    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)

    return ", ".join(f"{key}={text(value)}" for key, value in detail.items())


def timeline_table(entries: Sequence[Json]) -> Table:
    table = Table(title="Timeline", title_justify="left")
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("status")
    table.add_column("event")
    table.add_column("actor")
    table.add_column("detail")
    for entry in entries:
        _add_row(
            table,
            format_time(entry.get("at")),
            entry.get("status", ""),
            entry.get("event", ""),
            entry.get("actor", ""),
            _detail_text(entry.get("detail") or {}),
        )
    return table


def order_view(order: Json) -> Group:
    """`oms ops show`: the summary, then the whole timeline."""
    return Group(order_summary(order), timeline_table(order.get("timeline") or []))


def problem_text(status: int, problem: Mapping[str, Any]) -> str:
    """A problem document as lines: `title (status): detail`, then one line per bad field."""
    title = problem.get("title") or "Error"
    lines = [f"{title} ({status}): {problem.get('detail') or ''}".rstrip(": ")]
    for error in problem.get("errors") or []:
        lines.append(f"  {error.get('field', '?')}: {error.get('message', '')}")
    return "\n".join(lines)


def render_text(renderable: RenderableType, width: int = 160) -> str:
    """What the console would print, as plain text (for tests and pipes)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(renderable)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The `oms ops` commands

ops_app = typer.Typer(help="Operations: held and stuck orders, complaints, and actions on them (over the HTTP API).",
                      no_args_is_help=True)

ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", envvar="OMS_API_URL", help="API base URL (default: http://OMS_API_HOST:OMS_API_PORT)"),
]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="OMS_OPS_KEY", help="ops API key (default: the first ops key of OMS_API_KEYS)"),
]
Note = Annotated[str | None, typer.Option("--note", help="free text recorded with the action (max 2000)")]
OrderId = Annotated[str, typer.Argument(help="the order id")]


def _console() -> Console:
    return Console()


@contextmanager
def _api(api_url: str | None, api_key: str | None) -> Iterator[OpsApi]:
    """An API session; problems and connection failures end the command with exit code 1."""
    settings = Settings()
    base_url = resolve_base_url(api_url, settings)
    try:
        with OpsApi.connect(base_url, resolve_api_key(api_key, settings)) as api:
            yield api
    except ApiProblem as problem:
        typer.echo(visible_controls(problem_text(problem.status, problem.problem)), err=True)
        raise typer.Exit(1) from None
    except httpx.HTTPError as error:
        typer.echo(f"cannot reach the API at {base_url}: {error}", err=True)
        raise typer.Exit(1) from None


@ops_app.command("list")
def list_command(
    attention: Annotated[bool, typer.Option("--attention", help="only orders that need attention")] = False,
    held: Annotated[bool, typer.Option("--held", help="only orders on hold")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Held and stuck orders, oldest first (both kinds unless --attention or --held)."""
    with _api(api_url, api_key) as api:
        items = api.queue(attention=attention, held=held, limit=limit)
    _console().print(queue_table(items))


@ops_app.command("show")
def show_command(order_id: OrderId, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """One order: summary and timeline."""
    with _api(api_url, api_key) as api:
        order = api.order(order_id)
    _console().print(order_view(order))


def _act(
    order_id: str, action: str, note: str | None, params: Json | None, api_url: str | None, api_key: str | None
) -> None:
    with _api(api_url, api_key) as api:
        order = api.act(order_id, action, note=note, params=params)
    _console().print(literal(f"{action}: order {order['order_id']} is now {order['status']}"))
    _console().print(order_summary(order))


def _simple_action(action: str, doc: str) -> None:
    def command(order_id: OrderId, note: Note = None, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
        _act(order_id, action, note, None, api_url, api_key)

    command.__doc__ = doc
    ops_app.command(action)(command)


_simple_action("approve", "Release a held order.")
_simple_action("reject", "Refuse a held order: it is cancelled.")
_simple_action("retry", "Run a parked step again (after fixing its cause).")
_simple_action("skip", "Go past a step that can be skipped.")
_simple_action("cancel", "Cancel the order (with its compensations).")


@ops_app.command("note")
def note_command(
    order_id: OrderId,
    note: Annotated[str, typer.Option("--note", help="the note (max 2000)")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Add a note to the order's timeline."""
    _act(order_id, "note", note, None, api_url, api_key)


@ops_app.command("request-info")
def request_info_command(
    order_id: OrderId,
    note: Annotated[str, typer.Option("--note", help="what the customer is asked (max 2000)")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Ask the customer for information; the hold goes on."""
    _act(order_id, "request_info", note, None, api_url, api_key)


@ops_app.command("reroute")
def reroute_command(
    order_id: OrderId,
    carrier: Annotated[str, typer.Option("--carrier", help="the carrier to use instead, e.g. swift")],
    note: Note = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Send a parcel whose label was refused with another carrier."""
    _act(order_id, "reroute", note, {"carrier": carrier}, api_url, api_key)


@ops_app.command("hold")
def hold_command(
    order_id: OrderId,
    note: Annotated[str, typer.Option("--note", help="why the order is held (max 2000)")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Hold the parcels the carrier has not got yet: no pick, no label until release."""
    _act(order_id, "hold", note, None, api_url, api_key)


_simple_action("release", "End an ops hold: the parcels go on where they stopped.")


@ops_app.command("move")
def move_command(
    order_id: OrderId,
    shipment: Annotated[str, typer.Option("--shipment", help="the parcel, e.g. ORDER-1-S1")],
    warehouse: Annotated[str, typer.Option("--warehouse", help="the warehouse to ship it from instead")],
    note: Note = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Ship a parcel not yet picked from another warehouse (its stock is reserved there)."""
    _act(order_id, "move", note, {"shipment_id": shipment, "warehouse": warehouse}, api_url, api_key)


def parse_lines(values: Sequence[str]) -> list[Json]:
    """`SKU:QTY` options as `[{"sku", "quantity"}]`."""
    lines: list[Json] = []
    for value in values:
        sku, _, quantity = value.rpartition(":")
        if not sku or not quantity.isdigit():
            raise typer.BadParameter(f"{value!r}: expected SKU:QTY, e.g. SKU-RED-M:1", param_hint="--line")
        lines.append({"sku": sku, "quantity": int(quantity)})
    return lines


Lines = Annotated[list[str] | None, typer.Option("--line", help="SKU:QTY; repeat for more lines")]
Claim = Annotated[str | None, typer.Option("--claim", help="the claim this answers, e.g. ORDER-C1")]


@ops_app.command("refund")
def refund_command(
    order_id: OrderId,
    note: Annotated[str, typer.Option("--note", help="why (required, max 2000)")],
    amount: Annotated[str | None, typer.Option("--amount", help="a decimal amount, e.g. 10.00")] = None,
    line: Lines = None,
    shipment: Annotated[str | None, typer.Option("--shipment", help="an undeliverable parcel it resolves")] = None,
    claim: Claim = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Refund an amount or lines (never more than captured minus refunded); the customer is told."""
    params: Json = {}
    if amount is not None:
        params["amount"] = amount
    if line:
        params["lines"] = parse_lines(line)
    if shipment is not None:
        params["shipment_id"] = shipment
    if claim is not None:
        params["claim_id"] = claim
    _act(order_id, "refund", note, params, api_url, api_key)


@ops_app.command("reship")
def reship_command(
    order_id: OrderId,
    shipment: Annotated[str | None, typer.Option("--shipment", help="the parcel to send again")] = None,
    line: Lines = None,
    claim: Claim = None,
    note: Note = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Send a parcel returned to sender, lost, damaged or under a claim again (stock reserved anew)."""
    params: Json = {}
    if shipment is not None:
        params["shipment_id"] = shipment
    if line:
        params["lines"] = parse_lines(line)
    if claim is not None:
        params["claim_id"] = claim
    _act(order_id, "reship", note, params, api_url, api_key)


@ops_app.command("reject-claim")
def reject_claim_command(
    order_id: OrderId,
    claim: Annotated[str, typer.Option("--claim", help="the open claim, e.g. ORDER-C1")],
    note: Annotated[str, typer.Option("--note", help="why (required; the customer is told)")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Close an open claim without refund or reship; the customer is told."""
    _act(order_id, "reject_claim", note, {"claim_id": claim}, api_url, api_key)


@ops_app.command("edit-lines")
def edit_lines_command(
    order_id: OrderId,
    line: Annotated[list[str], typer.Option("--line", help="SKU:QTY of the new set of lines; repeat for more")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Change the order's lines: a line left out (or QTY 0) is cancelled, a new SKU comes at the
    catalog price; the payment and the stock follow (PATCH /orders/{id}/lines)."""
    lines = parse_lines(line)
    with _api(api_url, api_key) as api:
        order = api.edit_lines(order_id, lines)
    total = order["totals"]["grand_total"]
    _console().print(literal(f"lines changed: order {order['order_id']} totals {total} {order['currency']} now"))
    _console().print(order_summary(order))


@ops_app.command("edit-contact")
def edit_contact_command(
    order_id: OrderId,
    email: Annotated[str | None, typer.Option("--email", help="the new contact e-mail")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="the new contact phone")] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Change the order's contact e-mail or phone (PATCH /orders/{id}/contact)."""
    contact: Json = {name: value for name, value in (("email", email), ("phone", phone)) if value is not None}
    with _api(api_url, api_key) as api:
        order = api.edit_contact(order_id, contact)
    _console().print(literal(f"contact changed: order {order['order_id']}"))
    _console().print(order_summary(order))


@ops_app.command("complaints")
def complaints_command(
    resolved: Annotated[bool, typer.Option("--resolved", help="resolved complaints instead of open ones")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """After-sales complaints, oldest first (open ones unless --resolved)."""
    with _api(api_url, api_key) as api:
        items = api.complaints(resolved=resolved, limit=limit)
    _console().print(complaints_table(items, resolved=resolved))


@ops_app.command("resolve-complaint")
def resolve_complaint_command(
    complaint_id: Annotated[str, typer.Argument(help="the complaint id (CMP-...)")],
    note: Annotated[str, typer.Option("--note", help="how it was resolved (max 2000)")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Resolve an open complaint, with a note on how."""
    with _api(api_url, api_key) as api:
        complaint = api.resolve_complaint(complaint_id, note)
    _console().print(
        literal(
            f"complaint {complaint['complaint_id']} (order {complaint['order_id']}) resolved by {complaint['resolved_by']}"
        )
    )


# ---------------------------------------------------------------------------------------------
# Replenishment (issue 19): proposals, reorder rules, transfers


def replenishment_table(view: Json) -> Table:
    """`oms ops replenishment`: one row per reorder rule, the proposal and what it is made of."""
    items = view.get("items") or []
    table = Table(
        title=f"Replenishment: {len(items)} rule(s), demand since {format_time(view.get('window_start'))} UTC",
        title_justify="left",
    )
    table.add_column("sku", no_wrap=True)
    table.add_column("warehouse", no_wrap=True)
    for column in ("min", "max", "lead d", "on hand", "reserved", "unreserved", "demand 30d", "lead-time dem.",
                   "reorder at", "order up to", "propose"):
        table.add_column(column, justify="right")
    for item in items:
        _add_row(
            table,
            item["sku"], item["warehouse"], item["minimum"], item["maximum"], item["lead_time_days"],
            item["on_hand"], item["reserved"], item["unreserved"], item["demand"], item["lead_time_demand"],
            item["reorder_at"], item["order_up_to"], item["proposed_quantity"] if item["needed"] else "-",
        )
    return table


@ops_app.command("replenishment")
def replenishment_command(
    sku: Annotated[str | None, typer.Option("--sku", help="only this SKU")] = None,
    warehouse: Annotated[str | None, typer.Option("--warehouse", help="only this warehouse")] = None,
    every: Annotated[bool, typer.Option("--all", help="also the rules that need nothing now")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """What to reorder per SKU and warehouse (GET /inventory/replenishment)."""
    with _api(api_url, api_key) as api:
        view = api.replenishment(sku=sku, warehouse=warehouse, every=every)
    _console().print(replenishment_table(view))


@ops_app.command("reorder-rule")
def reorder_rule_command(
    sku: Annotated[str, typer.Argument(help="the SKU")],
    warehouse: Annotated[str, typer.Argument(help="the warehouse, e.g. WH-EAST")],
    minimum: Annotated[int, typer.Option("--min", help="reorder at minimum + lead-time demand")],
    maximum: Annotated[int, typer.Option("--max", help="order up to maximum + lead-time demand")],
    lead_time: Annotated[int, typer.Option("--lead-time", help="days from ordering to receipt")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Set the reorder rule of a SKU at a warehouse (PUT /inventory/reorder-rules/{sku}/{warehouse})."""
    with _api(api_url, api_key) as api:
        rule = api.put_reorder_rule(sku, warehouse, {"minimum": minimum, "maximum": maximum, "lead_time_days": lead_time})
    _console().print(literal(
        f"reorder rule {rule['sku']} at {rule['warehouse']}: min {rule['minimum']}, max {rule['maximum']}, "
        f"lead time {rule['lead_time_days']} d"
    ))


@ops_app.command("transfer")
def transfer_command(
    sku: Annotated[str, typer.Argument(help="the SKU")],
    quantity: Annotated[int, typer.Argument(help="units to move")],
    source: Annotated[str, typer.Option("--from", help="the warehouse the units leave")],
    destination: Annotated[str, typer.Option("--to", help="the warehouse they go to")],
    note: Annotated[str | None, typer.Option("--note", help="why (max 500)")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="repeat safely: the same key moves the units once")
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Move unreserved stock between warehouses (POST /inventory/transfers)."""
    body: Json = {"sku": sku, "from_warehouse": source, "to_warehouse": destination, "quantity": quantity}
    if note is not None:
        body["note"] = note
    with _api(api_url, api_key) as api:
        moved = api.transfer(body, idempotency_key)
    src, dst = moved["source"], moved["destination"]
    _console().print(literal(
        f"transfer {moved['transfer_id']}: {moved['quantity']} x {moved['sku']} {src['warehouse']} -> {dst['warehouse']}; "
        f"{src['warehouse']} on hand {src['on_hand']} ({src['unreserved']} unreserved), "
        f"{dst['warehouse']} on hand {dst['on_hand']}"
    ))
    woken = moved.get("woken") or []
    if woken:
        _console().print(literal("woken: " + ", ".join(f"{w['order_id']} ({w['status']})" for w in woken)))
