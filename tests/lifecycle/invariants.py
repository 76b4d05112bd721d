"""The invariants every order must hold once the world is quiet (DESIGN.md section 3), each one
checked from what the system itself records: the order read, the workflow's `state` query, and the
ledger, inventory and outbox tables in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.models import OrderView
from store.models import (
    NotificationOutboxRow,
    PaymentRow,
    ReservationRow,
    StockAdjustmentRow,
    StockLevelRow,
)
from tests.lifecycle.world import TERMINAL, World

CAPTURED = {"captured", "partially_refunded", "refunded"}


@dataclass(frozen=True)
class StockSnapshot:
    levels: dict[tuple[str, str], tuple[int, int]]  # (sku, warehouse) -> (on_hand, reserved)
    last_adjustment: int


def snapshot(sessions: sessionmaker[Session], skus: list[str]) -> StockSnapshot:
    with sessions() as s:
        rows = s.scalars(select(StockLevelRow).where(StockLevelRow.sku.in_(skus)))
        levels = {(r.sku, r.warehouse): (r.on_hand, r.reserved) for r in rows}
        last = s.scalar(select(func.coalesce(func.max(StockAdjustmentRow.id), 0))) or 0
    return StockSnapshot(levels, int(last))


def has_way_out(order: dict[str, Any]) -> bool:
    """Closed or cancelled, or needing attention with an ops action other than `note`."""
    if order["status"] in TERMINAL:
        return True
    actions = [a for a in order.get("available_actions", []) if a != "note"]
    return bool(order["needs_attention"] and actions)


def way_out(world: World, order: dict[str, Any]) -> None:
    """No order waits without a way out: it is closed or cancelled, or it needs attention and an
    ops action other than `note` applies."""
    if has_way_out(order):
        return
    world.found(
        order["order_id"], "way-out",
        f"waits in {order['status']} (needs_attention={order['needs_attention']}, reason={order['attention_reason']!r}, "
        f"actions={order.get('available_actions')}, shipments={[s['status'] for s in order['shipments']]}, "
        f"returns={[r['status'] for r in order['returns']]})",
    )


def edit_refund(row: PaymentRow) -> bool:
    """A refund of an edit that lowered the total (`pay:{order}:edit{n}-refund[-i]`): the order
    costs less, so it is no refund of the order's (`totals.refunded` stays)."""
    step = row.idempotency_key.split(":", 2)[-1]
    return step.startswith("edit") and "-refund" in step


def money(world: World, sessions: sessionmaker[Session], order: dict[str, Any]) -> None:
    """Every payment of the order in the ledger (the first, and one per edit that charged more):
    captured minus refunded over all of them is what the customer keeps, to the cent; no payment is
    refunded more than it captured; the refunds that are not an edit's are the order's
    `totals.refunded`."""
    oid = order["order_id"]
    with sessions() as s:
        rows = list(s.scalars(select(PaymentRow).where(PaymentRow.order_id == oid)))
    captured = sum((r.amount for r in rows if r.operation == "capture"), Decimal(0))
    refunded = sum((r.amount for r in rows if r.operation == "refund"), Decimal(0))
    order_refunds = sum((r.amount for r in rows if r.operation == "refund" and not edit_refund(r)), Decimal(0))
    shown_refunded = Decimal(order["totals"]["refunded"])
    for r in rows:  # counted in the run's summary: how often edits moved money
        if r.idempotency_key.split(":", 2)[-1].startswith("edit"):
            world.log.append(f"{oid} ledger -> edit {r.operation} {r.status}")
    per_payment: dict[str, list[Decimal]] = {}
    for r in rows:
        if r.operation in ("capture", "refund"):
            sums = per_payment.setdefault(r.payment_id, [Decimal(0), Decimal(0)])
            sums[r.operation == "refund"] += r.amount
    for payment_id, (paid, back) in per_payment.items():
        if back > paid:
            world.found(oid, "money", f"payment {payment_id}: refunded {back} exceeds captured {paid}")
    if refunded > captured:
        world.found(oid, "money", f"refunded {refunded} exceeds captured {captured}")
    if order_refunds != shown_refunded:
        world.found(oid, "money", f"ledger refunded {order_refunds} (edits' refunds aside), the order shows {shown_refunded}")
    if order["payment"]["method"] == "cod":
        cash_on_delivery(world, order, rows, captured, order_refunds)
    elif order["payment"]["status"] in CAPTURED or (order["status"] == "closed" and captured > 0):
        kept = Decimal(order["totals"]["grand_total"]) - shown_refunded
        if captured - refunded != kept:
            world.found(oid, "money", f"captured {captured} - refunded {refunded} != kept {kept} (grand total - refunded)")
    elif order["status"] in TERMINAL and captured - refunded != 0:
        world.found(oid, "money", f"payment {order['payment']['status']} yet {captured - refunded} is kept")
    if order["status"] == "cancelled" and captured - refunded != 0:
        world.found(oid, "money", f"cancelled, yet the customer paid {captured - refunded}")


def cash_on_delivery(
    world: World, order: dict[str, Any], rows: list[PaymentRow], captured: Decimal, refunded: Decimal
) -> None:
    """Cash on delivery is captured parcel by parcel at delivery: the ledger's captures are what the
    order shows captured, never more than promised; once the order is closed every share was
    collected or voided; nothing is captured of an order that no parcel reached."""
    oid = order["order_id"]
    payment, totals = order["payment"], order["totals"]
    shown = Decimal(payment.get("captured", "0"))
    promised = sum((r.amount for r in rows if r.operation == "authorize"), Decimal(0))
    if captured != shown:
        world.found(oid, "money", f"cod: ledger captured {captured}, the order shows {shown}")
    if captured > promised:
        world.found(oid, "money", f"cod: captured {captured} exceeds the promise {promised}")
    if captured - refunded != shown - Decimal(totals["refunded"]):
        world.found(oid, "money", f"cod: captured {captured} - refunded {refunded} != kept (captured - refunded shown)")
    delivered = any(s["status"] == "delivered" for s in order["shipments"])
    if captured > 0 and not delivered:
        world.found(oid, "money", f"cod: {captured} captured, yet no parcel was delivered")
    if order["status"] == "closed":
        settled = shown + Decimal(payment.get("voided", "0"))
        if settled != Decimal(totals["grand_total"]):
            world.found(oid, "money", f"cod: closed with {shown} captured + {payment.get('voided')} voided != {totals['grand_total']}")


def stock(world: World, sessions: sessionmaker[Session], before: StockSnapshot, statuses: dict[str, str]) -> None:
    """Every unit is on hand, reserved for an open order, shipped or written off with an audit
    row; nothing is negative."""
    after = snapshot(sessions, world.skus)
    with sessions() as s:
        deltas: Counter[tuple[str, str]] = Counter()
        for row in s.scalars(select(StockAdjustmentRow).where(StockAdjustmentRow.id > before.last_adjustment, StockAdjustmentRow.sku.in_(world.skus))):
            deltas[(row.sku, row.warehouse)] += row.delta_on_hand
        reservations = list(s.scalars(select(ReservationRow).where(ReservationRow.sku.in_(world.skus), ReservationRow.status == "reserved")))
    reserved: Counter[tuple[str, str]] = Counter()
    for r in reservations:
        reserved[(r.sku, r.warehouse)] += r.quantity
        owner = r.order_id.split("#", 1)[0]
        if statuses.get(owner) in TERMINAL:
            world.found(owner, "stock", f"{r.quantity} x {r.sku} at {r.warehouse} still reserved for a {statuses[owner]} order")
    for key, (on_hand, held) in after.levels.items():
        was = before.levels.get(key, (0, 0))[0]
        if on_hand < 0 or held < 0:
            world.found("-", "stock", f"{key}: on_hand {on_hand}, reserved {held}")
        if on_hand - was != deltas[key]:
            world.found("-", "stock", f"{key}: on_hand moved {was} -> {on_hand}, audited adjustments say {deltas[key]:+d}")
        if held != reserved[key]:
            world.found("-", "stock", f"{key}: reserved {held}, open reservations hold {reserved[key]}")


def short_picks(world: World, sessions: sessionmaker[Session], before: StockSnapshot) -> None:
    """Short picks (issue 17): every unit a parcel reports not picked (`short_picked`) was written
    off its warehouse's shelf exactly once, by a `short_pick` audit row of that parcel (so the
    stock check above counts it), and nothing else was; the order took the missing lines up
    (`shipment.short_picked` in its timeline) unless it was cancelled first."""
    with sessions() as s:
        rows = list(
            s.scalars(
                select(StockAdjustmentRow).where(
                    StockAdjustmentRow.id > before.last_adjustment,
                    StockAdjustmentRow.sku.in_(world.skus),
                    StockAdjustmentRow.reason == "short_pick",
                )
            )
        )
    written: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        written[(str(row.detail.get("shipment_id")), row.sku, row.warehouse)] -= row.delta_on_hand
    reported: Counter[tuple[str, str, str]] = Counter()
    for order_id in world.orders:
        order = world.settled[order_id]
        for parcel in order["shipments"]:
            for line in parcel.get("short_picked") or []:
                reported[(parcel["shipment_id"], line["sku"], parcel["warehouse"])] += line["quantity"]
            taken_up = any(
                e["event"] == "shipment.short_picked" and e["detail"].get("shipment_id") == parcel["shipment_id"]
                for e in order["timeline"]
            )
            if parcel.get("short_picked") and not taken_up and order["status"] != "cancelled":
                world.found(order_id, "short-pick", f"{parcel['shipment_id']} short of {parcel['short_picked']}, never taken up")
    for key in set(written) | set(reported):
        if written[key] != reported[key]:
            owner = key[0].rsplit("-P", 1)[0]
            world.found(owner, "short-pick", f"{key}: parcel reports {reported[key]} not picked, {written[key]} written off")


def notifications(world: World, sessions: sessionmaker[Session]) -> None:
    """Each notification went out at most once per dedupe key."""
    with sessions() as s:
        rows = s.execute(
            select(NotificationOutboxRow.order_id, NotificationOutboxRow.dedupe_key, func.count())
            .where(NotificationOutboxRow.order_id.in_(world.orders))
            .group_by(NotificationOutboxRow.order_id, NotificationOutboxRow.dedupe_key)
            .having(func.count() > 1)
        ).all()
    for order_id, key, count in rows:
        world.found(order_id, "notification-once", f"{key} sent {count} times")


async def timeline(world: World, order: dict[str, Any]) -> None:
    """Timeline times never go backwards."""
    response = await world.api.get(f"/orders/{order['order_id']}/timeline", headers={"X-API-Key": "dev-ops-key"})
    entries = response.json() if response.status_code == 200 else []
    if isinstance(entries, dict):
        entries = entries.get("items") or entries.get("timeline") or []
    for name, listing in (("order read", order["timeline"]), ("GET timeline", entries)):
        times = [datetime.fromisoformat(e["at"]) for e in listing]
        for earlier, later, before, entry in zip(times, times[1:], listing, listing[1:], strict=False):
            if later < earlier:
                world.found(
                    order["order_id"], "timeline",
                    f"{name}: {entry['event']} {entry.get('detail')} at {later} before "
                    f"{before['event']} {before.get('detail')} at {earlier}",
                )
                break


def _comparable(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": view["status"],
        "lines": sorted((line["sku"], line["quantity"]) for line in view["lines"]),
        "needs_attention": view["needs_attention"],
        "attention_reason": view.get("attention_reason"),
        "available_actions": sorted(view.get("available_actions") or []),
        "payment": view["payment"]["status"],
        "totals": {k: str(Decimal(str(v))) for k, v in view["totals"].items()},
        "shipments": sorted((s["shipment_id"], s["status"]) for s in view["shipments"]),
        "returns": sorted((r["rma_id"], r["status"]) for r in view["returns"]),
        "hold": bool(view.get("hold")),
    }


async def projection(world: World, order: dict[str, Any]) -> None:
    """GET /orders/{id} equals the workflow's own `state`, for the fields both have."""
    handle = world.client.get_workflow_handle(order["workflow_id"])
    state = await handle.query("state", result_type=OrderView)
    ours = _comparable(state.model_dump(mode="json"))
    for _ in range(20):  # the projection follows the workflow; let it catch up
        read = _comparable(await world.read(order["order_id"]))
        if read == ours:
            return
        await asyncio.sleep(0.1)
    diff = {k: (read[k], ours[k]) for k in ours if read[k] != ours[k]}
    world.found(order["order_id"], "projection", f"projection vs workflow state: {diff}")
