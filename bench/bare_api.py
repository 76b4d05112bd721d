"""The latency floor for POST /orders: a FastAPI route doing one PostgreSQL insert, nothing else.

Same server (uvicorn, one process), same driver, same database server as the real API, so the
ratio of the two p99s is what our submit path adds. `python -m bench.bare_api` serves it on
OMS_API_PORT with OMS_DATABASE_URL.
"""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, text

from store.db import make_engine

_CREATE = "CREATE TABLE IF NOT EXISTS bench_bare_insert (id bigserial PRIMARY KEY, body jsonb NOT NULL)"
_INSERT = text("INSERT INTO bench_bare_insert (body) VALUES (CAST(:body AS jsonb)) RETURNING id")


class Inserted(BaseModel):
    id: int


def create_bare_app(engine: Engine) -> FastAPI:
    with engine.begin() as conn:
        conn.execute(text(_CREATE))
    app = FastAPI(title="bench: bare insert")

    @app.post("/bare", status_code=201)
    def insert(body: dict[str, Any]) -> Inserted:
        # A plain def like our database routes: FastAPI runs it on its thread pool.
        import json

        with engine.begin() as conn:
            new_id = conn.execute(_INSERT, {"body": json.dumps(body)}).scalar_one()
        return Inserted(id=new_id)

    return app


if __name__ == "__main__":
    import uvicorn

    from config.settings import Settings

    settings = Settings()
    assert settings.database_url, "OMS_DATABASE_URL is required"
    uvicorn.run(
        create_bare_app(make_engine(settings.database_url)),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
    )
