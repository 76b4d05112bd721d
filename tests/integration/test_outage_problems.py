"""While PostgreSQL cannot be reached, the API answers 503 problem+json with Retry-After, not a
bare 500. The outage here is a real refused connection (a port nobody listens on); the slow proof
with real Temporal and PostgreSQL outages mid-run is tests/reliability/test_outages.py."""

import httpx
from temporalio.client import Client

from api.app import create_app
from config.settings import Settings
from config.temporal import free_port
from store.db import make_engine, make_session_factory
from tests.conftest import CLIENT, OPS
from tests.integration.helpers import order_body


async def _problem_of(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"]
    body: dict[str, object] = response.json()
    assert body["type"] == "/problems/service-unavailable"
    return body


async def test_unreachable_database_answers_503(settings: Settings, client: Client) -> None:
    dead = make_session_factory(make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/orderflow"))
    app = create_app(settings, client=client, sessions=dead)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://down.test") as down:
        await _problem_of(await down.get("/orders", headers=OPS))
        await _problem_of(await down.post("/orders", headers=CLIENT, json=order_body("SKU-ANY")))
        ready = await down.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"] == {"database": "down", "temporal": "up"}


async def test_temporal_shedding_load_is_a_503_and_a_real_fault_a_500() -> None:
    """Temporal refusing for now (down, past the deadline, out of capacity) passes: 503 with
    Retry-After. Anything else from Temporal is our fault to look at: 500, logged."""
    from fastapi import FastAPI
    from temporalio.service import RPCError, RPCStatusCode

    from api.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fails/{status}")
    async def fails(status: str) -> None:
        raise RPCError("from the test", RPCStatusCode[status], b"")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t.test") as http:
        for status in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"):
            await _problem_of(await http.get(f"/fails/{status}"))
        internal = await http.get("/fails/INTERNAL")
        assert internal.status_code == 500
        assert internal.json()["detail"] == "unexpected error from Temporal"
