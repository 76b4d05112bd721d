"""While PostgreSQL cannot be reached, the API answers 503 problem+json with Retry-After, not a
bare 500. The outage here is a real refused connection (a port nobody listens on); the slow proof
with real Temporal and PostgreSQL outages mid-run is tests/reliability/test_outages.py."""

import httpx
from temporalio.client import Client

from api.app import create_app
from runtime.settings import Settings
from runtime.temporal import free_port
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
