"""Resolving what went wrong by hand: the ops actions `refund` and `reship` (API.md "Resolving
what goes wrong").

Both run in the ops_action update, beside the run loop: the validator (domain/resolution.py)
has already said that the action applies. A reship replaces an undeliverable parcel (returned to
the sender, lost, damaged) with a new one, stock reserved under a reservation key of its own; a
refund pays back an amount or lines, optionally resolving such a parcel. The run loop waits for
`state.resolving` to be 0 before it closes the order, so an action half done never races the close.
A wrong_item claim made good (reshipped or refunded) opens the return of the wrong item
(AfterSales.open_claim_return, behind WRONG_ITEM_RETURN_PATCH).
"""

import contextlib

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import events, ids
    from domain.claims import claim_lines, claim_on, claim_refusal, open_claim
    from domain.enums import ClaimKind, ClaimStatus, OpsActionKind, ShipmentStatus
    from domain.models import ClaimRequest, ClaimView, OpsAction, ShipmentView
    from domain.news import status_after_parcel_news
    from domain.refunds import ZERO, priced
    from domain.resolution import (
        claim_named,
        named_parcel,
        refund_lines,
        refund_request,
        refunded_of,
        reship_request,
        resolvable,
        voided_parcel,
    )
    from workflows.order.after_sales import WRONG_ITEM_RETURN_PATCH, AfterSales
    from workflows.order.door import Door
    from workflows.order.fulfilment import PARCEL_WRITTEN_OFF_PATCH, Fulfilment
    from workflows.order.ops import Ops
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock


class Resolution:
    def __init__(
        self,
        state: OrderState,
        door: Door,
        ops: Ops,
        stock: Stock,
        payment: Payment,
        fulfilment: Fulfilment,
        after_sales: AfterSales,
    ) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._fulfilment = fulfilment
        self._after_sales = after_sales
        self._refunds = 0  # ops refunds so far: each one's idempotency key carries its number

    async def refund(self, action: OpsAction) -> None:
        state = self._state
        order = state.order
        amount, parcel = refund_request(order, action.params)
        lines = refund_lines(order, action.params)  # None: a goodwill amount, for no line
        voided = voided_parcel(order, action.params)  # cash on delivery never collected for it
        self._refunds += 1
        number = self._refunds
        settles = self._settle(action)
        try:
            before = {line.sku: line.amount for line in order.refunded_lines}
            refunded = await self._payment.refund(
                amount, f"ops-{number}", parcel=voided.shipment_id if voided is not None else None, lines=lines
            )
            detail: dict[str, object] = {"amount": str(refunded), "note": action.note or "", "number": number}
            if lines is not None:
                # What the refund paid per SKU (each line capped by what was left of it).
                detail["lines"] = [
                    {"sku": line.sku, "amount": str(refunded_of(order, line.sku) - before.get(line.sku, ZERO))}
                    for line in lines
                ]
            claim = claim_named(order, action.params)
            if claim is not None:
                self._door.close_claim(
                    claim.claim_id, ClaimStatus.REFUNDED, f"refunded {refunded}: {action.note}"
                )
                detail["claim_id"] = claim.claim_id
                # In the same step as the claim's close, so the order never looks as if nothing
                # were left open in between (the write-off below waits on a signal).
                self._take_back_wrong_item(claim)
                await self._after_sales.start_at_once()
                if parcel is None:
                    parcel = self._never_arrived(claim)
            if parcel is not None:
                self._door.set_outcome(parcel.shipment_id, self._payment.settled_as(parcel.shipment_id, refunded))
                self._door.unflag(f"parcel:{parcel.shipment_id}")
                await self._fulfilment.write_off(parcel.shipment_id, f"refunded {refunded}")
                detail["shipment_id"] = parcel.shipment_id
                self._door.move(
                    status_after_parcel_news(order), events.ORDER_REFUNDED, actor=action.actor, detail=detail
                )
            else:
                self._door.record(events.ORDER_REFUNDED, actor=action.actor, detail=detail)
            await self._ops.notify(
                "refunded", reason=action.note or "refund", scope=f"ops-refund-{number}", amount=refunded
            )
        finally:
            self._settled(settles)

    def _settle(self, action: OpsAction) -> str | None:
        """An ops refund or reship begins: the run loop waits for it before it closes the order,
        and the order's own resolution of the parcel it names waits for it too (fulfilment.py)."""
        self._state.resolving += 1
        parcel = named_parcel(self._state.order, action.params)
        if parcel is not None:
            self._state.settling.append(parcel)
        return parcel

    def _settled(self, parcel: str | None) -> None:
        self._state.resolving -= 1
        if parcel is not None:
            self._state.settling.remove(parcel)

    def _never_arrived(self, claim: ClaimView) -> ShipmentView | None:
        """The parcel a not_received claim refunded: resolved by the refund, so that the order no
        longer waits for it (new orders only: PARCEL_WRITTEN_OFF_PATCH)."""
        if claim.kind is not ClaimKind.NOT_RECEIVED or not workflow.patched(PARCEL_WRITTEN_OFF_PATCH):
            return None
        for parcel in self._state.order.shipments:
            if parcel.shipment_id == claim.shipment_id and parcel.outcome is None:
                return None if parcel.status is ShipmentStatus.DELIVERED else parcel
        return None

    async def reship(self, action: OpsAction) -> None:
        state = self._state
        order = state.order
        parcel, lines, address = reship_request(order, action.params)
        claim = claim_on(order, parcel.shipment_id)
        settles = self._settle(action)
        try:
            key = self._fulfilment.next_reship_key()
            allocation = await self._stock.reserve_extra(
                key, priced(order.lines, lines), f"reserve stock to reship {parcel.shipment_id}"
            )
            if allocation is None:
                self._door.record(
                    events.PARCEL_RESHIP_REFUSED,
                    actor=action.actor,
                    detail={"shipment_id": parcel.shipment_id, "reason": "out of stock"},
                )
                raise ApplicationError(
                    f"no stock to reship {parcel.shipment_id}: refund it instead", type="ActionNotApplicable"
                )
            first_new = ids.shipment_id(order.order_id, len(order.shipments) + 1)
            before = len(order.shipments)
            # The replacement is on the order before the old parcel counts as resolved, so the
            # order never looks as if nothing were left to deliver in between.
            await self._fulfilment.start_parcels(allocation, key, destination=address)
            if resolvable(parcel) or (claim is not None and claim.kind is ClaimKind.NOT_RECEIVED):
                # Cash on delivery: the replacement collects what the parcel would have.
                self._payment.renew(parcel.shipment_id, order.shipments[before:])
                # It will not arrive: the replacement takes its place. A delivered parcel under a
                # claim (damaged, items missing, the wrong item) stays delivered.
                self._door.set_outcome(parcel.shipment_id, f"reshipped as {first_new}")
                self._door.unflag(f"parcel:{parcel.shipment_id}")
                await self._fulfilment.write_off(parcel.shipment_id, f"reshipped as {first_new}")
            if claim is not None:
                self._door.close_claim(claim.claim_id, ClaimStatus.RESHIPPED, f"reshipped as {first_new}")
            self._door.move(
                status_after_parcel_news(order),
                events.PARCEL_RESHIPPED,
                actor=action.actor,
                detail={
                    "shipment_id": parcel.shipment_id,
                    "reservation": key,
                    "by": "ops" if action.actor != "system" else "claim",
                    "new": first_new,
                    **({"claim_id": claim.claim_id} if claim else {}),
                },
            )
            if claim is not None:
                self._take_back_wrong_item(claim)
                await self._after_sales.start_at_once()
            await self._ops.notify(
                "reshipped",
                reason=parcel.delivery_issue or parcel.status.value,
                scope=f"ops-{key}",
                tracking_number=parcel.tracking_number,
            )
        finally:
            self._settled(settles)

    def _take_back_wrong_item(self, claim: ClaimView) -> None:
        """A wrong_item claim just made good: the order opens the return of the wrong item (its
        label comes with the return_approved notice) and the claim names it. New orders only."""
        if claim.kind is not ClaimKind.WRONG_ITEM or not workflow.patched(WRONG_ITEM_RETURN_PATCH):
            return
        rma = self._after_sales.open_claim_return(claim)
        if rma is not None:
            self._door.link_claim_return(claim.claim_id, rma)

    # --- customer claims (domain/claims.py) ---------------------------------------------------

    def file_claim(self, request: ClaimRequest) -> ClaimView:
        """Open a claim (validated by the file_claim update): the order needs attention until ops
        answer it."""
        state = self._state
        order = state.order
        refusal = claim_refusal(order, request)
        assert refusal is None, refusal
        claim = ClaimView(
            claim_id=ids.claim_id(order.order_id, len(order.claims) + 1),
            kind=request.kind,
            shipment_id=request.shipment_id,
            lines=claim_lines(order, request),
            comment=request.comment,
            opened_at=workflow.now(),
        )
        self._door.add_claim(claim)
        self._door.record(
            events.CLAIM_OPENED,
            actor=request.actor,
            detail={"claim_id": claim.claim_id, "kind": claim.kind.value, "shipment_id": claim.shipment_id},
        )
        return claim

    async def ship_right_item(self, claim: ClaimView) -> None:
        """A wrong item: the right lines ship at once, as a reship by the order itself. Without
        stock the claim stays open for ops (refund or reject)."""
        with contextlib.suppress(ApplicationError):  # out of stock: recorded, the claim waits for ops
            await self.reship(
                OpsAction(
                    action=OpsActionKind.RESHIP,
                    note="wrong item: the right one ships at once",
                    params={"claim_id": claim.claim_id},
                    actor="system",
                )
            )

    async def reject_claim(self, action: OpsAction) -> None:
        claim = open_claim(self._state.order, action.params.get("claim_id"))
        assert claim is not None
        self._door.close_claim(claim.claim_id, ClaimStatus.REJECTED, action.note)
        self._door.record(
            events.CLAIM_CLOSED,
            actor=action.actor,
            detail={"claim_id": claim.claim_id, "status": ClaimStatus.REJECTED.value, "note": action.note},
        )
        await self._ops.notify(
            "claim_rejected", reason=action.note or "", scope=claim.claim_id, claim_id=claim.claim_id
        )
