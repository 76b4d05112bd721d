"""Ops control of the parcels the carrier has not got yet: `hold`, `release` and `move`.

- hold: the order's `hold` is set ({"reason", "since", "by"}) and every parcel not yet with the
  carrier is told (ShipmentWorkflow.ops_hold): it is not picked (a pick the warehouse confirms is
  kept and applied on release) and buys no label. A parcel already labelled goes on: the carrier's
  scan is a fact the order applies. Parcels started during the hold (a hold placed while
  allocating, paying or backordered; a reship) start held. The status stays: `on_hold` is the
  verification hold's.
- release: the hold ends and the parcels go on where they stopped.
- move: the parcel's reservation moves to the other warehouse in one inventory transaction
  (`move_reservation`: reserved there, released here), then the parcel is told
  (ShipmentWorkflow.move_to) and its pick task goes there. The inventory is the one that knows
  whether the warehouse is active and has the stock, so its refusal (OutOfStock,
  ActionNotApplicable) fails the update with that type, a 409 with the inventory's detail, and
  nothing is recorded: nothing changed.

Each recorded as `ops.<action>` with the actor, through the door.
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from domain import events, ids
    from domain.actions import on_ops_hold, waiting_for_carrier
    from domain.enums import OpsActionKind
    from domain.models import Hold, OpsAction, Parcel, ParcelHold, ParcelMove, ReservationMove
    from workflows.options import ACTIVITY_TIMEOUT
    from workflows.order.door import Door
    from workflows.order.state import OrderState
    from workflows.shipment import ShipmentWorkflow

ACTIONS = (OpsActionKind.HOLD, OpsActionKind.RELEASE, OpsActionKind.MOVE)
# A hold or release that finds a parcel already ended (an edit replaced and cancelled it, and the
# order has not heard yet) tells the other parcels on instead of failing the update half done
# (docs/versioning.md; make fuzz, seed 20261201, orders 1041, 1377 and 1615).
HOLD_SKIPS_ENDED_PARCELS_PATCH = "hold-skips-ended-parcels-20261202"


class ParcelControl:
    def __init__(self, state: OrderState, door: Door) -> None:
        self._state = state
        self._door = door

    @property
    def held(self) -> bool:
        """Parcels started now start held (Fulfilment.start_parcels)."""
        return on_ops_hold(self._state.order)

    async def act(self, action: OpsAction) -> None:
        if action.action is OpsActionKind.HOLD:
            await self._hold(action)
        elif action.action is OpsActionKind.RELEASE:
            await self._release(action)
        elif action.action is OpsActionKind.MOVE:
            await self._move(action)

    async def _hold(self, action: OpsAction) -> None:
        assert action.note is not None  # the API and the validator require it
        self._door.set_hold(Hold(reason=action.note, since=workflow.now(), by=action.actor))
        self._record(action)
        await self._tell_parcels(ParcelHold(held=True, actor=action.actor))

    async def _release(self, action: OpsAction) -> None:
        self._door.set_hold(None)
        self._record(action)
        await self._tell_parcels(ParcelHold(held=False, actor=action.actor))

    async def _tell_parcels(self, hold: ParcelHold) -> None:
        waiting = {
            ids.shipment_workflow_id(p.shipment_id)
            for p in self._state.order.shipments
            if waiting_for_carrier(p)
        }
        for child in self._state.children:
            if child.id in waiting and not child.done():
                try:
                    await child.signal(ShipmentWorkflow.ops_hold, hold)
                except FailureError:
                    # The order's hold is already set or cleared: a failure here left the other
                    # parcels untold (a release never reached them: they stayed held for good).
                    if not workflow.patched(HOLD_SKIPS_ENDED_PARCELS_PATCH):
                        raise
                    workflow.logger.info("%s: parcel %s has ended", "hold" if hold.held else "release", child.id)

    async def _move(self, action: OpsAction) -> None:
        state = self._state
        shipment_id, warehouse = action.params["shipment_id"], action.params["warehouse"]
        parcel = next(p for p in state.order.shipments if p.shipment_id == shipment_id)
        old = parcel.warehouse
        try:
            moved: Parcel = await workflow.execute_activity_method(
                InventoryActivities.move_reservation,
                ReservationMove(
                    reservation_key=parcel.reservation_key or state.order.order_id,
                    lines=parcel.lines,
                    from_warehouse=old,
                    to_warehouse=warehouse,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=state.retry,
                summary=f"move {shipment_id}'s stock from {old} to {warehouse}",
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                # The inventory refused (no stock there, an inactive warehouse): nothing moved.
                raise ApplicationError(
                    f"cannot move {shipment_id} to {warehouse}: {cause.message}",
                    type=cause.type or "ActionNotApplicable",
                ) from None
            # Out of retries (the inventory unreachable): nothing known to have moved; ops try again.
            raise ApplicationError(f"moving {shipment_id}'s stock failed, try again: {cause}") from None
        state.warehouse_regions[moved.warehouse] = moved.region
        self._door.move_parcel(shipment_id, moved.warehouse)
        self._record(action, {"from": old})
        for child in state.children:
            if child.id == ids.shipment_workflow_id(shipment_id):
                await child.signal(
                    ShipmentWorkflow.move_to,
                    ParcelMove(warehouse=moved.warehouse, region=moved.region, actor=action.actor),
                )

    def _record(self, action: OpsAction, extra: dict[str, object] | None = None) -> None:
        self._door.record(
            events.ops_event(action.action.value),
            actor=action.actor,
            detail={
                "note": action.note,
                **({"params": action.params} if action.params else {}),
                **(extra or {}),
            },
        )
