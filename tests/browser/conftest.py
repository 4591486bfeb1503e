"""The console end to end: the real API in a process of its own (on a throw-away database of the
tests' MongoDB server, with the tests' RabbitMQ), serving the built console, driven through
Debian's Chromium with Playwright.

One API process and one browser serve the whole session; every test gets fresh browser contexts
(so fresh cookie jars), and makes its own projects so that lists never depend on test order.
"""

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    async_playwright,
    expect,
)
from zumik_accounts.staff import Staff

from tests import services as service_resolution
from tests.browser.live import running_api
from tests.browser.support import ContextFactory, LiveApi, StaffMember, World, build_world

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_DIST = ROOT / "services" / "console" / "dist"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# Playwright's assertions wait for their condition; a loaded 2-core machine needs more than 5 s.
expect.set_options(timeout=15_000)

# --------------------------------------------------------------------------- the API process


@pytest.fixture(scope="session")
def console_built() -> Path:
    """`scripts/console` builds the front end (a no-op when nothing changed since the last build),
    so that `pytest tests/browser` works on its own."""
    subprocess.run([str(ROOT / "scripts" / "console")], check=True, cwd=ROOT)
    assert (CONSOLE_DIST / "index.html").is_file()
    return CONSOLE_DIST


@pytest.fixture(scope="session")
async def live_api(
    services: service_resolution.Services,
    console_built: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveApi]:
    log_path = tmp_path_factory.mktemp("api") / "zumik-api.log"
    async with running_api(services, console_built, log_path, "zumik_browser") as api:
        yield api


@pytest.fixture(scope="session")
async def http(live_api: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the live API, for setting up data and checking what the server says."""
    async with httpx.AsyncClient(base_url=live_api.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
async def staff(live_api: LiveApi) -> StaffMember:
    issued = await Staff(live_api.db).create("ana@zumik.example")
    return StaffMember(email=issued.member.email, token=issued.token)


@pytest.fixture(scope="session")
async def world(live_api: LiveApi, http: httpx.AsyncClient, staff: StaffMember) -> World:
    """Realistic tickets in every state, for the screens' accessibility and layout checks."""
    return await build_world(live_api.db, http, staff)


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
async def playwright_driver() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright_driver: Playwright) -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"No Chromium at {CHROMIUM}: run scripts/browser (make test does).")
    # Playwright gives the browser a fresh temporary profile (user-data dir) of its own.
    browser = await playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    await browser.close()


class PageWatch:
    """What the pages of a test's contexts did that no test should allow: uncaught errors,
    Content-Security-Policy violations, and requests to anywhere but the API's origin (the
    console loads nothing from elsewhere)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.foreign: list[str] = []

    def request(self, request: Request) -> None:
        url = request.url
        if not (url.startswith(self.origin + "/") or url.startswith(("data:", "about:"))):
            self.foreign.append(url)

    def page(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self.console(page, message))

    def console(self, page: Page, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(f"{page.url}: {message.text}")


@pytest.fixture
async def new_context(browser: Browser, live_api: LiveApi) -> AsyncIterator[ContextFactory]:
    """A factory of fresh browser contexts (own cookies, own storage) on the live API; 1440 px
    wide unless told otherwise. All are closed, and checked, at the end of the test."""
    watch = PageWatch(live_api.url)
    contexts: list[BrowserContext] = []

    async def make(width: int = 1440, height: int = 900) -> BrowserContext:
        context = await browser.new_context(
            base_url=live_api.url,
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            locale="en-US",
            timezone_id="UTC",
            reduced_motion="reduce",
            service_workers="block",
        )
        context.on("request", watch.request)
        context.on("page", watch.page)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()
    assert not watch.errors, f"uncaught errors in the page: {watch.errors}"
    assert not watch.foreign, f"requests outside the API's origin: {watch.foreign}"


@pytest.fixture
async def context(new_context: ContextFactory) -> BrowserContext:
    return await new_context()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()
