"""What the order's steps share: the order itself, what waits on ops, the children it started.

One OrderState per workflow run, made by OrderWorkflow's `__init__` and handed to every step
class (intake, stock, payment, ...). A step keeps what only it uses on itself (the payment's
in-doubt flags sit with the payment); what two or more steps read lives here.
"""

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain import ids
    from domain.enums import OpsActionKind, OrderStatus
    from domain.models import (
        CancelRequest,
        CatalogItem,
        OpsAction,
        OrderInput,
        OrderPolicy,
        OrderView,
        PaymentView,
        ReturnView,
        ShipmentView,
        StepSlas,
    )
    from domain.pricing import price_request
    from workflows.returns import ReturnWorkflow
    from workflows.shipment import ShipmentWorkflow
    from workflows.supervision import bounded_retry


class CancelRequested(Exception):
    """Raised inside the run loop when a cancellation has been accepted."""


class Refused(Exception):
    """A step refused the order for good (verification, stock, payment, ops): it ends cancelled."""

    def __init__(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


class OrderState:
    def __init__(self, inp: OrderInput) -> None:
        request = inp.request
        pricing = price_request(request)
        totals = pricing.totals
        self.input = inp
        self.policy: OrderPolicy = inp.policy
        self.slas: StepSlas = inp.policy.slas.for_priority(request.priority)
        self.retry: RetryPolicy = bounded_retry(inp.policy.activity_attempts)
        self.order = OrderView(
            order_id=inp.order_id,
            status=OrderStatus.RECEIVED,
            channel=request.channel,
            channel_order_id=request.channel_order_id,
            customer=request.customer,
            lines=request.lines,
            currency=request.currency,
            totals=totals,
            line_prices=pricing.lines,
            adjustments=request.adjustments,
            shipping_address=request.shipping_address,
            shipping_speed=request.shipping_speed,
            priority=request.priority,
            payment=PaymentView(method=request.payment.method, amount=totals.grand_total),
            created_at=inp.received_at,
            updated_at=inp.received_at,
            workflow_id=ids.order_workflow_id(inp.order_id),
        )
        # Why the order needs attention, by problem (an SLA, a parked step, a parcel, a return).
        self.attention: dict[str, str] = {}
        # Ops and commands left for the run loop by the handlers.
        self.awaiting_ops: frozenset[OpsActionKind] = frozenset()
        self.ops_pending: OpsAction | None = None
        self.cancel: CancelRequest | None = None
        self.compensation: asyncio.Task[None] | None = None  # set once compensations begin
        # Read by verification, used for the parcels' weights.
        self.catalog: dict[str, CatalogItem] = {}
        # The children: one ShipmentWorkflow per parcel, one ReturnWorkflow per return.
        self.children: list[workflow.ChildWorkflowHandle[ShipmentWorkflow, ShipmentView]] = []
        self.finished_parcels: set[str] = set()
        self.warehouse_regions: dict[str, str] = {}  # where each parcel's warehouse is
        self.return_children: dict[str, workflow.ChildWorkflowHandle[ReturnWorkflow, ReturnView]] = {}
        self.delivered_at: datetime | None = None
        self.claim_news = False  # a claim closed: the closing loop looks again
        self.resolving = 0  # ops refunds and reships under way (workflows/order/resolution.py)
        # The parcels those ops refunds and reships settle (one entry per action under way): the
        # order's own resolution of a lost parcel waits for them (fulfilment.py).
        self.settling: list[str] = []
        self.editing = False  # an edit of the lines under way (workflows/order/edits.py)

    def checkpoint(self) -> None:
        """Cancellation is cooperative: the run loop and its waits call this between steps."""
        if self.cancel is not None:
            raise CancelRequested()
