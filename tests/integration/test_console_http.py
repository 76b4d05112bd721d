"""The ops console's sessions over plain HTTP (no browser needed): failed sign-ins are limited
per address and per key, a session is only as good as its signature, its server-side record and
its key, and /ops/ui leads to the console."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from api.console.router import LOGIN_BURST, LOGIN_KEY_BURST
from api.console.session import COOKIE
from config.settings import Settings
from store.models import ConsoleSessionRow

UI = "/ops/ui"
KEYS = "dev-ops:ops:dev-ops-key,dev-client:client:dev-client-key"
SECRET = "shared-console-secret"


@asynccontextmanager
async def browser(app: FastAPI, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` with a cookie jar of its own, calling from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as http:
        yield http


@asynccontextmanager
async def console(
    settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(create_app(settings, client=client, sessions=sessions)) as http:
        yield http


async def csrf(http: httpx.AsyncClient) -> str:
    page = await http.get(f"{UI}/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.post(f"{UI}/login", data={"api_key": key, "csrf_token": await csrf(http)})


async def sign_out(http: httpx.AsyncClient) -> httpx.Response:
    page = await http.get(f"{UI}/queue")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text
    return await http.post(f"{UI}/logout", data={"csrf_token": found.group(1)})


async def test_sign_in_attempts_are_limited_per_address(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    async with console(Settings(api_keys=KEYS), client, sessions) as http:
        statuses = [(await sign_in(http, f"guess-{n}")).status_code for n in range(LOGIN_BURST)]
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


async def test_sign_in_attempts_are_limited_per_key(client: Client, sessions: sessionmaker[Session]) -> None:
    """One key tried from many addresses (each well under its own limit) is stopped by its own count."""
    app = create_app(Settings(api_keys=KEYS), client=client, sessions=sessions)
    for n in range(LOGIN_KEY_BURST):
        async with browser(app, f"198.51.100.{n + 1}") as http:
            assert (await sign_in(http, "dev-client-key")).status_code == 403, "a client key may not sign in"
    async with browser(app, "198.51.100.200") as http:
        limited = await sign_in(http, "dev-client-key")
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) >= 1
        assert "Too many failed sign-ins" in limited.text
        # Another key from the same, fresh address is not held back by that key's count.
        assert (await sign_in(http, "dev-ops-key")).headers["location"] == f"{UI}/queue"


async def test_a_copied_cookie_is_refused_after_sign_out_in_every_process(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    settings = Settings(api_keys=KEYS, console_secret=SECRET)
    # Two apps with the same secret stand for two API processes behind one address.
    here, there = (create_app(settings, client=client, sessions=sessions) for _ in range(2))
    async with browser(here) as owner, browser(here) as thief, browser(there) as elsewhere:
        assert (await sign_in(owner, "dev-ops-key")).status_code == 303
        copied = owner.cookies[COOKIE]
        for other in (thief, elsewhere):
            other.cookies.set(COOKIE, copied, path=UI)
            assert (await other.get(f"{UI}/queue")).status_code == 200, "a copy works while signed in"

        signed_out = await sign_out(owner)
        assert signed_out.headers["location"] == f"{UI}/login"
        for other in (thief, elsewhere):
            other.cookies.clear()
            other.cookies.set(COOKIE, copied, path=UI)
            refused = await other.get(f"{UI}/queue")
            assert refused.status_code == 303 and refused.headers["location"] == f"{UI}/login", (
                "signed out: every copy of the cookie is refused, by every process"
            )
        assert (await owner.get(f"{UI}/queue")).status_code == 303


async def test_a_session_ends_at_its_absolute_lifetime_however_refreshed(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    lifetime, idle = timedelta(hours=1), timedelta(hours=8)
    settings = Settings(api_keys=KEYS, console_session_ttl=idle, console_session_max_age=lifetime)
    app = create_app(settings, client=client, sessions=sessions)
    async with browser(app) as http:
        assert (await sign_in(http, "dev-ops-key")).status_code == 303
        refreshed = await http.get(f"{UI}/queue")
        assert refreshed.status_code == 200, "in use and within its lifetime"
        max_age = re.search(r"max-age=(\d+)", refreshed.headers["set-cookie"].lower())
        assert max_age and int(max_age.group(1)) <= lifetime.total_seconds() < idle.total_seconds(), (
            "a refreshed cookie's Max-Age is cut to what is left of the lifetime, not the idle TTL"
        )
        cookie = http.cookies[COOKIE]  # freshly re-signed: well within the idle TTL
        with sessions.begin() as s:
            row = s.scalars(select(ConsoleSessionRow).order_by(ConsoleSessionRow.created_at.desc()).limit(1)).one()
            assert row.expires_at - row.created_at == lifetime, "the lifetime counts from the sign-in"
            # The hour passes (PostgreSQL's clock decides, so the row's end is moved, not waited for).
            row.expires_at = s.scalar(select(func.now() - timedelta(seconds=1)))

        # Set again by hand: a copy kept past its Max-Age (the jar dropped it) must be refused too.
        http.cookies.clear()
        http.cookies.set(COOKIE, cookie, path=UI)
        ended = await http.get(f"{UI}/queue")
        assert ended.status_code == 303 and ended.headers["location"] == f"{UI}/login", (
            "past its absolute lifetime the session is over, though refreshed and never idle"
        )

        # The next sign-in deletes the rows whose lifetime is over (the table does not grow).
        assert (await sign_in(http, "dev-ops-key")).status_code == 303
        with sessions() as s:
            over = s.scalar(
                select(func.count()).select_from(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= func.now())
            )
        assert over == 0


async def test_a_session_ends_when_its_key_is_no_longer_configured(
    client: Client, sessions: sessionmaker[Session]
) -> None:
    settings = Settings(api_keys=KEYS, console_secret=SECRET)
    async with console(settings, client, sessions) as http:
        assert (await sign_in(http, "dev-ops-key")).status_code == 303
        cookie = http.cookies[COOKIE]
    for api_keys in (
        "other:ops:other-ops-key-0123456789abcdef",  # the key removed
        "dev-ops:ops:a-new-dev-ops-key-0123456789ab",  # the key replaced under the same name
    ):
        async with console(Settings(api_keys=api_keys, console_secret=SECRET), client, sessions) as http:
            http.cookies.set(COOKIE, cookie, path=UI)
            assert (await http.get(f"{UI}/queue")).status_code == 303, api_keys
    async with console(settings, client, sessions) as http:
        http.cookies.set(COOKIE, cookie, path=UI)
        assert (await http.get(f"{UI}/queue")).status_code == 200, "the key configured again: it holds"
