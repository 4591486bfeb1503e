"""What the console must never do: run what a ticket contains, let the page read the session,
accept a change without the CSRF token, keep a session alive after sign-out, keep anything in web
storage, or let a sign-in link work twice."""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Dialog, Page, expect
from zumik_contracts.console import SESSION_COOKIE

from tests.browser.support import (
    SESSION,
    TICKETS,
    ContextFactory,
    LiveApi,
    StaffMember,
    assert_no_web_storage,
    customer_ticket,
    heading,
    messages,
    new_customer,
    open_customer_ticket,
    open_inbox,
    open_ticket,
    session_cookie,
    sign_in,
    status_badge,
)

ROOT = Path(__file__).resolve().parents[2]
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned=1</script>"


def _watch_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    return seen


async def _assert_inert(page: Page, dialogs: list[str]) -> None:
    assert await page.evaluate("() => window.__pwned") is None
    assert await page.locator("main img").count() == 0
    assert await page.locator("main script").count() == 0
    assert dialogs == []


async def test_markup_in_a_ticket_is_shown_as_text_and_never_runs(
    live_api: LiveApi, new_context: ContextFactory, staff: StaffMember, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Redwood Security", "enterprise", "eve@redwood.ex")
    customer_context = await new_context()
    await sign_in(customer_context, customer.sign_in)
    page = await customer_context.new_page()
    dialogs = _watch_dialogs(page)

    await page.goto("/console/#/tickets/new")
    await page.get_by_label("Subject").fill(IMG)
    await page.get_by_label("Describe the problem").fill(SCRIPT)
    await page.get_by_role("button", name="Open ticket").click()
    await expect(heading(page, IMG)).to_be_visible()
    await expect(messages(page).first.locator(".message-body")).to_have_text(SCRIPT)
    await _assert_inert(page, dialogs)
    ticket_id = page.url.rsplit("/", 1)[-1]

    await page.get_by_role("link", name="All tickets").click()
    await expect(page.get_by_role("link", name=IMG, exact=True)).to_be_visible()
    await _assert_inert(page, dialogs)

    # The team's inbox and ticket page, and a team reply carrying markup back.
    team = await new_context()
    await sign_in(team, staff.sign_in)
    team_page = await team.new_page()
    team_dialogs = _watch_dialogs(team_page)
    await open_inbox(team_page)
    await expect(team_page.get_by_role("link", name=IMG, exact=True)).to_be_visible()
    await _assert_inert(team_page, team_dialogs)
    await team_page.get_by_role("link", name=IMG, exact=True).click()
    await expect(heading(team_page, IMG)).to_be_visible()
    await expect(messages(team_page).first.locator(".message-body")).to_have_text(SCRIPT)
    reply = '<img src=y onerror="window.__pwned=2"><b>bold?</b>'
    await team_page.get_by_label("Reply", exact=True).fill(reply)
    await team_page.get_by_role("button", name="Send reply").click()
    await expect(messages(team_page)).to_have_count(2)
    await expect(messages(team_page).last.locator(".message-body")).to_have_text(reply)
    await _assert_inert(team_page, team_dialogs)

    await open_customer_ticket(page, ticket_id, IMG)
    await expect(messages(page)).to_have_count(2)
    await expect(messages(page).last.locator(".message-body")).to_have_text(reply)
    await _assert_inert(page, dialogs)
    stored = await customer_ticket(http, customer, ticket_id)
    assert stored["subject"] == IMG


async def test_the_session_cookie_is_http_only_and_nothing_is_in_web_storage(
    live_api: LiveApi, context: BrowserContext, page: Page
) -> None:
    customer = await new_customer(live_api.db, "Kestrel Bank", "enterprise", "noor@kestrel.ex")
    await page.goto("/console/")
    await page.get_by_label("API key").fill(customer.api_key)
    await page.get_by_label("Your email").fill(customer.email)
    await page.get_by_role("button", name="Sign in").click()
    await expect(heading(page, "Support tickets")).to_be_visible()

    assert SESSION_COOKIE not in await page.evaluate("() => document.cookie")
    cookies = {c.get("name"): c for c in await context.cookies()}
    assert SESSION_COOKIE in cookies
    cookie = cookies[SESSION_COOKIE]
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Strict"
    assert cookie.get("path") == "/"
    assert customer.api_key not in json.dumps(list(cookies.values()))

    # Typing a draft, opening a ticket and reading it store nothing in the browser either.
    await page.get_by_role("link", name="New ticket").click()
    await page.get_by_label("Subject").fill("Model picks the wrong tool for date maths")
    await assert_no_web_storage(page)
    await page.get_by_label("Describe the problem").fill("Asked 'what day is in 3 weeks'.")
    await page.get_by_role("button", name="Open ticket").click()
    await expect(heading(page, "Model picks the wrong tool for date maths")).to_be_visible()
    await page.get_by_label("Your reply").fill("An unsent draft")
    await assert_no_web_storage(page)
    assert SESSION_COOKIE not in await page.evaluate("() => document.cookie")


async def _fetch(page: Page, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return await page.evaluate(
        """async ([method, path, body, headers]) => {
            const response = await fetch(path, {
                method, body: JSON.stringify(body), credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', ...headers},
            });
            return {status: response.status, body: await response.json()};
        }""",
        [method, path, body, headers],
    )


async def test_a_change_without_the_csrf_token_is_refused(
    live_api: LiveApi, context: BrowserContext, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Marlow Legal", "enterprise", "tom@marlow.ex")
    ticket = await open_ticket(http, customer, "Citations missing", "No citations since v4.")
    await sign_in(context, customer.sign_in)
    await open_customer_ticket(page, ticket["id"], ticket["subject"])

    forged = {"subject": "Forged", "body": "Sent by a script without the token"}
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        refused = await _fetch(page, "POST", TICKETS, forged, headers)
        assert refused["status"] == 403, refused
        assert refused["body"]["error"]["code"] == "csrf_token_invalid"
    changed = await _fetch(page, "PATCH", f"{TICKETS}/{ticket['id']}", {"status": "closed"}, {})
    assert changed["status"] == 403, changed
    assert changed["body"]["error"]["code"] == "csrf_token_invalid"

    # Nothing was created or changed; the cookie still works for reading.
    listed = await page.evaluate(
        "async () => (await (await fetch('/v2/support/tickets')).json()).data.map(t => t.id)"
    )
    assert listed == [ticket["id"]]
    assert (await customer_ticket(http, customer, ticket["id"]))["status"] == "open"
    await page.reload()
    await expect(status_badge(page)).to_have_attribute("data-status", "open")


async def test_sign_out_ends_the_session_on_the_server(
    live_api: LiveApi, context: BrowserContext, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Juniper Games", "base", "ren@juniper.example")
    await sign_in(context, customer.sign_in)
    await page.goto("/console/#/tickets")
    await expect(heading(page, "Support tickets")).to_be_visible()
    old = await session_cookie(context)
    assert old is not None
    jar = {"Cookie": f"{SESSION_COOKIE}={old}"}
    assert (await http.get(SESSION, headers=jar)).status_code == 200

    await page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    await expect(heading(page, "Sign in to Zumik Support")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="You are signed out.")).to_be_visible()
    assert await session_cookie(context) is None

    assert (await http.get(SESSION, headers=jar)).status_code == 401
    assert (await http.get(TICKETS, headers=jar)).status_code == 401
    await page.goto("/console/#/tickets")
    await page.reload()
    await expect(heading(page, "Sign in to Zumik Support")).to_be_visible()
    await assert_no_web_storage(page)


async def _cli_link(live_api: LiveApi, project_id: str, email: str) -> str:
    """`zumik-support console link`, as an operator runs it, against the test database."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "zumik-support"),
        "console",
        "link",
        "--project",
        project_id,
        "--email",
        email,
        cwd=ROOT,
        env=os.environ | {"MONGODB_URL": live_api.mongodb_url, "CONSOLE_URL": live_api.console_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    url: str = json.loads(stdout)["url"]
    return url


async def test_a_sign_in_link_signs_in_once(live_api: LiveApi, new_context: ContextFactory) -> None:
    customer = await new_customer(live_api.db, "Saffron Foods", "enterprise", "amir@saffron.ex")
    url = await _cli_link(live_api, customer.project_id, customer.email)
    assert url.startswith(f"{live_api.console_url}#/link/"), url
    token = url.rsplit("/", 1)[-1]

    first = await new_context()
    page = await first.new_page()
    await page.goto(url)
    await expect(heading(page, "Support tickets")).to_be_visible()
    await expect(page.get_by_role("banner")).to_contain_text(customer.email)
    assert token not in page.url
    assert await session_cookie(first) is not None

    second = await new_context()
    again = await second.new_page()
    await again.goto(url)
    await expect(again.get_by_role("alert").filter(has_text="did not work")).to_be_visible()
    await expect(heading(again, "Sign in to Zumik Support")).to_be_visible()
    assert token not in again.url
    assert await session_cookie(second) is None
