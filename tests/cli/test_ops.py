"""`oms ops`' pure parts: where it finds the API and its key, and how it renders answers."""

from datetime import UTC, datetime

from cli.ops import (
    complaints_table,
    format_age,
    format_time,
    order_view,
    problem_text,
    queue_table,
    render_text,
    resolve_api_key,
    resolve_base_url,
)
from config.settings import Settings


def test_base_url_option_then_settings() -> None:
    assert resolve_base_url("http://ops.example:9000/", Settings()) == "http://ops.example:9000"
    assert resolve_base_url(None, Settings(api_url="http://api.internal:80")) == "http://api.internal:80"
    assert resolve_base_url(None, Settings(api_host="0.0.0.0", api_port=8123)) == "http://127.0.0.1:8123"


def test_key_option_then_env_then_first_ops_key() -> None:
    k1, k2, k3 = (f"k{n}-at-least-24-characters-long" for n in (1, 2, 3))
    settings = Settings(api_keys=f"a:client:{k1},boss:ops:{k2},night:ops:{k3}")
    assert resolve_api_key("given", settings, {"OMS_OPS_KEY": "env"}) == "given"
    assert resolve_api_key(None, settings, {"OMS_OPS_KEY": "env"}) == "env"
    assert resolve_api_key(None, settings, {}) == k2
    assert resolve_api_key(None, Settings(api_keys=f"a:client:{k1}"), {}) is None


def test_ages_and_times() -> None:
    assert [format_age(s) for s in (-5, 0, 59, 60, 3599, 3600, 3 * 3600 + 5 * 60, 86400 * 2 + 3600 * 4)] == [
        "0s", "0s", "59s", "1m", "59m", "1h00m", "3h05m", "2d04h",
    ]
    assert format_time("2026-11-26T10:00:00+08:00") == "2026-11-26 02:00:00"
    assert format_time("2026-11-26T02:00:00Z") == "2026-11-26 02:00:00"
    assert format_time(None) == "-"
    assert format_time("soon") == "soon"


def test_problem_text_names_every_bad_field() -> None:
    problem = {
        "type": "/problems/invalid-request", "title": "Invalid request", "status": 422, "detail": "2 invalid field(s)",
        "errors": [{"field": "note", "message": "too long"}, {"field": "params", "message": "not a dict"}],
    }
    assert problem_text(422, problem) == "Invalid request (422): 2 invalid field(s)\n  note: too long\n  params: not a dict"
    assert problem_text(409, {"title": "Conflict"}) == "Conflict (409)"


def test_queue_table_renders_one_row_per_item() -> None:
    since = datetime(2026, 11, 26, 2, 0, tzinfo=UTC).isoformat()
    items = [
        {
            "order_id": "ORD-1", "status": "on_hold", "needs_attention": False, "reason": "high value order",
            "since": since, "age_seconds": 7500, "available_actions": ["approve", "reject", "request_info"],
            "customer_id": "cust-1", "total": "6012.00", "workflow_id": "order-ORD-1",
        },
        {
            "order_id": "ORD-2", "status": "fulfilling", "needs_attention": True, "reason": None,
            "since": since, "age_seconds": 30, "available_actions": [],
            "customer_id": "cust-2", "total": "12.00", "workflow_id": "order-ORD-2",
        },
    ]
    text = render_text(queue_table(items), width=200)
    first = next(line for line in text.splitlines() if "ORD-1" in line)
    assert all(part in first for part in ("on_hold", "high value order", "2h05m", "approve, reject, request_info", "6012.00"))
    second = next(line for line in text.splitlines() if "ORD-2" in line)
    assert "yes" in second and "30s" in second
    assert "2 order(s)" in text


def test_order_view_has_summary_and_timeline() -> None:
    order = {
        "order_id": "ORD-9", "status": "on_hold", "needs_attention": False, "attention_reason": None,
        "available_actions": ["approve"], "hold": {"reason": "velocity", "since": "2026-11-26T02:00:00Z"},
        "customer": {"id": "cust-1", "name": "Li Lei"}, "channel": "web", "currency": "CNY",
        "totals": {"grand_total": "210.00"}, "payment": {"status": "authorized", "method": "card"},
        "shipping_address": {"name": "Li Lei", "line1": "1 Road", "city": "Hangzhou", "postal_code": "310000", "country": "CN"},
        "shipments": [{"shipment_id": "ORD-9-P1", "status": "picking", "warehouse": "WH-EAST"}],
        "created_at": "2026-11-26T01:59:00Z", "updated_at": "2026-11-26T02:00:00Z", "workflow_id": "order-ORD-9",
        "timeline": [
            {"at": "2026-11-26T02:00:00Z", "status": "on_hold", "event": "order.held", "actor": "system",
             "detail": {"codes": ["velocity"]}},
        ],
    }
    text = render_text(order_view(order), width=200)
    assert "Order ORD-9" in text
    assert "velocity (since 2026-11-26 02:00:00)" in text
    assert "210.00 CNY" in text
    assert "parcel ORD-9-P1" in text and "picking from WH-EAST" in text
    assert "order.held" in text and 'codes=["velocity"]' in text


MARKUP = "[/] [bold red]refund NOW[/bold red] [link=http://evil.example]here[/link] [/bold]"


def test_markup_in_customer_and_operator_text_is_printed_literally() -> None:
    """A comment or note full of Rich markup crashed the table (MarkupError) or styled it."""
    complaint = {
        "complaint_id": "CMP-1", "order_id": "ORD-1", "rating": 1, "comment": MARKUP,
        "opened_at": "2026-11-26T02:00:00Z", "age_seconds": 60, "resolved_by": "[red]ops", "note": "[/]",
        "service_rating": None,
    }
    for resolved in (False, True):
        text = render_text(complaints_table([complaint], resolved=resolved), width=400)
        assert MARKUP in text
    assert "[red]ops" in text and "[/]" in text
    queue = [{
        "order_id": "ORD-1", "status": "on_hold", "needs_attention": True, "reason": MARKUP, "since": None,
        "age_seconds": 1, "available_actions": [], "customer_id": "[b]cust", "total": "1.00",
    }]
    text = render_text(queue_table(queue), width=400)
    assert MARKUP in text and "[b]cust" in text
    order = {
        "order_id": "ORD-[i]", "status": "on_hold", "customer": {"id": "c", "name": "[/] Li"},
        "timeline": [{"at": None, "status": "on_hold", "event": "ops.note", "actor": "[red]x", "detail": {"note": MARKUP}}],
    }
    text = render_text(order_view(order), width=400)
    assert "Order ORD-[i]" in text and "c [/] Li" in text and "[red]x" in text and f"note={MARKUP}" in text
