"""The worker: OrderWorkflow and ShipmentWorkflow plus every activity, on the `orders` task queue,
and the sweep that delivers pending low-stock alerts and complaint resolutions (adapters.notifications.pending).

`build_worker` is the one place a worker is assembled (used by `oms worker`, `oms dev` and the
tests), so production and tests run the same wiring.
"""

import asyncio
import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.carriers import CarrierActivities
from activities.inventory import InventoryActivities
from activities.notify import NotifyActivities
from activities.payments import PaymentActivities
from activities.store import ProjectionActivities
from adapters.carriers.builtin import BuiltinCarriers
from adapters.inventory.sql import SqlInventory
from adapters.notifications import Notifier
from adapters.notifications.delivery import (
    DeliveringNotifier,
    SmtpConfig,
    WebhookSubscriber,
    parse_webhook_subscribers,
)
from adapters.notifications.outbox import OutboxNotifier
from adapters.notifications.pending import sweep_pending_alerts
from adapters.payments.ledger import LedgerGateway
from config.sandbox import FastContextRunner
from config.settings import Settings
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow
from workflows.shipment import ShipmentWorkflow

WORKFLOWS = [OrderWorkflow, ShipmentWorkflow, ReturnWorkflow]

# Modules the sandbox need not re-import for every workflow run: pure models and rules.
PASSTHROUGH_MODULES = ("domain", "pydantic", "pydantic_core", "annotated_types")


def notifier_for(session_factory: sessionmaker[Session], settings: Settings) -> Notifier:
    """E-mail (OMS_SMTP_HOST) and signed webhooks (OMS_NOTIFY_WEBHOOKS) when configured; with
    neither, the outbox and the log only, exactly as before."""
    subscribers = parse_webhook_subscribers(settings.notify_webhooks.get_secret_value())
    webhooks = [WebhookSubscriber(url, secret) for url, secret in subscribers]
    smtp = (
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username or None,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        )
        if settings.smtp_host
        else None
    )
    if smtp is None and not webhooks:
        return OutboxNotifier(session_factory)
    return DeliveringNotifier(session_factory, smtp=smtp, webhooks=webhooks)


def activities_for(
    session_factory: sessionmaker[Session],
    *,
    ops_email: str = "ops@orderflow.local",
    notifier: Notifier | None = None,
) -> list[Callable[..., Any]]:
    """Every activity, bound to the built-in adapters over one database (notifications to the
    outbox and the log unless another `notifier` is given)."""
    inventory = InventoryActivities(SqlInventory(session_factory, ops_email=ops_email))
    payments = PaymentActivities(LedgerGateway(session_factory))
    carriers = CarrierActivities(BuiltinCarriers(session_factory), session_factory)
    notify = NotifyActivities(notifier or OutboxNotifier(session_factory))
    projection = ProjectionActivities(session_factory)
    return [
        inventory.load_catalog,
        inventory.stock_levels,
        inventory.reserve_stock,
        inventory.release_stock,
        inventory.ship_stock,
        inventory.unship_stock,
        inventory.take_back_stock,
        inventory.move_reservation,
        inventory.swap_reservations,
        inventory.short_pick_stock,
        payments.authorize_payment,
        payments.capture_payment,
        payments.void_payment,
        payments.refund_payment,
        carriers.quote_rates,
        carriers.buy_label,
        carriers.cancel_label,
        carriers.poll_tracking,
        notify.send_notification,
        projection.record_transitions,
        projection.record_shipment,
        projection.count_recent_orders,
    ]


def keep_bytecode() -> None:
    """Let the sandbox import the workflow modules from bytecode, not source.

    The sandbox imports `workflows/*` afresh for every workflow instance it creates: each new
    order and parcel, and each replay after a cache eviction. With PYTHONDONTWRITEBYTECODE set
    (our Dockerfile sets it, as most container images do) no `.pyc` is ever written, so every
    one of those imports compiles the source again: about 50 ms of CPU for the order workflow (then workflows/order.py)
    and 15 ms for workflows/shipment.py (docs/performance.md). The worker writes its bytecode
    under a folder of its own (`sys.pycache_prefix`), so the source tree, which may be
    read-only, stays as it is. An explicit PYTHONPYCACHEPREFIX is respected. The folder must be
    ours alone: bytecode planted by someone else would run as our code, so a folder owned by
    another user, or writable by others, means no bytecode (as before) rather than theirs.
    """
    if not sys.dont_write_bytecode:
        return
    if sys.pycache_prefix is None:
        folder = Path(tempfile.gettempdir()) / f"orderflow-pycache-{os.getuid()}"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = folder.lstat()
        except OSError:
            return
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return
        sys.pycache_prefix = str(folder)
    sys.dont_write_bytecode = False


def sandbox_runner() -> FastContextRunner:
    return FastContextRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def build_worker(
    client: Client,
    session_factory: sessionmaker[Session],
    *,
    task_queue: str,
    executor: ThreadPoolExecutor,
    activity_slots: int,
    activities: Sequence[Callable[..., Any]] | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """Database activities are plain `def`s: they run on `executor`, keeping the event loop free."""
    keep_bytecode()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=list(activities) if activities is not None else activities_for(session_factory),
        activity_executor=executor,
        max_concurrent_activities=activity_slots,
        workflow_runner=sandbox_runner(),
        max_cached_workflows=max_cached_workflows,
        # On SIGTERM, let running activities finish before they are cancelled and retried elsewhere.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    """Run until cancelled (Ctrl-C / SIGTERM): in-flight activities finish, nothing is lost."""
    from config.database import resolve_database_url
    from config.temporal import connect
    from store.db import make_engine, make_session_factory

    url = await asyncio.to_thread(resolve_database_url, settings)
    session_factory = make_session_factory(make_engine(url))
    client = await connect(settings)
    notifier = notifier_for(session_factory, settings)
    with ThreadPoolExecutor(max_workers=settings.activity_threads) as executor:
        worker = build_worker(
            client,
            session_factory,
            task_queue=settings.task_queue,
            executor=executor,
            activity_slots=settings.activity_threads,
            activities=activities_for(
                session_factory,
                ops_email=settings.ops_email,
                notifier=notifier,
            ),
            max_cached_workflows=settings.max_cached_workflows,
        )
        # Low-stock alerts are recorded pending by the stock transactions (the worker's and the
        # API's), resolved-complaint messages by the resolution (store.pending_notifications);
        # this delivers them through the same notifier, after their commit.
        sweep = asyncio.create_task(sweep_pending_alerts(session_factory, notifier))
        try:
            await worker.run()
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
