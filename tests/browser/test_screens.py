"""Every screen of the console with realistic tickets: no serious or critical axe-core
violations, no horizontal scrolling at 375 and 1440 px, and (with ZUMIK_SCREENSHOTS=1) the
screenshots in docs/console/."""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, BrowserContext, Page, Request, expect
from zumik_accounts.staff import Staff

from tests import services as service_resolution
from tests.browser.live import running_api
from tests.browser.support import (
    ContextFactory,
    StaffMember,
    World,
    assert_no_horizontal_scroll,
    build_world,
    heading,
    open_customer_ticket,
    open_inbox,
    open_team_ticket,
    open_ticket_list,
    sign_in,
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "console"
AXE = Axe()
BLOCKING_IMPACTS = {"serious", "critical"}


async def _sign_in_screen(page: Page, world: World) -> None:
    await page.goto("/console/")
    await expect(heading(page, "Sign in to Zumik Support")).to_be_visible()


async def _support_tab(page: Page, world: World) -> None:
    await open_ticket_list(page)
    await expect(
        page.get_by_role("link", name=world.streaming["subject"], exact=True)
    ).to_be_visible()


async def _new_ticket(page: Page, world: World) -> None:
    await page.goto("/console/#/tickets/new")
    await expect(heading(page, "New ticket")).to_be_visible()


async def _ticket(page: Page, world: World) -> None:
    await open_customer_ticket(page, world.streaming["id"], world.streaming["subject"])


async def _ticket_closed(page: Page, world: World) -> None:
    await open_customer_ticket(page, world.rate_limits["id"], world.rate_limits["subject"])
    await expect(page.get_by_role("link", name="Open a new ticket")).to_be_visible()


async def _inbox(page: Page, world: World) -> None:
    await open_inbox(page)
    await expect(page.get_by_role("link", name=world.outage["subject"], exact=True)).to_be_visible()


async def _team_ticket(page: Page, world: World) -> None:
    await open_team_ticket(page, world.streaming["id"], world.streaming["subject"])


@dataclass(frozen=True)
class Screen:
    who: Literal["nobody", "customer", "team"]
    open: Callable[[Page, World], Awaitable[None]]


SCREENS = {
    "sign-in": Screen("nobody", _sign_in_screen),
    "support-tab": Screen("customer", _support_tab),
    "new-ticket": Screen("customer", _new_ticket),
    "ticket": Screen("customer", _ticket),
    "ticket-closed": Screen("customer", _ticket_closed),
    "inbox": Screen("team", _inbox),
    "team-ticket": Screen("team", _team_ticket),
}


async def _show(context: BrowserContext, screen: Screen, world: World, staff: StaffMember) -> Page:
    if screen.who == "customer":
        await sign_in(context, world.acme.sign_in)
    elif screen.who == "team":
        await sign_in(context, staff.sign_in)
    page = await context.new_page()
    await screen.open(page, world)
    return page


# --------------------------------------------------------------------------- accessibility, layout


@pytest.mark.parametrize("name", list(SCREENS))
async def test_no_serious_accessibility_violations_and_no_horizontal_scrolling_at_1440_px(
    name: str, new_context: ContextFactory, world: World, staff: StaffMember
) -> None:
    page = await _show(await new_context(width=1440), SCREENS[name], world, staff)
    await assert_no_horizontal_scroll(page)
    fetched: list[str] = []

    def record(request: Request) -> None:
        fetched.append(request.url)

    page.on("request", record)
    results = await AXE.run(page)
    page.remove_listener("request", record)

    assert fetched == [], f"axe-core fetched {fetched}"  # it runs offline, from the package
    assert results.response["testEngine"]["name"] == "axe-core"
    violations: list[dict[str, Any]] = results.response["violations"]
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert blocking == [], "\n".join(blocking)


@pytest.mark.parametrize("name", ["support-tab", "new-ticket", "ticket", "inbox", "team-ticket"])
async def test_no_horizontal_scrolling_at_375_px(
    name: str, new_context: ContextFactory, world: World, staff: StaffMember
) -> None:
    page = await _show(await new_context(width=375, height=812), SCREENS[name], world, staff)
    await assert_no_horizontal_scroll(page)
    # Nothing sticks out of the screen, even where an ancestor would clip it.
    overflowing = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map((e) => e.outerHTML.slice(0, 120))"""
    )
    assert overflowing == []


# --------------------------------------------------------------------------- screenshots


@pytest.fixture(scope="session")
async def showcase(
    services: service_resolution.Services,
    console_built: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[str, World, StaffMember]]:
    """An API of its own with only the realistic tickets, so that the inbox shows nothing of
    the other tests."""
    log_path = tmp_path_factory.mktemp("showcase") / "zumik-api.log"
    async with (
        running_api(services, console_built, log_path, "zumik_showcase") as api,
        httpx.AsyncClient(base_url=api.url, timeout=15.0) as http,
    ):
        issued = await Staff(api.db).create("ana@zumik.example")
        staff = StaffMember(issued.member.email, issued.token)
        yield api.url, await build_world(api.db, http, staff), staff


async def _fill_new_ticket(page: Page) -> None:
    await page.get_by_label("Subject").fill("Embeddings return 400 for inputs over 8,000 tokens")
    await page.get_by_label("Describe the problem").fill(
        "Calls to /v2/embeddings with inputs between 8,000 and 8,192 tokens fail with 400 "
        "context_length_exceeded, although the model card says 8,192.\n\n"
        "Request ids: req_5Jd0qW, req_5Jd1mK"
    )
    await page.get_by_label("Priority", exact=True).select_option("high")


@dataclass(frozen=True)
class Shot:
    screen: str
    width: int = 1440
    height: int = 900
    full_page: bool = True  # False: the viewport only (keeps a long page's file small)
    prepare: Callable[[Page], Awaitable[None]] | None = None


SCREENSHOTS = {
    "sign-in.png": Shot("sign-in"),
    "support-tab.png": Shot("support-tab"),
    "new-ticket.png": Shot("new-ticket", prepare=_fill_new_ticket),
    "ticket.png": Shot("ticket"),
    "ticket-closed.png": Shot("ticket-closed"),
    "inbox.png": Shot("inbox"),
    "team-ticket.png": Shot("team-ticket", height=1060, full_page=False),
    "mobile-support-tab.png": Shot("support-tab", width=375, height=812),
    "mobile-ticket.png": Shot("ticket", width=375, height=812),
}


@pytest.mark.skipif(
    os.environ.get("ZUMIK_SCREENSHOTS") != "1",
    reason="writes docs/console/*.png only when ZUMIK_SCREENSHOTS=1",
)
@pytest.mark.parametrize("file_name", list(SCREENSHOTS))
async def test_screenshot(
    file_name: str, browser: Browser, showcase: tuple[str, World, StaffMember]
) -> None:
    url, world, staff = showcase
    shot = SCREENSHOTS[file_name]
    context = await browser.new_context(
        base_url=url,
        viewport={"width": shot.width, "height": shot.height},
        device_scale_factor=1,
        locale="en-US",
        timezone_id="UTC",
        reduced_motion="reduce",
        color_scheme="light",
    )
    try:
        page = await _show(context, SCREENS[shot.screen], world, staff)
        if shot.prepare is not None:
            await shot.prepare(page)
        # The focus ring of the heading (moved there for screen readers) is not part of the
        # picture; neither is a caret.
        await page.evaluate("() => document.activeElement?.blur()")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(
            path=SHOTS / file_name, full_page=shot.full_page, animations="disabled", caret="hide"
        )
    finally:
        await context.close()
