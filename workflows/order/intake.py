"""Intake and hold: verify the order (catalog, prices, address, risk), and hold a risky one for
a person (R2)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.store import ProjectionActivities
    from domain import events
    from domain.enums import OpsActionKind, OrderStatus
    from domain.models import CatalogItem, Hold, RecentOrdersQuery
    from domain.risk import describe, hold_reasons
    from domain.verification import verify_order
    from workflows.options import LOCAL_ACTIVITY_TIMEOUT, PERSISTENT_RETRY
    from workflows.order.door import Door
    from workflows.order.ops import Ops
    from workflows.order.state import OrderState, Refused

# What ops may answer a hold with.
_HOLD_ANSWERS = {OpsActionKind.APPROVE, OpsActionKind.REJECT, OpsActionKind.REQUEST_INFO}


class Intake:
    def __init__(self, state: OrderState, door: Door, ops: Ops) -> None:
        self._state = state
        self._door = door
        self._ops = ops

    async def verify(self) -> None:
        """Catalog, prices, address, then risk: a risky order gets a hold (decided by `hold`)."""
        state = self._state
        self._door.move(OrderStatus.VERIFYING, events.ORDER_VERIFYING)
        request = state.input.request
        # Short reads: local activities spare the submitter task-queue round trips.
        catalog: list[CatalogItem] = await self._door.locally(
            workflow.execute_local_activity_method(
                InventoryActivities.load_catalog,
                [line.sku for line in request.lines],
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary=f"load catalog for {len(request.lines)} skus",
            )
        )
        state.catalog = {item.sku: item for item in catalog}
        problems = verify_order(request, state.catalog)
        if problems:
            raise Refused("verification failed", {"problems": [p.model_dump() for p in problems]})
        recent_orders: int = await self._door.locally(
            workflow.execute_local_activity_method(
                ProjectionActivities.count_recent_orders,
                RecentOrdersQuery(
                    customer_id=request.customer.id,
                    since=workflow.now() - state.policy.risk.velocity_window,
                    exclude_order_id=state.order.order_id,
                ),
                start_to_close_timeout=LOCAL_ACTIVITY_TIMEOUT,
                retry_policy=PERSISTENT_RETRY,
                summary="count the customer's recent orders",
            )
        )
        reasons = hold_reasons(request, state.order.totals, state.policy.risk, recent_orders)
        if reasons:
            self._door.set_hold(Hold(reason=describe(reasons), since=workflow.now(), codes=reasons))

    async def hold(self) -> None:
        """Wait for ops to approve or reject a held order; unanswered, it cancels (R2)."""
        state = self._state
        hold = state.order.hold
        assert hold is not None
        codes = [code.value for code in hold.codes]
        action = await self._ops.await_ops(
            set(_HOLD_ANSWERS),
            status=OrderStatus.ON_HOLD,
            event=events.ORDER_HELD,
            detail={"codes": codes, "reason": hold.reason},
            timeout=state.policy.hold_timeout,
            notify="on_hold",
        )
        info_requests = 0
        while action is not None and action.action is OpsActionKind.REQUEST_INFO:
            info_requests += 1
            self._door.hold_info_requested()
            await self._ops.notify("info_requested", reason=action.note or "", occurrence=info_requests)
            # The customer was contacted: they get the full hold time again to answer.
            action = await self._ops.await_ops(
                set(_HOLD_ANSWERS),
                status=OrderStatus.ON_HOLD,
                event=events.HOLD_WAITING_FOR_CUSTOMER,
                timeout=state.policy.hold_timeout,
            )
        if action is None:
            raise Refused("hold timed out", {"codes": codes})
        if action.action is OpsActionKind.REJECT:
            raise Refused(f"rejected on review: {action.note}" if action.note else "rejected on review")
        self._door.set_hold(None)  # approved
