"""What routes get injected: the settings, the Temporal client and the projection's sessions.

Each is a lookup on the app's state, so each is `async`: FastAPI runs a plain `def` dependency in
its thread pool, a hand-over to a thread and back for every dependency of every request, which
the warehouse's and the carriers' polling made a measurable part of the API's CPU
(docs/performance.md, 2026-12-02)."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from config.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientDep = Annotated[Client, Depends(get_client)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
