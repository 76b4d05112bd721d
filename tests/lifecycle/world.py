"""The world model: what customers, the warehouse, carriers and ops do to orders, drawn from one
seeded random generator, sent over HTTP to the real API.

Every answer is checked against the contract as it comes (a documented status, never a 5xx); a 202
is remembered and must change the order observably (its `version`) within a few seconds. The run
ends with every order's timers skipped past every window (`quiet`), then the invariants run
(tests/lifecycle/invariants.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain import ids
from tests.conftest import CLIENT, OPS, WAREHOUSE
from tests.integration.helpers import carrier_event, get_order, new_sku, order_body

TERMINAL = {"closed", "cancelled"}
CARRIER_EVENTS = [
    ("in_transit", None), ("out_for_delivery", None), ("delivered", None),
    ("exception", "lost"), ("exception", "damaged"), ("exception", "failed_attempt"), ("exception", "delayed"),
    ("returned_to_sender", None),
]
TOKENS = ["tok_visa"] * 6 + ["tok_flaky"] * 2 + ["tok_decline"]
COD = "cod"  # drawn with the tokens: cash on delivery, captured parcel by parcel at delivery
PAYMENTS = TOKENS + [COD] * 3
# Documented answers per kind of request (shared/API.md). 404/405 for claims: the endpoint may not
# exist yet on main.
DOCUMENTED: dict[str, set[int]] = {
    "submit": {201, 200},
    "pick": {202, 404, 409},
    "carrier": {202, 404, 409},
    "cancel": {200, 409},
    "address": {200, 409},
    "return": {201, 409},
    "receive": {202, 404, 409},
    "claim": {201, 404, 405, 409},
    "action": {200, 409},
    "choice": {200, 409},
    # Order edits (issue 17): 409 too late / payment declined / out of stock; 422 a bad line set.
    "lines": {200, 409, 422},
    "contact": {200, 409, 422},
    # Transfers between warehouses (issue 19): 409 when the source has too few unreserved units.
    "transfer": {201, 409},
    # Cycle counts (issue 19): 202 held for ops (a large discrepancy), 422 below the reserved units;
    # a decision is 409 when the approval would go below what is reserved by then.
    "count": {201, 202, 422},
    "count-decision": {200, 409},
}
# Longer than every window: return window 30d, backorder 14d, hold 48h, every SLA.
QUIET = timedelta(days=40)
FORWARD_WAIT = 8.0  # seconds
# An order that looks stuck after the skip gets a second, longer one: on a loaded machine a parcel
# polling its carrier every 12 h can take longer than FORWARD_WAIT to reach its 7-day SLA, and the
# invariant would then blame the order for a skip that did not finish.
SECOND_LOOK_WAIT = 40.0  # seconds
ANSWER_WAIT = 120.0  # seconds: every request answers well within this, however loaded the machine


# Each order draws from a generator of its own (seed, order number), so the orders' histories stay
# the same whatever order the event loop runs them in.
_order_rng: contextvars.ContextVar[random.Random] = contextvars.ContextVar("order_rng")


@dataclass
class Finding:
    order_id: str
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.order_id}: {self.detail}"


@dataclass
class World:
    seed: int
    api: httpx.AsyncClient
    client: Client
    env: WorkflowEnvironment
    setup_rng: random.Random = field(init=False)
    skus: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)  # the current round's
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)  # every order, once quiet
    submitted: int = 0
    findings: list[Finding] = field(default_factory=list)
    sent_events: set[tuple[str, str, str | None]] = field(default_factory=set)
    accepted: list[tuple[str, int, str]] = field(default_factory=list)  # (order, version before, what)
    log: list[str] = field(default_factory=list)

    # Ops' transfers draw from a generator of their own, so the orders' histories stay their seeds'.
    transfer_rng: random.Random = field(init=False)
    count_rng: random.Random = field(init=False)  # the warehouse's cycle counts, likewise

    def __post_init__(self) -> None:
        self.setup_rng = random.Random(self.seed)
        self.transfer_rng = random.Random(f"{self.seed}-transfers")
        self.count_rng = random.Random(f"{self.seed}-counts")

    @property
    def rng(self) -> random.Random:
        """The current order's generator (inside `submit`/`live`), else the run's own."""
        return _order_rng.get(self.setup_rng)

    def found(self, order_id: str, invariant: str, detail: str) -> None:
        self.findings.append(Finding(order_id, invariant, detail))

    # -- setup -----------------------------------------------------------------------------
    async def stock_up(self) -> None:
        """SKUs of the run's own (so other tests' stock never mixes in), scarce on purpose so that
        some orders backorder or allocate across warehouses."""
        for _ in range(3):
            east, west = self.rng.choice([0, 2, 8, 20]), self.rng.choice([0, 3, 10, 20])
            self.skus.append(await new_sku(self.api, {"WH-EAST": east, "WH-WEST": west}))
        # Each may be replaced by some of the others when it is backordered (the backorder choice).
        for sku in self.skus:
            others = [s for s in self.skus if s != sku]
            substitutes = self.rng.sample(others, self.rng.randint(0, len(others)))
            response = await self.api.put(
                f"/catalog/{sku}", headers=OPS,
                json={"name": f"test item {sku}", "price": "99.00", "weight_grams": 400, "substitutes": substitutes},
            )
            assert response.status_code == 200, response.text

    async def move_stock(self, stop: asyncio.Event) -> None:
        """Ops rebalance stock while the orders live (issue 19): a few unreserved units of one of
        the round's SKUs move between the warehouses now and then, until `stop`. The stock
        invariant counts both audited legs; a transfer the source cannot cover is a 409."""
        rng = self.transfer_rng
        while not stop.is_set():
            source, destination = rng.sample(["WH-EAST", "WH-WEST"], 2)
            body = {
                "sku": rng.choice(self.skus), "from_warehouse": source, "to_warehouse": destination,
                "quantity": rng.randint(1, 4), "note": "fuzz rebalance",
            }
            await self.call("transfer", "-", "POST", "/inventory/transfers", headers=OPS, json=body)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rng.choice([0.1, 0.3, 0.8]))

    async def count_stock(self, stop: asyncio.Event) -> None:
        """The warehouse counts shelves while the orders live (issue 19): one of the round's SKUs
        at one warehouse, found a few units off (or exact), now and then far off, which waits for
        ops, who approve or reject it. The stock invariant counts every audited change; a held
        count changes nothing until approved."""
        rng = self.count_rng
        while not stop.is_set():
            sku, warehouse = rng.choice(self.skus), rng.choice(["WH-EAST", "WH-WEST"])
            levels = (await self.api.get(f"/inventory/{sku}", headers=OPS)).json()["warehouses"]
            level = next((row for row in levels if row["warehouse"] == warehouse), None)
            if level is not None:
                counted = max(0, level["on_hand"] + rng.choice([-2, -1, 0, 0, 1, 2, -15, 15]))
                body = {"warehouse": warehouse, "sku": sku, "counted": counted, "note": "fuzz count"}
                response = await self.call("count", "-", "POST", "/warehouse/counts", headers=WAREHOUSE, json=body)
                if response.status_code == 202:
                    decision = rng.choice(["approve", "reject"])
                    url = f"/warehouse/counts/{response.json()['count_id']}/{decision}"
                    await self.call("count-decision", "-", "POST", url, headers=OPS, json={"note": "fuzz"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rng.choice([0.2, 0.5, 1.0]))

    # -- talking to the API ----------------------------------------------------------------
    async def call(self, kind: str, order_id: str, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            response = await asyncio.wait_for(self.api.request(method, url, **kw), timeout=ANSWER_WAIT)
        except TimeoutError:
            # A request that never answers is a finding, not a stalled run (seed 20261201, order 937
            # once held a 2,000-order run for an hour); the order's read shows where it waits.
            self.log.append(f"{order_id} {kind} {method} {url} -> no answer")
            self.found(order_id, "answers", f"{method} {url} {kw.get('json')}: no answer within {ANSWER_WAIT:.0f}s")
            return httpx.Response(599, text="no answer")
        problem = ""
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/problem+json"):
            problem = " " + str(response.json().get("type", ""))
        self.log.append(f"{order_id} {kind} {method} {url} -> {response.status_code}{problem}")
        if response.status_code not in DOCUMENTED[kind]:
            self.found(order_id, "documented-answer", f"{method} {url} {kw.get('json')} -> {response.status_code} {response.text[:300]}")
        return response

    async def read(self, order_id: str) -> dict[str, Any]:
        return await get_order(self.api, order_id)

    async def accepted_changes(self, order_id: str, before_call: dict[str, Any], what: str) -> None:
        """A 202 must change the order: its version moves within seconds. Under an ops hold
        the fact is kept until `release` (API.md "Facts from outside are never dropped"): not
        checked then."""
        if (await self.read(order_id)).get("hold"):
            return
        before = before_call["version"]
        # A fact about one parcel only (a delay) changes the parcel's row and the order's
        # timeline, which the order read carries, without a new version of the order itself.
        parcels_before = (len(before_call["timeline"]), [s.get("version") for s in before_call["shipments"]])
        for _ in range(300):  # about 15 s and more: a loaded machine is slow, not wrong
            now = await self.read(order_id)
            if now["version"] > before or (len(now["timeline"]), [s.get("version") for s in now["shipments"]]) != parcels_before:
                return
            await asyncio.sleep(0.05)
        self.found(order_id, "202-changes-something", f"{what} answered 202 and the order did not change")

    # -- one order's life ------------------------------------------------------------------
    async def submit(self) -> str:
        """A new order, with its own generator for the rest of the calling task."""
        self.submitted += 1
        _order_rng.set(random.Random(f"{self.seed}-{self.submitted}"))
        lines = [
            {"sku": sku, "quantity": self.rng.randint(1, 3), "unit_price": "99.00"}
            for sku in self.rng.sample(self.skus, self.rng.randint(1, 2))
        ]
        drawn = self.rng.choice(PAYMENTS)
        payment = {"method": COD} if drawn == COD else {"method": "card", "token": drawn}
        body = order_body(self.skus[0], payment=payment)
        body["order_id"] = f"FZ{self.seed}-{self.submitted}-{secrets.token_hex(3)}"
        body["lines"] = lines
        if self.rng.random() < 0.25:
            body["adjustments"] = self.adjustments(lines)
        self.orders.append(body["order_id"])
        await self.call("submit", body["order_id"], "POST", "/orders", headers=CLIENT, json=body)
        return body["order_id"]

    def adjustments(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Channel discounts (docs/api.md "Price adjustments"): a line's own, an order's, or both,
        each well under OMS_MAX_DISCOUNT_PERCENT (50%) of the cheapest order's 99.00, so that the
        prices, their spread over the lines and their shrinking with an edit are exercised."""
        chosen: list[dict[str, Any]] = []
        kind = self.rng.choice(["line", "order", "both"])
        if kind in ("line", "both"):
            chosen.append({"sku": self.rng.choice(lines)["sku"], "amount": f"-{self.rng.randint(100, 2000) / 100:.2f}", "reason": "fuzz promo"})
        if kind in ("order", "both"):
            chosen.append({"sku": None, "amount": f"-{self.rng.randint(1, 1500) / 100:.2f}", "reason": "fuzz coupon"})
        return chosen

    async def live(self, order_id: str, steps: int) -> None:
        for _ in range(steps):
            order = await self.read(order_id)
            if order["status"] in TERMINAL:
                return
            await self.step(order)
            await asyncio.sleep(self.rng.choice([0, 0.05, 0.2, 0.5]))

    async def step(self, order: dict[str, Any]) -> None:
        shipments = order["shipments"]
        moves: list[tuple[float, Any]] = [
            (3, self.wait), (0.3, self.cancel), (0.5, self.change_address), (0.5, self.change_contact),
        ]
        # An edit applies while held, or fulfilling until its parcels are picked: drawn mostly
        # then, now and then at other moments (the 409 too-late-to-edit).
        editable = order["status"] == "on_hold" or (
            order["status"] in ("fulfilling", "partially_shipped")
            and any(s["status"] in ("pending", "picking") for s in shipments)
        )
        moves.append((5 if editable else 0.5, self.edit_lines))
        if any(s["status"] in ("pending", "picking") for s in shipments):
            moves.append((6, self.pick))
        if any(s.get("tracking_number") for s in shipments):
            moves.append((8, self.carrier))
        if any(s["status"] == "delivered" for s in shipments):
            moves.append((3, self.open_return))
        if any(s.get("tracking_number") for s in shipments):
            moves.append((1, self.claim))
        if order["returns"]:
            moves.append((3, self.receive))
        if order["status"] == "backordered" and order.get("backorder"):
            moves.append((4, self.backorder_choice))
        fixes = [a for a in order.get("available_actions", []) if a not in ("note", "cancel")]
        if fixes:
            moves.append((4, self.ops_action))
        elif "cancel" in order.get("available_actions", []):
            moves.append((0.3, self.ops_action))
        weights, choices = zip(*moves, strict=True)
        move = self.rng.choices(choices, weights=weights)[0]
        await move(order)

    async def wait(self, order: dict[str, Any]) -> None:
        """The world does nothing for a moment: the order goes on by itself."""
        await asyncio.sleep(0.2)

    async def pick(self, order: dict[str, Any]) -> None:
        parcel = self.rng.choice([s for s in order["shipments"] if s["status"] in ("pending", "picking")])
        lines = []
        for line in parcel["lines"]:
            quantity = line["quantity"] if self.rng.random() < 0.75 else self.rng.randint(0, line["quantity"])
            lines.append({"sku": line["sku"], "quantity": quantity})
        url = f"/warehouse/shipments/{parcel['shipment_id']}/picked"
        response = await self.call("pick", order["order_id"], "POST", url, headers=WAREHOUSE, json={"lines": lines, "picker": "fuzz"})
        if response.status_code == 202:
            await self.accepted_changes(order["order_id"], order, f"pick {lines}")

    async def carrier(self, order: dict[str, Any]) -> None:
        parcel = self.rng.choice([s for s in order["shipments"] if s.get("tracking_number")])
        status, detail = self.rng.choice(CARRIER_EVENTS)
        key = (parcel["tracking_number"], status, detail)
        # A repeat of what the parcel already knows (its status again, or the issue that ended it)
        # is accepted idempotently (202) and changes nothing, like a webhook retried.
        repeat = parcel["status"] == status if status != "exception" else parcel.get("delivery_issue") == detail
        duplicate = key in self.sent_events or repeat
        self.sent_events.add(key)
        response = await carrier_event(self.api, parcel["carrier"], parcel["tracking_number"], status, detail)
        self.log.append(f"{order['order_id']} carrier {status}/{detail} -> {response.status_code}")
        if response.status_code not in DOCUMENTED["carrier"]:
            self.found(order["order_id"], "documented-answer", f"carrier {status}/{detail} -> {response.status_code} {response.text[:300]}")
        elif response.status_code == 202 and not duplicate:
            await self.accepted_changes(
                order["order_id"], order,
                f"carrier {status}/{detail} on parcel {parcel['shipment_id']} ({parcel['status']}, order {order['status']})",
            )
        if self.rng.random() < 0.2:  # the same event again, at once
            again = await carrier_event(self.api, parcel["carrier"], parcel["tracking_number"], status, detail)
            if again.status_code >= 500:
                self.found(order["order_id"], "documented-answer", f"duplicate carrier {status} -> {again.status_code}")

    async def cancel(self, order: dict[str, Any]) -> None:
        await self.call("cancel", order["order_id"], "POST", f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={"reason": "fuzz"})

    async def change_address(self, order: dict[str, Any]) -> None:
        address = dict(order["shipping_address"], line1=f"{self.rng.randint(1, 999)} Fuzz Road")
        await self.call("address", order["order_id"], "PATCH", f"/orders/{order['order_id']}/shipping-address", headers=CLIENT, json=address)

    @staticmethod
    def line_set(lines: list[dict[str, Any]]) -> dict[str, int]:
        return {line["sku"]: line["quantity"] for line in lines if line["quantity"] > 0}

    def new_lines(self, order: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """A new set of lines drawn from the order's and the round's SKUs (a quantity changed, a line
        dropped, a SKU added), and whether it is valid; now and then an invalid one (no line left,
        an unknown SKU), which the contract answers 422."""
        current = self.line_set(order["lines"])
        draw = self.rng.random()
        if draw < 0.06:
            return [], False
        if draw < 0.12:
            lines = [{"sku": sku, "quantity": q} for sku, q in current.items()]
            return lines + [{"sku": f"FZ-NOSUCH-{self.rng.randint(0, 10**6)}", "quantity": 1}], False
        new = dict(current)
        for _ in range(self.rng.randint(1, 2)):
            change = self.rng.choice(["quantity", "drop", "add"])
            if change == "quantity" and new:
                new[self.rng.choice(sorted(new))] = self.rng.randint(1, 3)
            elif change == "drop" and len(new) > 1:
                del new[self.rng.choice(sorted(new))]
            else:
                new[self.rng.choice(self.skus)] = self.rng.randint(1, 3)
        lines = [{"sku": sku, "quantity": q} for sku, q in new.items()]
        dropped = sorted(set(current) - set(new))
        if dropped and self.rng.random() < 0.3:  # a line with quantity 0 is cancelled too
            lines.append({"sku": self.rng.choice(dropped), "quantity": 0})
        return lines, True

    async def edit_lines(self, order: dict[str, Any]) -> None:
        """The customer (or ops) changes the order's lines (PATCH /orders/{id}/lines): a 200 that
        changes something moves the order's version or lines; an invalid set is a 422."""
        oid = order["order_id"]
        lines, valid = self.new_lines(order)
        before = self.line_set(order["lines"])
        response = await self.call(
            "lines", oid, "PATCH", f"/orders/{oid}/lines", headers=self.rng.choice([CLIENT, OPS]), json={"lines": lines},
        )
        if not valid and response.status_code == 200:
            self.found(oid, "documented-answer", f"PATCH lines {lines} (invalid) -> 200")
        if valid and response.status_code == 422:
            self.found(oid, "documented-answer", f"PATCH lines {lines} (valid) -> 422 {response.text[:300]}")
        if response.status_code != 200 or self.line_set(lines) == before:
            return
        for _ in range(60):
            now = await self.read(oid)
            if now["version"] > order["version"] or self.line_set(now["lines"]) != before:
                return
            await asyncio.sleep(0.05)
        self.found(oid, "200-changes-something", f"PATCH lines {before} -> {lines} answered 200 and the order did not change")

    async def change_contact(self, order: dict[str, Any]) -> None:
        """The customer's new email, phone or both (PATCH /orders/{id}/contact)."""
        body: dict[str, Any] = {}
        which = self.rng.choice(["email", "phone", "both"])
        if which in ("email", "both"):
            body["email"] = f"fuzz{self.rng.randint(1, 9999)}@example.com"
        if which in ("phone", "both"):
            body["phone"] = f"+86139{self.rng.randint(10**7, 10**8 - 1)}"
        oid = order["order_id"]
        response = await self.call("contact", oid, "PATCH", f"/orders/{oid}/contact", headers=self.rng.choice([CLIENT, OPS]), json=body)
        if response.status_code == 422:
            self.found(oid, "documented-answer", f"PATCH contact {body} (valid) -> 422 {response.text[:300]}")

    async def open_return(self, order: dict[str, Any]) -> None:
        parcel = self.rng.choice([s for s in order["shipments"] if s["status"] == "delivered"])
        line = self.rng.choice(parcel["lines"])
        body = {
            "lines": [{"sku": line["sku"], "quantity": self.rng.randint(1, line["quantity"])}],
            "reason": self.rng.choice(["damaged", "wrong_item", "not_as_described", "no_longer_needed", "other"]),
            "resolution": self.rng.choice(["refund", "refund", "exchange"]),
        }
        await self.call("return", order["order_id"], "POST", f"/orders/{order['order_id']}/returns", headers=CLIENT, json=body)

    async def receive(self, order: dict[str, Any]) -> None:
        rma = self.rng.choice(order["returns"])
        lines = [
            {"sku": line["sku"], "quantity": line["quantity"], "condition": self.rng.choice(["resellable", "damaged"])}
            for line in rma["lines"]
        ]
        response = await self.call("receive", order["order_id"], "POST", f"/returns/{rma['rma_id']}/received", headers=WAREHOUSE, json={"lines": lines})
        if response.status_code == 202:
            await self.accepted_changes(order["order_id"], order, f"receipt of {rma['rma_id']} ({rma['status']})")

    async def claim(self, order: dict[str, Any]) -> None:
        parcel = self.rng.choice([s for s in order["shipments"] if s.get("tracking_number")])
        body = {
            "kind": self.rng.choice(["not_received", "damaged", "missing_items", "wrong_item"]),
            "shipment_id": parcel["shipment_id"],
            "lines": [{"sku": line["sku"], "quantity": 1} for line in parcel["lines"][:1]],
            "comment": "fuzz",
        }
        await self.call("claim", order["order_id"], "POST", f"/orders/{order['order_id']}/claims", headers=CLIENT, json=body)

    async def backorder_choice(self, order: dict[str, Any]) -> None:
        """The customer answers the backorder's question with one of the choices it offers."""
        ask = order["backorder"]
        choice = self.rng.choice(ask["choices"])
        body: dict[str, Any] = {"choice": choice}
        if choice == "substitute":
            body["substitutes"] = {m["sku"]: self.rng.choice(ask["substitutes"][m["sku"]]) for m in ask["missing"]}
        await self.call(
            "choice", order["order_id"], "POST", f"/orders/{order['order_id']}/backorder-choice",
            headers=self.rng.choice([CLIENT, OPS]), json=body,
        )

    def params_for(self, action: str, order: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Plausible params for any action, drawn from the order read: generic, so that actions
        added later are exercised as soon as `available_actions` lists them."""
        params: dict[str, Any] = {}
        shipments = order["shipments"]
        if shipments:
            params["shipment_id"] = self.rng.choice(shipments)["shipment_id"]
        if order["returns"]:
            params["rma_id"] = self.rng.choice(order["returns"])["rma_id"]
        open_claims = [c for c in order.get("claims") or [] if c.get("status") == "open"]
        if open_claims:
            params["claim_id"] = self.rng.choice(open_claims)["claim_id"]
        if action == "refund":
            whole = order["payment"].get("captured") if order["payment"]["method"] == COD else None
            paid = float(whole or order["totals"]["grand_total"]) - float(order["totals"]["refunded"])
            params["amount"] = f"{max(0.01, round(self.rng.uniform(0.01, max(paid, 0.01)), 2)):.2f}"
        if action == "reroute":
            current = next((s.get("carrier") for s in shipments if s.get("carrier")), None)
            params["carrier"] = "economy" if current == "swift" else "swift"
        if action == "move":
            params["warehouse"] = self.rng.choice(["WH-EAST", "WH-WEST"])
        return params, "fuzz: " + action

    async def ops_action(self, order: dict[str, Any]) -> None:
        actions = [a for a in order["available_actions"] if a != "note"]
        action = self.rng.choice(actions)
        params, note = self.params_for(action, order)
        if action == "move" and "shipment_id" not in params:
            # `move` applies while the order places its parcels, before the read lists them; a
            # move names its parcel (422 without one), so there is nothing to send yet.
            return
        await self.call(
            "action", order["order_id"], "POST", f"/ops/orders/{order['order_id']}/actions",
            headers=OPS, json={"action": action, "note": note, "params": params},
        )

    # -- going quiet -----------------------------------------------------------------------
    async def release_holds(self, order_ids: list[str]) -> None:
        """Ops release what they held before the world goes quiet: an ops hold is ops' own wait,
        with `release` as its way out, not a dead end of the order's."""
        for order_id in order_ids:
            order = await self.read(order_id)
            if order.get("hold") and "release" in order.get("available_actions", []):
                await self.call(
                    "action", order_id, "POST", f"/ops/orders/{order_id}/actions",
                    headers=OPS, json={"action": "release", "note": "fuzz: quiet", "params": {}},
                )

    async def skip_time(self, order_ids: list[str], wait: float = FORWARD_WAIT) -> None:
        """Every workflow of these orders (the order, its parcels, its returns) fast-forwarded past
        every window, all at once; twice, since a fired timer may start the next one. A workflow
        that waits on no timer never observes the skip: FORWARD_WAIT bounds the wait for it."""
        for _ in range(2):
            workflow_ids: list[str] = []
            for order_id in order_ids:
                order = await self.read(order_id)
                if order["status"] in TERMINAL:
                    continue
                workflow_ids.append(order["workflow_id"])
                workflow_ids += [ids.shipment_workflow_id(s["shipment_id"]) for s in order["shipments"]]
                workflow_ids += [ids.return_workflow_id(r["rma_id"]) for r in order["returns"]]
            await asyncio.gather(*(self.forward(w, wait) for w in workflow_ids))

    async def forward(self, workflow_id: str, wait: float = FORWARD_WAIT) -> None:
        handle = self.client.get_workflow_handle(workflow_id)
        with contextlib.suppress(Exception):  # closed or unknown workflows have no clock to move
            await asyncio.wait_for(self.env.fast_forward(handle, QUIET), timeout=wait)

    async def settle(self, order_id: str) -> dict[str, Any]:
        """The order once the projection stops moving (terminal, or unchanged for a while)."""
        last, same = -1, 0
        for _ in range(60):
            order = await self.read(order_id)
            if order["status"] in TERMINAL:
                return order
            same = same + 1 if order["version"] == last else 0
            if same >= 6:
                return order
            last = order["version"]
            await asyncio.sleep(0.1)
        return order
