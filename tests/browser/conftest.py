"""The console served over real HTTP (uvicorn on a free port, over the test session's worker,
Temporal and PostgreSQL) and driven by Debian's Chromium through Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (`make test` installs it
when missing). uvicorn runs as a task on the test session's event loop, beside the Temporal client
it shares; the browser talks to it over a socket like any browser would.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, async_playwright
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api.app import create_app
from config.settings import Settings
from tests.serving import served

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture(scope="module")
async def console_url(
    settings: Settings, client: Client, sessions: sessionmaker[Session], worker: None
) -> AsyncIterator[str]:
    """Base URL of the API (console included) served by uvicorn on a free local port."""
    async with served(create_app(settings, client=client, sessions=sessions)) as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrowserContext]:
    """One Chromium for the module, with a fresh profile (user-data-dir) of its own."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        await context.close()


@pytest_asyncio.fixture
async def page(browser: BrowserContext) -> AsyncIterator[Page]:
    """A new tab with no console session (cookies cleared)."""
    await browser.clear_cookies()
    tab = await browser.new_page()
    yield tab
    await tab.close()


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
