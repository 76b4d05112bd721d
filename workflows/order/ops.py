"""Ops and the customer: waiting for an ops decision, parking a step out of retries, the SLA
hooks, the customer notifications (which park too), and the ops actions forwarded to a child.

Ops actions arrive through the `ops_action` update (workflows/order/workflow.py): what the run
loop waits for is handed to `await_ops` here; what is aimed at a parcel or a return is forwarded
to that child.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from domain import events, ids
    from domain.actions import parcel_for, parked_return
    from domain.enums import OpsActionKind, OrderStatus
    from domain.models import OpsAction, ParcelInstruction, ReturnDecision, ReturnInstruction
    from domain.notifications import order_notification
    from workflows.options import ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.door import Door
    from workflows.order.state import OrderState
    from workflows.returns import ReturnWorkflow
    from workflows.shipment import ShipmentWorkflow
    from workflows.supervision import Decision, Hook, Supervision, parked_on_failure


class Ops:
    def __init__(self, state: OrderState, door: Door) -> None:
        self._state = state
        self._door = door
        self.supervision = Supervision(
            flag=door.flag,
            unflag=door.unflag,
            wait_for_ops=self._parked,
            resumed=self._resumed,
            breached=self._breached,
            recovered=self._recovered,
            sla_key=lambda step: f"sla:{step}",
        )

    async def await_ops(
        self,
        kinds: set[OpsActionKind],
        *,
        status: OrderStatus,
        event: str | None,
        detail: dict[str, Any] | None = None,
        timeout: timedelta | None = None,
        notify: str | None = None,
        wake: Callable[[], bool] | None = None,
        notify_values: dict[str, Any] | None = None,
    ) -> OpsAction | None:
        """Move to `status` with `event` (None: wait on where the order is, recording nothing),
        then wait for one of `kinds` from ops (or `wake`, or the timeout: None is returned then).
        A cancellation ends the wait."""
        state = self._state
        state.awaiting_ops = frozenset(kinds)
        if event is not None:
            self._door.move(status, event, detail=detail)
        if notify is not None:
            await self.notify(notify, **(notify_values or {}))
        try:
            await workflow.wait_condition(
                lambda: state.ops_pending is not None or state.cancel is not None or bool(wake and wake()),
                timeout=timeout,
                timeout_summary=f"{event or status.value} timeout" if timeout else None,
            )
        except TimeoutError:
            return None
        finally:
            state.awaiting_ops = frozenset()
        state.checkpoint()
        action, state.ops_pending = state.ops_pending, None
        return action

    # --- parking and SLAs (workflows/supervision.py) ----------------------------------------

    async def park(self, step: str, reason: str) -> bool:
        """A step out of retries: flag the order, tell ops, and wait for retry (or cancel)."""
        return await self.supervision.park(step, reason)

    async def park_skippable(self, step: str, reason: str) -> bool:
        return await self.supervision.park_skippable(step, reason)

    def sla_hooks(self, step: str) -> tuple[Hook, Hook]:
        sla: timedelta = getattr(self._state.slas, step)
        return self.supervision.sla_hooks(step, sla)

    async def _parked(self, step: str, reason: str, kinds: set[OpsActionKind]) -> Decision:
        action = await self.await_ops(
            kinds, status=self._state.order.status, event=events.STEP_PARKED, detail={"step": step}
        )
        assert action is not None
        return action

    async def _resumed(self, step: str, decision: Decision) -> None:
        retry = decision.action is OpsActionKind.RETRY
        self._door.record(events.STEP_RETRIED if retry else events.STEP_SKIPPED, detail={"step": step})

    async def _breached(self, step: str, sla: timedelta) -> None:
        self._door.record(events.SLA_BREACHED, detail={"step": step, "sla": str(sla)})

    async def _recovered(self, step: str) -> None:
        if not self._state.order.status.terminal:
            self._door.record(events.SLA_RECOVERED, detail={"step": step})

    # --- the customer -----------------------------------------------------------------------

    async def notify(
        self, kind: str, reason: str = "", occurrence: int = 0, parkable: bool = True, **values: object
    ) -> None:
        """Tell the customer (domain/notifications.py); a notification out of retries parks, and
        ops may skip it."""
        notification = order_notification(self._state.order, kind, reason, occurrence, **values)

        async def send() -> bool:
            return await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                notification,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=self._state.retry if parkable else PERSISTENT_RETRY,
                summary=f"notify customer: {kind}",
            )

        if parkable:
            await parked_on_failure(f"{kind} notification", send, self.park_skippable)
        else:
            await send()

    # --- actions forwarded to a child -------------------------------------------------------

    async def decide_return(self, action: OpsAction) -> None:
        """Approve or reject a return that the policy left to ops (params.rma_id picks one)."""
        wanted = action.params.get("rma_id")
        for view in self._state.order.returns:
            if view.awaiting_approval and (wanted is None or view.rma_id == wanted):
                child = self._state.return_children.get(view.rma_id)
                if child is not None:
                    await child.signal(
                        ReturnWorkflow.decide,
                        ReturnDecision(
                            approve=action.action is OpsActionKind.APPROVE,
                            actor=action.actor,
                            note=action.note,
                        ),
                    )
                return

    def retries_return(self, action: OpsAction) -> bool:
        """A retry is for a parked return when it names one (params.rma_id), or when no parcel
        waits for it and some return does."""
        if action.action is not OpsActionKind.RETRY:
            return False
        wanted = action.params.get("rma_id")
        if wanted is not None:
            return parked_return(self._state.order, wanted) is not None
        no_parcel = parcel_for(self._state.order, action.action, action.params.get("shipment_id")) is None
        return no_parcel and parked_return(self._state.order) is not None

    async def retry_return(self, action: OpsAction) -> None:
        """Forward ops' retry to the parked return (params.rma_id picks one)."""
        view = parked_return(self._state.order, action.params.get("rma_id"))
        child = None if view is None else self._state.return_children.get(view.rma_id)
        if child is not None:
            await child.signal(
                ReturnWorkflow.ops_instruction, ReturnInstruction(action=action.action, actor=action.actor)
            )

    async def instruct_parcel(self, action: OpsAction) -> None:
        """Retry, reroute or skip aimed at a parcel: forwarded to the parcel that needs it."""
        target = parcel_for(self._state.order, action.action, action.params.get("shipment_id"))
        if target is None:
            return
        for child in self._state.children:
            if child.id == ids.shipment_workflow_id(target.shipment_id):
                carrier = action.params.get("carrier")
                await child.signal(
                    ShipmentWorkflow.ops_instruction,
                    ParcelInstruction(
                        action=action.action,
                        carrier=carrier if isinstance(carrier, str) else None,
                        actor=action.actor,
                    ),
                )
