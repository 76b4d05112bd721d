"""The console's stock upkeep pages (issue 19, deliverable 4): replenishment (the proposals, the
reorder rules, a transfer between warehouses) and cycle counts (the due list, the counts waiting
for ops with their approval or rejection).

Every read and every form goes through the API's own route functions, called as functions
(api.routers.replenishment, api.routers.warehouse): the same models validate the input, the same
domain checks name the bad fields, the same store code writes, with the signed-in key as the
actor. A transfer thus wakes the orders waiting for its SKU exactly as `POST /inventory/transfers`
does. Nothing here calls an adapter.

A form with bad input is shown again (422) with each message beside its field and what was typed
kept; nothing changed. A refusal of the business (not enough unreserved stock, a count no longer
pending) is shown the same way, or as a message when it is not about a field. A form that worked
redirects (303) with a message, so that reloading the page does not post it again; the transfer
form carries an idempotency key of its own besides, so that a form posted twice moves the units once.
"""

import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.router import MAX_FIELD, OpsVisit, Visit, form_text, posted_form
from api.problems import ProblemError
from api.routers import replenishment as replenishment_api
from api.routers import warehouse as warehouse_api
from domain.counts import CountClass, applied_on_approval
from domain.errors import BusinessError
from domain.models import Sku, Strict, forbidden_character
from domain.replenishment import DEMAND_WINDOW_DAYS
from store import catalog

RULE_FIELDS = ("sku", "warehouse", "minimum", "maximum", "lead_time_days")
TRANSFER_FIELDS = ("sku", "from_warehouse", "to_warehouse", "quantity", "note")
MAX_IDEMPOTENCY_KEY = 128  # as the API's Idempotency-Key header
LIST_LIMIT = 200


class RuleKey(Strict):
    """What the API takes from the path of PUT /inventory/reorder-rules/{sku}/{warehouse}."""

    sku: Sku
    warehouse: replenishment_api.Code


def _field_errors(error: ValidationError) -> dict[str, str]:
    """One message per bad field (the first, when a field has several), named as the form names it."""
    errors: dict[str, str] = {}
    for e in error.errors():
        field = str(e["loc"][0]) if e["loc"] else "form"
        errors.setdefault(field, e["msg"])
    return errors


def _problem_errors(problem: ProblemError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for p in problem.errors or []:
        errors.setdefault(p.field, p.message)
    return errors or {"form": problem.detail}


def _query(request: Request, name: str, errors: dict[str, str], *, sku: bool = False) -> str | None:
    """A filter from the query string: None when absent; a bad one is named in `errors`."""
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    problem = forbidden_character(value)
    if problem is not None:
        errors[name] = f"must not contain control characters: {problem}"
    elif len(value) > (64 if sku else MAX_FIELD):
        errors[name] = f"at most {64 if sku else MAX_FIELD} characters"
    else:
        return value
    return None


# --- replenishment ----------------------------------------------------------------------------


async def _replenishment_page(
    found: Visit,
    *,
    sku: str | None = None,
    warehouse: str | None = None,
    show_all: bool = False,
    errors: Mapping[str, str] | None = None,
    form: str | None = None,
    values: Mapping[str, str] | None = None,
    http_status: int = 200,
) -> Response:
    """The page: `form` names the form that `errors` and `values` belong to (rule, transfer, filter)."""
    assert found.principal is not None  # signed_in
    principal, sessions = found.principal, found.console.sessions

    def read() -> dict[str, Any]:
        return {
            "proposals": replenishment_api.replenishment_proposals(principal, sessions, sku, warehouse, show_all),
            "rules": replenishment_api.list_reorder_rules(principal, sessions, sku, warehouse),
            "transfers": replenishment_api.list_transfers(principal, sessions, sku, 20),
            "warehouses": catalog.list_warehouses(sessions),
            "levels": catalog.stock_levels(sessions, sku) if sku else [],
        }

    data = await run_in_threadpool(read)
    active = [w.code for w in data["warehouses"] if w.active]
    data["default_to"] = active[1] if len(active) > 1 else ""  # the form's "to" differs from its "from"
    return found.render(
        "replenishment.html",
        http_status=http_status,
        page="replenishment",
        sku=sku or "",
        warehouse=warehouse or "",
        show_all=show_all,
        errors=dict(errors or {}),
        form=form,
        values=dict(values or {}),
        idempotency_key=secrets.token_urlsafe(24),
        window_days=DEMAND_WINDOW_DAYS,
        **data,
    )


async def replenishment(found: OpsVisit, request: Request) -> Response:
    """GET /inventory/replenishment's proposals (needed rows, or every rule with `all`), the rules
    and the latest transfers, filtered by SKU and warehouse; with a SKU, its stock everywhere."""
    errors: dict[str, str] = {}
    sku = _query(request, "sku", errors, sku=True)
    warehouse = _query(request, "warehouse", errors)
    show_all = request.query_params.get("all", "") in ("1", "true", "on")
    if errors:
        return await _replenishment_page(
            found, show_all=show_all, errors=errors, form="filter",
            values=dict(request.query_params), http_status=422,
        )
    return await _replenishment_page(found, sku=sku, warehouse=warehouse, show_all=show_all)


def _typed(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: form_text(form, name) for name in names}


async def set_rule(request: Request, found: OpsVisit) -> Response:
    """The rule form: PUT /inventory/reorder-rules/{sku}/{warehouse} as the signed-in key."""
    form = await posted_form(request, found)
    typed = _typed(form, RULE_FIELDS)
    errors: dict[str, str] = {}
    key: RuleKey | None = None
    body: replenishment_api.ReorderRuleBody | None = None
    try:
        key = RuleKey.model_validate({"sku": typed["sku"], "warehouse": typed["warehouse"]})
    except ValidationError as error:
        errors.update(_field_errors(error))
    try:
        body = replenishment_api.ReorderRuleBody.model_validate(
            {name: typed[name] for name in ("minimum", "maximum", "lead_time_days")}
        )
    except ValidationError as error:
        errors.update(_field_errors(error))
    if key is not None and body is not None:
        assert found.principal is not None  # signed_in
        principal, sessions = found.principal, found.console.sessions
        try:
            stored = await run_in_threadpool(
                replenishment_api.put_reorder_rule, key.sku, key.warehouse, body, Response(), principal, sessions
            )
        except ProblemError as problem:
            errors.update(_problem_errors(problem))
        else:
            found.session.tell(
                "ok",
                f"Reorder rule for {stored.sku} at {stored.warehouse} set: minimum {stored.minimum}, "
                f"maximum {stored.maximum}, lead time {stored.lead_time_days} days.",
            )
            return found.redirect(f"/replenishment?sku={stored.sku}&all=1")
    return await _replenishment_page(found, errors=errors, form="rule", values=typed, http_status=422)


async def delete_rule(request: Request, found: OpsVisit) -> Response:
    """A rule's Delete button: DELETE /inventory/reorder-rules/{sku}/{warehouse}."""
    form = await posted_form(request, found)
    sku, warehouse = form_text(form, "sku"), form_text(form, "warehouse")
    try:
        key = RuleKey.model_validate({"sku": sku, "warehouse": warehouse})
    except ValidationError as error:
        found.session.tell("error", "No rule deleted: " + "; ".join(f"{k}: {v}" for k, v in _field_errors(error).items()))
        return found.redirect("/replenishment")
    assert found.principal is not None  # signed_in
    try:
        await run_in_threadpool(
            replenishment_api.delete_reorder_rule, key.sku, key.warehouse, found.principal, found.console.sessions
        )
    except ProblemError as problem:
        found.session.tell("error", f"No rule deleted: {problem.detail}")
        return found.redirect("/replenishment")
    found.session.tell("ok", f"Reorder rule for {key.sku} at {key.warehouse} deleted.")
    return found.redirect("/replenishment")


async def transfer(request: Request, found: OpsVisit) -> Response:
    """The transfer form: POST /inventory/transfers as the signed-in key, with the form's own
    idempotency key (a form posted twice moves the units once)."""
    form = await posted_form(request, found)
    typed = _typed(form, TRANSFER_FIELDS)
    idempotency_key = form_text(form, "idempotency_key") or None
    errors: dict[str, str] = {}
    if idempotency_key is not None and (
        len(idempotency_key) > MAX_IDEMPOTENCY_KEY or forbidden_character(idempotency_key) is not None
    ):
        errors["form"] = "this form's idempotency key is not one the console made: reload the page"
    body: replenishment_api.TransferBody | None = None
    try:
        body = replenishment_api.TransferBody.model_validate({**typed, "note": typed["note"] or None})
    except ValidationError as error:
        errors.update(_field_errors(error))
    if body is None or errors:
        return await _replenishment_page(found, errors=errors, form="transfer", values=typed, http_status=422)
    assert found.principal is not None  # signed_in
    console = found.console
    answered = Response()  # the route sets 201 (made now) or 200 (this form's key was used: a repeat)
    try:
        moved = await replenishment_api.post_transfer(
            body, answered, found.principal, console.sessions, console.client, console.settings, idempotency_key
        )
    except ProblemError as problem:
        errors = _problem_errors(problem)
        if problem.status == 409 and problem.type == "/problems/out-of-stock":
            errors = {"quantity": problem.detail}
        return await _replenishment_page(found, errors=errors, form="transfer", values=typed, http_status=problem.status)
    except BusinessError as refusal:  # an idempotency key used with another form
        return await _replenishment_page(
            found, errors={"form": refusal.message}, form="transfer", values=typed, http_status=refusal.http_status
        )
    repeat = answered.status_code == 200
    woken = f"; {len(moved.woken)} waiting order(s) tried again" if moved.woken and not repeat else ""
    found.session.tell(
        "ok",
        f"Transfer {moved.transfer_id}: {moved.quantity} × {moved.sku} moved from {moved.from_warehouse} "
        f"(on hand {moved.source.on_hand} now) to {moved.to_warehouse} (on hand {moved.destination.on_hand} now)"
        + woken
        + (". This form was sent before: nothing moved again." if repeat else "."),
    )
    return found.redirect(f"/replenishment?sku={moved.sku}")


# --- cycle counts -----------------------------------------------------------------------------


async def _counts_page(
    found: Visit,
    *,
    warehouse: str | None = None,
    cls: CountClass | None = None,
    errors: Mapping[str, str] | None = None,
    decided: int | None = None,
    note: str = "",
    http_status: int = 200,
) -> Response:
    """The page; `decided` is the count whose form `errors` and `note` belong to."""
    assert found.principal is not None  # signed_in
    principal, console = found.principal, found.console
    filter_errors = dict(errors or {})
    try:
        due = await warehouse_api.counts_due(principal, console.sessions, console.settings, warehouse, cls, LIST_LIMIT)
    except ProblemError as problem:  # an unknown warehouse
        filter_errors["warehouse"] = problem.detail
        http_status = problem.status
        due = await warehouse_api.counts_due(principal, console.sessions, console.settings, None, cls, LIST_LIMIT)
        warehouse = None
    pending = await warehouse_api.counts_pending(principal, console.sessions, warehouse, LIST_LIMIT)

    def levels() -> dict[tuple[str, str], int]:
        found_levels: dict[tuple[str, str], int] = {}
        for sku in {c.sku for c in pending.items}:
            for level in catalog.stock_levels(console.sessions, sku):
                found_levels[(level.sku, level.warehouse)] = level.on_hand
        return found_levels

    on_hand = await run_in_threadpool(levels)
    held = [
        {
            "count": c,
            "on_hand": on_hand.get((c.sku, c.warehouse)),
            "after": applied_on_approval(on_hand[(c.sku, c.warehouse)], c.discrepancy)
            if (c.sku, c.warehouse) in on_hand
            else None,
        }
        for c in pending.items
    ]
    return found.render(
        "counts.html",
        http_status=http_status,
        page="counts",
        due=due,
        held=held,
        warehouse=warehouse or "",
        cls=cls.value if cls else "",
        classes=[c.value for c in CountClass],
        errors=filter_errors,
        decided=decided,
        note=note,
        limit=LIST_LIMIT,
    )


async def counts(found: OpsVisit, request: Request) -> Response:
    """GET /warehouse/counts/due and /warehouse/counts/pending, by warehouse and class."""
    errors: dict[str, str] = {}
    warehouse = _query(request, "warehouse", errors)
    raw_class = request.query_params.get("class", "").strip()
    cls = None
    if raw_class:
        if raw_class in {c.value for c in CountClass}:
            cls = CountClass(raw_class)
        else:
            errors["class"] = f"must be one of {', '.join(c.value for c in CountClass)}"
    return await _counts_page(found, warehouse=warehouse, cls=cls, errors=errors, http_status=422 if errors else 200)


def _count_id(raw: str) -> int:
    """The count of the path, or the console's 404 page (the API's bounds: 1 to 2**62)."""
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 2**62:
        return int(raw)
    raise StarletteHTTPException(404, "No such count.")


async def _decide(raw_id: str, request: Request, found: Visit, approve: bool) -> Response:
    form = await posted_form(request, found)
    count_id = _count_id(raw_id)
    note = form_text(form, "note")
    verb = "approved" if approve else "rejected"
    try:
        body = warehouse_api.CountDecision.model_validate({"note": note})
    except ValidationError as error:
        errors = {f"note-{count_id}": msg for msg in _field_errors(error).values()}
        return await _counts_page(found, errors=errors, decided=count_id, note=note, http_status=422)
    assert found.principal is not None  # signed_in
    console = found.console
    try:
        if approve:
            approved = await warehouse_api.approve_count(
                count_id, body, found.principal, console.sessions, console.settings
            )
            level = approved.level
            found.session.tell(
                "ok",
                f"Count {count_id} approved: {level.sku} at {level.warehouse} is {level.on_hand} on hand now "
                f"({approved.count.applied_delta or 0:+d}).",
            )
        else:
            rejected = await warehouse_api.reject_count(count_id, body, found.principal, console.sessions)
            found.session.tell(
                "ok", f"Count {count_id} rejected: the stock of {rejected.sku} at {rejected.warehouse} is unchanged."
            )
    except BusinessError as refusal:  # unknown, no longer pending, below what is reserved now
        found.session.tell("error", f"Count {count_id} not {verb}: {refusal.message}")
    return found.redirect("/counts")


async def approve(count_id: str, request: Request, found: OpsVisit) -> Response:
    return await _decide(count_id, request, found, approve=True)


async def reject(count_id: str, request: Request, found: OpsVisit) -> Response:
    return await _decide(count_id, request, found, approve=False)


def add_stock_pages(console_app: FastAPI) -> None:
    get, post = console_app.get, console_app.post
    get("/replenishment")(replenishment)
    post("/replenishment/rules")(set_rule)
    post("/replenishment/rules/delete")(delete_rule)
    post("/replenishment/transfers")(transfer)
    get("/counts")(counts)
    post("/counts/{count_id}/approve")(approve)
    post("/counts/{count_id}/reject")(reject)
