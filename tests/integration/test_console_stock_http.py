"""The console's replenishment and cycle count pages over plain HTTP against real PostgreSQL
(issue 19, deliverable 4; api/console/stock.py): the proposal with its inputs as the API answers
it, reorder rules set and deleted through the form, transfers (idempotent per form), counts due
and held counts approved or rejected with a note; hostile forms (bad numbers, a missing note, no
CSRF token, control characters) answered with the bad field named and nothing changed.

These pages need no Temporal (a transfer of a SKU nobody waits for wakes no order), so none is started."""

import html
import re
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.inventory.sql import SqlInventory
from api.app import create_app
from config.settings import Settings
from domain.models import OrderLine
from store.models import ReorderRuleRow, StockAdjustmentRow, StockCountRow, StockLevelRow, StockTransferRow
from tests.conftest import OPS, WAREHOUSE

UI = "/ops/ui"
EAST, WEST = "WH-EAST", "WH-WEST"


@pytest_asyncio.fixture
async def app_and_console(sessions: sessionmaker[Session]) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The API (with keys) and a console browser (a cookie jar of its own) on one app."""
    app = create_app(Settings(rate_limit_per_second=10_000, rate_limit_burst=10_000), sessions=sessions)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://orderflow.test", timeout=60) as api,
        httpx.AsyncClient(transport=transport, base_url="http://console.test", timeout=60) as console,
    ):
        yield api, console


async def token(console: httpx.AsyncClient, path: str = "/login") -> str:
    page = await console.get(f"{UI}{path}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def signed_in(console: httpx.AsyncClient) -> str:
    """Sign in with the dev ops key; the session's CSRF token."""
    answer = await console.post(f"{UI}/login", data={"api_key": "dev-ops-key", "csrf_token": await token(console)})
    assert answer.status_code == 303, answer.text
    return await token(console, "/replenishment")


async def new_sku(api: httpx.AsyncClient, **levels: int) -> str:
    sku = f"SKU-CS-{secrets.token_hex(4).upper()}"
    r = await api.put(f"/catalog/{sku}", headers=OPS, json={"name": f"console stock {sku}", "price": "10.00"})
    assert r.status_code == 201, r.text
    for warehouse, on_hand in levels.items():
        r = await api.put(f"/inventory/{sku}/{warehouse.replace('_', '-')}", headers=OPS, json={"on_hand": on_hand})
        assert r.status_code == 200, r.text
    return sku


def on_hand(sessions: sessionmaker[Session], sku: str, warehouse: str) -> int | None:
    with sessions() as s:
        row = s.get(StockLevelRow, {"sku": sku, "warehouse": warehouse})
        return None if row is None else row.on_hand


def cells(page: str, row_id: str) -> list[str]:
    """The text of each cell of the table row `row_id` (tags dropped, entities decoded)."""
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.DOTALL)
    assert found, f"no row {row_id}"
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.DOTALL)]


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'id="{form}-{field}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {form}.{field}"
    return html.unescape(found.group(1))


def flash(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash \w+" role="status">([^<]*)</p>', page)]


async def test_the_proposal_shows_its_inputs_as_the_api_answers_them(
    app_and_console: tuple[httpx.AsyncClient, httpx.AsyncClient], sessions: sessionmaker[Session]
) -> None:
    api, console = app_and_console
    csrf = await signed_in(console)
    sku = await new_sku(api, WH_EAST=30)
    inventory = SqlInventory(sessions)
    inventory.reserve(f"{sku}-A", [OrderLine(sku=sku, quantity=4, unit_price=Decimal("10.00"))], "east")
    inventory.reserve(f"{sku}-B", [OrderLine(sku=sku, quantity=6, unit_price=Decimal("10.00"))], "east")
    inventory.ship(f"{sku}-A", EAST)

    rule = {"sku": sku, "warehouse": EAST, "minimum": "20", "maximum": "40", "lead_time_days": "15"}
    answer = await console.post(f"{UI}/replenishment/rules", data={**rule, "csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == f"{UI}/replenishment?sku={sku}&all=1"
    page = (await console.get(answer.headers["location"])).text
    assert f"Reorder rule for {sku} at {EAST} set: minimum 20, maximum 40, lead time 15 days." in flash(page)
    assert cells(page, f"rule-{sku}-{EAST}")[:6] == [sku, EAST, "20", "40", "15 d", "dev-ops"]

    [row] = (await api.get("/inventory/replenishment", headers=OPS, params={"sku": sku})).json()["items"]
    # on hand 26, reserved 6: unreserved 20; demand 4 shipped + 6 reserved = 10; lead-time demand
    # ceil(10 x 15 / 30) = 5; reorder at 25, order up to 45: propose 25.
    expected = [sku, EAST, "20", "6", "26", "10", "5", "25", "45", "25"]
    assert [str(row[k]) for k in ("sku", "warehouse", "unreserved", "reserved", "on_hand", "demand",
                                  "lead_time_demand", "reorder_at", "order_up_to", "proposed_quantity")] == expected
    assert cells(page, f"proposal-{sku}-{EAST}") == expected
    assert cells(page, f"level-{EAST}")[:3] == [EAST, "26", "6"]

    # Deleted through its button: gone, with the API's audit row.
    answer = await console.post(
        f"{UI}/replenishment/rules/delete", data={"sku": sku, "warehouse": EAST, "csrf_token": csrf}
    )
    assert answer.status_code == 303
    page = (await console.get(f"{UI}/replenishment?sku={sku}&all=1")).text
    assert f"Reorder rule for {sku} at {EAST} deleted." in flash(page)
    assert f'id="rule-{sku}-{EAST}"' not in page and f'id="proposal-{sku}-{EAST}"' not in page
    with sessions() as s:
        reasons = s.scalars(
            select(StockAdjustmentRow.reason).where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.reason.like("reorder_rule%"))
            .order_by(StockAdjustmentRow.id)
        ).all()
    assert reasons == ["reorder_rule_set", "reorder_rule_deleted"]
    again = await console.post(
        f"{UI}/replenishment/rules/delete", data={"sku": sku, "warehouse": EAST, "csrf_token": csrf}, follow_redirects=True
    )
    assert f"No rule deleted: no reorder rule for {sku} at {EAST}" in flash(again.text)


async def test_a_bad_rule_form_names_each_bad_field_and_writes_nothing(
    app_and_console: tuple[httpx.AsyncClient, httpx.AsyncClient], sessions: sessionmaker[Session]
) -> None:
    api, console = app_and_console
    csrf = await signed_in(console)
    sku = await new_sku(api, WH_EAST=5)
    post = f"{UI}/replenishment/rules"

    bad = await console.post(
        post, data={"sku": "not a sku!", "warehouse": EAST, "minimum": "ten", "maximum": "1.5", "lead_time_days": "",
                    "csrf_token": csrf},
    )
    assert bad.status_code == 422
    assert "pattern" in field_error(bad.text, "rule", "sku")
    assert "valid integer" in field_error(bad.text, "rule", "minimum")
    assert "valid integer" in field_error(bad.text, "rule", "maximum")
    assert "valid integer" in field_error(bad.text, "rule", "lead_time_days")
    assert 'value="ten"' in bad.text, "what was typed is kept"

    # Well-formed but refused by the domain's checks: every one named at once.
    refused = await console.post(
        post, data={"sku": "SKU-NOPE-404", "warehouse": "WH-NOWHERE", "minimum": "-1", "maximum": "-5",
                    "lead_time_days": "400", "csrf_token": csrf},
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "rule", "sku") == "is not a known SKU"
    assert field_error(refused.text, "rule", "warehouse") == "is not a known warehouse"
    assert field_error(refused.text, "rule", "minimum") == "must be 0 or more"
    assert field_error(refused.text, "rule", "maximum") == "must be at least the minimum (-1)"
    assert field_error(refused.text, "rule", "lead_time_days") == "must be at most 365"

    nul = await console.post(
        post, data={"sku": sku, "warehouse": "WH-\x00EAST", "minimum": "1", "maximum": "2", "lead_time_days": "1",
                    "csrf_token": csrf},
    )
    assert nul.status_code == 422 and "control characters" in field_error(nul.text, "rule", "warehouse")
    huge = await console.post(
        post, data={"sku": sku, "warehouse": EAST, "minimum": "9" * 40, "maximum": "2", "lead_time_days": "1",
                    "csrf_token": csrf},
    )
    assert huge.status_code == 422 and "less than or equal" in field_error(huge.text, "rule", "minimum")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReorderRuleRow).where(ReorderRuleRow.sku == sku)) == 0


async def test_a_transfer_moves_the_stock_once_per_form_and_bad_input_moves_nothing(
    app_and_console: tuple[httpx.AsyncClient, httpx.AsyncClient], sessions: sessionmaker[Session]
) -> None:
    api, console = app_and_console
    csrf = await signed_in(console)
    sku = await new_sku(api, WH_EAST=10, WH_WEST=1)
    post = f"{UI}/replenishment/transfers"
    form = {"sku": sku, "from_warehouse": EAST, "to_warehouse": WEST, "quantity": "4", "note": "even out",
            "idempotency_key": secrets.token_urlsafe(16), "csrf_token": csrf}

    made = await console.post(post, data=form)
    assert made.status_code == 303 and made.headers["location"] == f"{UI}/replenishment?sku={sku}"
    page = (await console.get(made.headers["location"])).text
    [message] = flash(page)
    assert re.fullmatch(
        rf"Transfer \d+: 4 × {sku} moved from {EAST} \(on hand 6 now\) to {WEST} \(on hand 5 now\)\.", message
    ), message
    assert cells(page, f"level-{EAST}")[:2] == [EAST, "6"] and cells(page, f"level-{WEST}")[:2] == [WEST, "5"]
    # The same form posted again (a double click, a resubmit): answered as before, nothing moves.
    again = await console.post(post, data=form, follow_redirects=True)
    assert flash(again.text) == [message[:-1] + ". This form was sent before: nothing moved again."]
    assert (on_hand(sessions, sku, EAST), on_hand(sessions, sku, WEST)) == (6, 5)
    with sessions() as s:
        transfer = s.scalars(select(StockTransferRow).where(StockTransferRow.sku == sku)).one()
        assert (transfer.actor, transfer.note, transfer.quantity) == ("dev-ops", "even out", 4)
        legs = s.scalars(
            select(StockAdjustmentRow.reason).where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.reason.like("transfer_%"))
        ).all()
        assert sorted(legs) == ["transfer_in", "transfer_out"]

    # The same form's key with other values (the page kept in history, edited, sent): refused.
    edited = await console.post(post, data={**form, "quantity": "1"})
    assert edited.status_code == 409
    assert "used before with a different request body" in html.unescape(edited.text)

    def fresh(**changes: str) -> dict[str, str]:
        return {**form, "idempotency_key": secrets.token_urlsafe(16), **changes}

    for quantity, message in (
        ("0", "must be 1 or more"),
        ("-3", "must be 1 or more"),
        ("abc", "valid integer"),
        ("2.5", "valid integer"),
        ("", "valid integer"),
        ("9" * 30, "less than or equal"),
    ):
        bad = await console.post(post, data=fresh(quantity=quantity))
        assert bad.status_code == 422, (quantity, bad.status_code)
        assert message in field_error(bad.text, "transfer", "quantity"), quantity
    short = await console.post(post, data=fresh(quantity="7"))
    assert short.status_code == 409
    assert field_error(short.text, "transfer", "quantity") == (
        f"{EAST} holds 6 unreserved units of {sku}; the transfer asks for 7"
    )
    same = await console.post(post, data=fresh(to_warehouse=EAST))
    assert same.status_code == 422 and field_error(same.text, "transfer", "to_warehouse") == "must differ from from_warehouse"
    nul = await console.post(post, data=fresh(note="a\x00b", sku="SKU-NOPE-\x01"))
    assert nul.status_code == 422
    assert "control characters" in field_error(nul.text, "transfer", "note")
    assert field_error(nul.text, "transfer", "sku")
    long_key = await console.post(post, data=fresh(idempotency_key="k" * 129))
    assert long_key.status_code == 422 and "idempotency key" in long_key.text
    assert (on_hand(sessions, sku, EAST), on_hand(sessions, sku, WEST)) == (6, 5), "nothing more moved"


async def test_forms_without_the_csrf_token_or_a_session_change_nothing(
    app_and_console: tuple[httpx.AsyncClient, httpx.AsyncClient], sessions: sessionmaker[Session]
) -> None:
    api, console = app_and_console
    sku = await new_sku(api, WH_EAST=10, WH_WEST=0)
    held = await api.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": EAST, "sku": sku, "counted": 60})
    assert held.status_code == 202, held.text
    count_id = held.json()["count_id"]
    posts = {
        f"{UI}/replenishment/rules": {"sku": sku, "warehouse": EAST, "minimum": "1", "maximum": "2", "lead_time_days": "0"},
        f"{UI}/replenishment/transfers": {"sku": sku, "from_warehouse": EAST, "to_warehouse": WEST, "quantity": "1"},
        f"{UI}/counts/{count_id}/approve": {"note": "looks right"},
        f"{UI}/counts/{count_id}/reject": {"note": "recount"},
    }
    for path, form in posts.items():  # no session: to the login page, nothing done
        answer = await console.post(path, data=form)
        assert answer.status_code == 303 and answer.headers["location"] == f"{UI}/login", path
    for page in ("/replenishment", "/counts"):
        answer = await console.get(f"{UI}{page}")
        assert answer.status_code == 303 and answer.headers["location"] == f"{UI}/login", page

    csrf = await signed_in(console)
    assert csrf
    for path, form in posts.items():
        for presented in ({}, {"csrf_token": "forged"}):
            answer = await console.post(path, data={**form, **presented})
            assert answer.status_code == 403 and "not sent by this console" in answer.text, path
    assert (on_hand(sessions, sku, EAST), on_hand(sessions, sku, WEST)) == (10, 0)
    with sessions() as s:
        assert s.get(StockCountRow, count_id).status == "pending"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(ReorderRuleRow).where(ReorderRuleRow.sku == sku)) == 0


async def test_held_counts_are_approved_or_rejected_with_a_note(
    app_and_console: tuple[httpx.AsyncClient, httpx.AsyncClient], sessions: sessionmaker[Session]
) -> None:
    api, console = app_and_console
    csrf = await signed_in(console)
    up, down = await new_sku(api, WH_EAST=10), await new_sku(api, WH_EAST=100)
    counts = {}
    for sku, counted in ((up, 60), (down, 20)):
        r = await api.post("/warehouse/counts", headers=WAREHOUSE, json={"warehouse": EAST, "sku": sku, "counted": counted})
        assert r.status_code == 202, r.text
        counts[sku] = r.json()["count_id"]

    page = await console.get(f"{UI}/counts?warehouse={EAST}")
    assert page.status_code == 200
    # Count, SKU, warehouse, book, counted, discrepancy, on hand now, after approval.
    assert cells(page.text, f"count-{counts[up]}")[:8] == [str(counts[up]), up, EAST, "10", "60", "+50", "10", "60"]
    assert cells(page.text, f"count-{counts[down]}")[:8] == [str(counts[down]), down, EAST, "100", "20", "-80", "100", "20"]
    due = cells(page.text, f"due-{up}-{EAST}")
    assert due[:2] == [up, EAST] and due[-1] == str(counts[up]), "still due, with its waiting count"

    for note in ("", "   "):
        missing = await console.post(f"{UI}/counts/{counts[up]}/approve", data={"note": note, "csrf_token": csrf})
        assert missing.status_code == 422
        assert "at least 1 character" in field_error(missing.text, "note", str(counts[up]))
    nul = await console.post(f"{UI}/counts/{counts[up]}/approve", data={"note": "ok\x00", "csrf_token": csrf})
    assert nul.status_code == 422 and "control characters" in field_error(nul.text, "note", str(counts[up]))
    assert on_hand(sessions, up, EAST) == 10, "no note: nothing applied"

    approved = await console.post(
        f"{UI}/counts/{counts[up]}/approve", data={"note": "shelf recounted", "csrf_token": csrf}, follow_redirects=True
    )
    assert f"Count {counts[up]} approved: {up} at {EAST} is 60 on hand now (+50)." in flash(approved.text)
    assert f'id="count-{counts[up]}"' not in approved.text
    assert on_hand(sessions, up, EAST) == 60
    rejected = await console.post(
        f"{UI}/counts/{counts[down]}/reject", data={"note": "miscount", "csrf_token": csrf}, follow_redirects=True
    )
    assert f"Count {counts[down]} rejected: the stock of {down} at {EAST} is unchanged." in flash(rejected.text)
    assert on_hand(sessions, down, EAST) == 100
    with sessions() as s:
        decided = s.get(StockCountRow, counts[down])
        assert decided is not None and (decided.status, decided.decided_by, decided.decision_note) == (
            "rejected", "dev-ops", "miscount")

    twice = await console.post(
        f"{UI}/counts/{counts[up]}/approve", data={"note": "again", "csrf_token": csrf}, follow_redirects=True
    )
    assert f"Count {counts[up]} not approved: count {counts[up]} is approved, not pending" in flash(twice.text)
    assert on_hand(sessions, up, EAST) == 60
    for bad_id in ("abc", "0", "-1", str(2**63), "１"):
        answer = await console.post(f"{UI}/counts/{bad_id}/reject", data={"note": "x", "csrf_token": csrf})
        assert answer.status_code == 404, bad_id
    unknown = await console.post(f"{UI}/counts/{2**62}/reject", data={"note": "x", "csrf_token": csrf}, follow_redirects=True)
    assert f"Count {2**62} not rejected: no count {2**62}" in flash(unknown.text)

    assert (await console.get(f"{UI}/counts?class=Z")).status_code == 422
    nowhere = await console.get(f"{UI}/counts?warehouse=WH-NOWHERE")
    assert nowhere.status_code == 404 and field_error(nowhere.text, "filter", "warehouse") == "no warehouse WH-NOWHERE"
    assert (await console.get(f"{UI}/replenishment?sku=a%00b")).status_code == 422
