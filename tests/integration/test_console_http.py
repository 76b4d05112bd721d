"""The ops console's sessions over plain HTTP (no browser needed): sign-in attempts are limited,
a session is only as good as its signature and its key, and /ops/ui leads to the console."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from api.console.router import LOGIN_BURST
from api.console.session import COOKIE
from runtime.settings import Settings

UI = "/ops/ui"
KEYS = "dev-ops:ops:dev-ops-key,dev-client:client:dev-client-key"


@asynccontextmanager
async def console(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client=client, sessions=sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as http:
        yield http


async def csrf(http: httpx.AsyncClient) -> str:
    page = await http.get(f"{UI}/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.post(f"{UI}/login", data={"api_key": key, "csrf_token": await csrf(http)})


async def test_sign_in_attempts_are_limited_per_address(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    async with console(Settings(api_keys=KEYS), client, sessions) as http:
        statuses = [(await sign_in(http, "guess")).status_code for _ in range(LOGIN_BURST)]
        assert statuses == [401] * LOGIN_BURST
        limited = await sign_in(http, "dev-ops-key")
        assert limited.status_code == 429, "past the limit even the right key waits"
        assert int(limited.headers["Retry-After"]) >= 1
        assert (await http.get(f"{UI}/queue")).status_code == 303


async def test_a_session_needs_its_signature_and_a_key_that_is_still_ops(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    settings = Settings(api_keys=KEYS, console_secret="shared-console-secret")
    async with console(settings, client, sessions) as http:
        assert (await sign_in(http, "dev-ops-key")).headers["location"] == f"{UI}/queue"
        assert (await http.get(f"{UI}/queue")).status_code == 200
        cookie = http.cookies[COOKIE]

        http.cookies.clear()
        http.cookies.set(COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"), path=UI)
        assert (await http.get(f"{UI}/queue")).status_code == 303, "a tampered cookie is no session"

    demoted = Settings(api_keys="dev-ops:client:dev-ops-key", console_secret="shared-console-secret")
    async with console(demoted, client, sessions) as http:
        http.cookies.set(COOKIE, cookie, path=UI)
        assert (await http.get(f"{UI}/queue")).status_code == 303, (
            "the key is no longer ops: the session ended"
        )
    async with console(settings, client, sessions) as http:
        http.cookies.set(COOKIE, cookie, path=UI)
        assert (await http.get(f"{UI}/queue")).status_code == 200, "same secret and key: the session holds"
    async with console(Settings(api_keys=KEYS, console_secret="another"), client, sessions) as http:
        http.cookies.set(COOKIE, cookie, path=UI)
        assert (await http.get(f"{UI}/queue")).status_code == 303, "signed with another secret"


async def test_ops_ui_leads_to_the_console(client: Client, sessions: sessionmaker[Session]) -> None:
    async with console(Settings(api_keys=KEYS), client, sessions) as http:
        answer = await http.get(UI, follow_redirects=True)
        assert answer.status_code == 200
        assert answer.url.path == f"{UI}/login"
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert answer.headers["x-frame-options"] == "DENY"
        missing = await http.get(f"{UI}/no-such-page")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
