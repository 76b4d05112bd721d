"""Liveness, readiness and metrics: open to all (docs/api.md "Health")."""

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.deps import ClientDep, SessionsDep
from api.problems import ProblemError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database_answers(sessions: SessionsDep) -> bool:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


@router.get("/readyz")
async def readyz(client: ClientDep, sessions: SessionsDep) -> dict[str, str]:
    database = await run_in_threadpool(_database_answers, sessions)
    try:
        temporal = await asyncio.wait_for(client.service_client.check_health(), timeout=2)
    except Exception:  # noqa: BLE001
        temporal = False
    checks = {"database": "up" if database else "down", "temporal": "up" if temporal else "down"}
    if not (database and temporal):
        raise ProblemError(503, "not ready", extra={"checks": checks})
    return checks


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
