"""Plays the warehouse and the carriers over the public HTTP API, with time compressed.

It confirms picks and posts signed carrier webhooks, exactly as a real warehouse system and
carrier would, so a demo order reaches delivered and closed on its own (docs/architecture.md, "Adapters").
The decision of what to do next is the pure function `decide()`; the loop around it does I/O.

It holds no ops key. As the warehouse it reads each active warehouse's work queue
(`GET /warehouse/tasks`) and confirms those picks, with the warehouse key alone: a parcel on an ops
hold is not on the queue, so it is not picked. As the carriers it follows the labelled parcels on
the order list pages, read with an unbound client key (what a storefront sees: each parcel's status,
carrier and tracking number); only without one does it fall back to an ops key, and without either
it plays no carrier.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from config.settings import Settings, api_base_url, first_key_with_role, parse_api_keys

log = logging.getLogger("oms.simulator")

# What a poll or a post may raise: transport and HTTP status errors, and undecodable JSON.
_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    OSError,
    ValueError,
    KeyError,
    TypeError,
)

# Orders whose shipments may still need a carrier.
POLLED_ORDER_STATUSES = (
    "fulfilling",
    "partially_shipped",
    "shipped",
    "partially_delivered",
)

# One simulated hour between steps (pick, hand-over, out for delivery, delivery).
SIMULATED_STEP_SECONDS = 3600.0

# Shipment status -> the carrier status the simulator reports next.
NEXT_CARRIER_STATUS: dict[str, str] = {
    "label_created": "in_transit",
    "in_transit": "out_for_delivery",
    "out_for_delivery": "delivered",
}


@dataclass(frozen=True)
class ShipmentState:
    """What the simulator remembers about one shipment."""

    status: str
    since: float  # when this status was first seen (monotonic seconds)
    acted_at: float | None = None  # when we last acted on this status


@dataclass(frozen=True)
class Action:
    kind: str  # "pick" | "carrier"
    shipment_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    status: str | None = None  # carrier status to report


def step_seconds(
    speed: float, simulated_seconds: float = SIMULATED_STEP_SECONDS
) -> float:
    """Real seconds for `simulated_seconds` at `speed` simulated seconds per real second."""
    if speed <= 0:
        raise ValueError("simulator speed must be positive")
    return simulated_seconds / speed


def next_carrier_status(shipment_status: str) -> str | None:
    return NEXT_CARRIER_STATUS.get(shipment_status)


def decide(
    shipment: Mapping[str, Any],
    state: ShipmentState | None,
    now: float,
    step: float,
) -> tuple[ShipmentState, Action | None]:
    """Return the shipment's new state and the action due now, if any.

    An action is due one step after the shipment entered its status, and is repeated at most
    once per step while the status does not move (a lost request, a slow workflow).
    """
    status = str(shipment.get("status"))
    shipment_id = str(shipment.get("shipment_id"))
    if state is None or state.status != status:
        state = ShipmentState(status=status, since=now)

    action: Action | None = None
    if status == "picking":
        action = Action(kind="pick", shipment_id=shipment_id)
    else:
        carrier_status = next_carrier_status(status)
        tracking = shipment.get("tracking_number")
        carrier = shipment.get("carrier")
        if carrier_status and tracking and carrier:
            action = Action(
                kind="carrier",
                shipment_id=shipment_id,
                carrier=str(carrier),
                tracking_number=str(tracking),
                status=carrier_status,
            )
    if action is None:
        return state, None
    if now - state.since < step:
        return state, None
    if state.acted_at is not None and now - state.acted_at < step:
        return state, None
    return replace(state, acted_at=now), action


def sign(body: bytes, secret: str) -> str:
    """The `X-Signature` header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def carrier_webhook_body(
    tracking_number: str, status: str, at: datetime | None = None
) -> bytes:
    at = at or datetime.now(UTC)
    payload = {
        "tracking_number": tracking_number,
        "status": status,
        "detail": None,
        "at": at.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def task_shipment(task: Mapping[str, Any]) -> dict[str, Any]:
    """A pick task of `GET /warehouse/tasks` as the shipment `decide()` reads: waiting for its pick."""
    return {"shipment_id": task.get("shipment_id"), "status": "picking", "lines": task.get("lines") or []}


def unbound_client_key(settings: Settings) -> str | None:
    """The first plain client key bound to no customers: it reads every order, as a storefront."""
    for entry in parse_api_keys(settings.api_keys.get_secret_value()):
        if entry.role == "client" and entry.customers is None and entry.key is not None:
            return entry.key
    return None


def pick_body(shipment: Mapping[str, Any]) -> dict[str, Any]:
    lines = []
    for line in shipment.get("lines") or []:
        if isinstance(line, Mapping) and "sku" in line:
            lines.append({"sku": line["sku"], "quantity": line.get("quantity", 1)})
    return {"lines": lines, "picker": "simulator"}


class Simulator:
    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        keys = settings.api_key_table()
        warehouse_key = first_key_with_role(keys, "warehouse")
        if warehouse_key is None:
            raise ValueError(
                "the simulator needs an API key with role warehouse in OMS_API_KEYS"
            )
        self.warehouse_key = warehouse_key
        # The carriers' reads of the order lists: a storefront's view is enough.
        self.tracking_key = unbound_client_key(settings) or first_key_with_role(keys, "ops")
        if self.tracking_key is None:
            log.warning(
                "no unbound client key in OMS_API_KEYS: the simulator confirms picks but plays no carrier"
            )
        self.secrets = settings.carrier_secret_table()
        self.step = step_seconds(settings.simulator_speed)
        self.poll_interval = max(0.05, min(settings.simulator_poll_interval, self.step))
        self.client = client or httpx.Client(
            base_url=api_base_url(settings), timeout=10.0
        )
        self.states: dict[str, ShipmentState] = {}

    # -- reading ----------------------------------------------------------------------------
    def _get(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.client.get(path, params=params, headers={"X-API-Key": key})
        response.raise_for_status()
        return response.json()

    def warehouses(self) -> list[str]:
        """The codes of the active warehouses."""
        try:
            listed = self._get("/warehouses", self.warehouse_key)
        except _ERRORS as exc:
            log.warning("listing warehouses failed: %s", exc)
            return []
        items = listed.get("items", []) if isinstance(listed, Mapping) else listed
        return [str(w["code"]) for w in items if isinstance(w, Mapping) and w.get("code") and w.get("active", True)]

    def pick_tasks(self) -> Iterator[dict[str, Any]]:
        """The parcels waiting to be picked, from each active warehouse's work queue."""
        for warehouse in self.warehouses():
            cursor: str | None = None
            for _page in range(20):
                params: dict[str, Any] = {"warehouse": warehouse, "limit": 500}
                if cursor:
                    params["cursor"] = cursor
                try:
                    page = self._get("/warehouse/tasks", self.warehouse_key, params)
                except _ERRORS as exc:
                    log.warning("reading the tasks of %s failed: %s", warehouse, exc)
                    break
                for task in page.get("items", []):
                    if task.get("shipment_id"):
                        yield task_shipment(task)
                cursor = page.get("next_cursor")
                if not cursor:
                    break

    def open_orders(self) -> Iterator[dict[str, Any]]:
        """The orders in each polled status, as the list pages give them: each item carries its
        parcels as they are now, so one request reads a hundred orders' parcels."""
        if self.tracking_key is None:
            return
        for status in POLLED_ORDER_STATUSES:
            cursor: str | None = None
            for _page in range(20):
                params: dict[str, Any] = {"status": status, "limit": 100}
                if cursor:
                    params["cursor"] = cursor
                try:
                    page = self._get("/orders", self.tracking_key, params)
                except _ERRORS as exc:
                    log.warning("listing %s orders failed: %s", status, exc)
                    break
                for item in page.get("items", []):
                    if item.get("order_id"):
                        yield item
                cursor = page.get("next_cursor")
                if not cursor:
                    break

    def shipments(self) -> Iterator[dict[str, Any]]:
        """The parcels to pick (the work queues), then the labelled ones the carriers move (the
        order lists). A parcel waiting for its pick is picked only from its warehouse's queue."""
        yield from self.pick_tasks()
        seen: set[str] = set()
        for order in self.open_orders():
            order_id = str(order["order_id"])
            if order_id in seen:
                continue  # moved to the next polled status while we paged
            seen.add(order_id)
            for shipment in order.get("shipments") or []:
                if shipment.get("shipment_id") and next_carrier_status(str(shipment.get("status"))):
                    yield shipment

    # -- acting -----------------------------------------------------------------------------
    def perform(self, action: Action, shipment: Mapping[str, Any]) -> bool:
        try:
            if action.kind == "pick":
                response = self.client.post(
                    f"/warehouse/shipments/{action.shipment_id}/picked",
                    json=pick_body(shipment),
                    headers={"X-API-Key": self.warehouse_key},
                )
            else:
                assert action.carrier and action.tracking_number and action.status
                secret = self.secrets.get(action.carrier)
                if secret is None:
                    log.warning(
                        "no secret for carrier %s; cannot move %s",
                        action.carrier,
                        action.tracking_number,
                    )
                    return False
                body = carrier_webhook_body(action.tracking_number, action.status)
                response = self.client.post(
                    f"/webhooks/carriers/{action.carrier}",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Signature": sign(body, secret),
                    },
                )
        except _ERRORS as exc:
            log.warning(
                "%s for shipment %s failed: %s", action.kind, action.shipment_id, exc
            )
            return False
        if response.status_code >= 400:
            log.warning(
                "%s for shipment %s answered %s: %s",
                action.kind,
                action.shipment_id,
                response.status_code,
                response.text[:300],
            )
            return False
        what = (
            "picked"
            if action.kind == "pick"
            else f"{action.carrier} {action.tracking_number} -> {action.status}"
        )
        log.info("shipment %s: %s", action.shipment_id, what)
        return True

    def tick(self, now: float | None = None) -> list[Action]:
        """One poll over all open orders; returns the actions attempted."""
        now = time.monotonic() if now is None else now
        done: list[Action] = []
        alive: set[str] = set()
        for shipment in self.shipments():
            shipment_id = str(shipment["shipment_id"])
            alive.add(shipment_id)
            state, action = decide(
                shipment, self.states.get(shipment_id), now, self.step
            )
            self.states[shipment_id] = state
            if action is not None:
                self.perform(action, shipment)
                done.append(action)
        for gone in set(self.states) - alive:
            del self.states[gone]
        return done

    def run(self, stop_after: float | None = None) -> None:
        log.info(
            "simulator on %s: one simulated hour every %.1fs (speed %g)",
            self.client.base_url,
            self.step,
            SIMULATED_STEP_SECONDS / self.step,
        )
        started = time.monotonic()
        while stop_after is None or time.monotonic() - started < stop_after:
            began = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("simulator tick failed")
            time.sleep(max(0.0, self.poll_interval - (time.monotonic() - began)))


def run_simulator(settings: Settings) -> None:
    Simulator(settings).run()


__all__ = [
    "Action",
    "ShipmentState",
    "Simulator",
    "decide",
    "next_carrier_status",
    "run_simulator",
    "sign",
    "step_seconds",
    "task_shipment",
    "unbound_client_key",
]
