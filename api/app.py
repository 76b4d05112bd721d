"""The FastAPI application: routers, problem details, and the connections they share.

`create_app` takes ready-made connections (tests pass theirs); otherwise the lifespan resolves
the database and connects to Temporal from the settings.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.console import install_console
from api.hygiene import refuse_control_characters
from api.limits import install_limits
from api.metrics import install_metrics
from api.problems import install_problem_handlers
from api.routers import (
    catalog,
    channels,
    claims,
    feedback,
    health,
    ops,
    orders,
    replenishment,
    reports,
    returns,
    shipments,
    warehouse,
    webhooks,
)
from api.routers.codec import install_codec
from config.settings import Settings


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sessions is None:
            from config.database import resolve_database_url
            from store.db import make_engine, make_session_factory

            url = await run_in_threadpool(resolve_database_url, settings)
            app.state.sessions = make_session_factory(make_engine(url))
        if client is None:
            from config.temporal import connect

            app.state.temporal = await connect(settings)
        yield

    app = FastAPI(
        title="Orderflow",
        version="0.1.0",
        description="Order lifecycle orchestrator: every order is one durable Temporal workflow.",
        lifespan=lifespan,
        # Control characters in path, query and header parameters: 422 naming them, for every route.
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.settings = settings
    app.state.api_keys = settings.api_key_entries()  # SHA-256 digests only, never the keys
    app.state.sessions = sessions
    app.state.temporal = client
    install_problem_handlers(app)
    install_metrics(app)
    install_limits(app)
    # Before the catalog router: its `GET /inventory/{sku}` would take `/inventory/replenishment`.
    app.include_router(replenishment.router)
    for module in (orders, returns, feedback, reports, warehouse, shipments, webhooks, catalog, ops, health):
        app.include_router(module.router)
    install_codec(app, settings)
    install_console(app)  # the ops console: HTML pages at /ops/ui (api/console)
    app.include_router(claims.router)  # customer claims (api/routers/claims.py)
    app.include_router(channels.router)
    return app
