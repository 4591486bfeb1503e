"""What the browser tests share: the live API, people who sign in, realistic tickets, and the
steps and checks every screen needs (sign in, open a screen, wait until it shows its data)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Locator, Page, expect
from pymongo.asynchronous.database import AsyncDatabase
from zumik_accounts.projects import Projects, parse_plan
from zumik_contracts.console import SESSION_COOKIE
from zumik_store.mongo import Document

SESSIONS = "/v2/console/sessions"
SESSION = "/v2/console/session"
TICKETS = "/v2/support/tickets"
QUEUE = "/v2/support/staff/queue"

ContextFactory = Callable[..., Awaitable[BrowserContext]]


@dataclass(frozen=True)
class LiveApi:
    url: str  # http://127.0.0.1:PORT
    mongodb_url: str  # with its database
    db: AsyncDatabase[Document]

    @property
    def console_url(self) -> str:
        return f"{self.url}/console/"


@dataclass(frozen=True)
class Customer:
    project_id: str
    project_name: str
    plan: str
    api_key: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def sign_in(self) -> dict[str, str]:
        return {"api_key": self.api_key, "email": self.email}


@dataclass(frozen=True)
class StaffMember:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def sign_in(self) -> dict[str, str]:
        return {"staff_token": self.token}


async def new_customer(
    db: AsyncDatabase[Document], name: str, plan: str = "enterprise", email: str = "dev@example.com"
) -> Customer:
    projects = Projects(db)
    project = await projects.create(name, parse_plan(plan))
    issued = await projects.new_api_key(project.id)
    return Customer(project.id, name, plan, issued.api_key, email)


# --------------------------------------------------------------------------- API calls


def _json(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def open_ticket(
    http: httpx.AsyncClient,
    customer: Customer,
    subject: str,
    body: str,
    priority: str = "normal",
) -> dict[str, Any]:
    payload = {
        "subject": subject,
        "body": body,
        "priority": priority,
        "contact_email": customer.email,
    }
    return _json(await http.post(TICKETS, json=payload, headers=customer.headers), 201)


async def customer_reply(
    http: httpx.AsyncClient, customer: Customer, ticket_id: str, body: str
) -> dict[str, Any]:
    response = await http.post(
        f"{TICKETS}/{ticket_id}/messages", json={"body": body}, headers=customer.headers
    )
    return _json(response, 200)


async def customer_status(
    http: httpx.AsyncClient, customer: Customer, ticket_id: str, status: str
) -> dict[str, Any]:
    response = await http.patch(
        f"{TICKETS}/{ticket_id}", json={"status": status}, headers=customer.headers
    )
    return _json(response, 200)


async def customer_ticket(
    http: httpx.AsyncClient, customer: Customer, ticket_id: str
) -> dict[str, Any]:
    return _json(await http.get(f"{TICKETS}/{ticket_id}", headers=customer.headers), 200)


async def team_message(
    http: httpx.AsyncClient,
    staff: StaffMember,
    ticket_id: str,
    body: str,
    *,
    status: str | None = None,
    internal: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if status is not None:
        payload["status"] = status
    if internal:
        payload["internal"] = True
    response = await http.post(
        f"/v2/support/staff/tickets/{ticket_id}/messages", json=payload, headers=staff.headers
    )
    return _json(response, 200)


async def team_update(
    http: httpx.AsyncClient, staff: StaffMember, ticket_id: str, change: dict[str, Any]
) -> dict[str, Any]:
    response = await http.patch(
        f"/v2/support/staff/tickets/{ticket_id}", json=change, headers=staff.headers
    )
    return _json(response, 200)


async def whole_queue(http: httpx.AsyncClient, staff: StaffMember) -> list[dict[str, Any]]:
    """Every ticket in the team's queue, in the API's order, following `next_cursor`."""
    items: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"limit": 100}
    while True:
        page = _json(await http.get(QUEUE, params=params, headers=staff.headers), 200)
        items.extend(page["data"])
        if not page["has_more"]:
            return items
        params["cursor"] = page["next_cursor"]


# --------------------------------------------------------------------------- the browser


async def sign_in(context: BrowserContext, body: dict[str, str]) -> None:
    """A session for the context, without the sign-in screen: the request shares the context's
    cookie jar, so its pages are signed in."""
    response = await context.request.post(SESSIONS, data=body)
    assert response.status == 201, await response.text()


async def session_cookie(context: BrowserContext) -> str | None:
    for cookie in await context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return cookie.get("value")
    return None


def heading(page: Page, name: str) -> Locator:
    return page.get_by_role("heading", level=1, name=name, exact=True)


def messages(page: Page) -> Locator:
    """The thread's messages (each an `article` named by its author)."""
    return page.get_by_role("list", name="Messages").get_by_role("article")


async def open_ticket_list(page: Page) -> None:
    await page.goto("/console/#/tickets")
    await expect(heading(page, "Support tickets")).to_be_visible()
    await expect(
        page.get_by_role("list", name="Tickets").or_(page.get_by_text("No tickets yet."))
    ).to_be_visible()


async def open_customer_ticket(page: Page, ticket_id: str, subject: str) -> None:
    await page.goto(f"/console/#/tickets/{ticket_id}")
    await expect(heading(page, subject)).to_be_visible()
    await expect(messages(page).first).to_be_visible()


async def open_inbox(page: Page) -> None:
    await page.goto("/console/#/inbox")
    await expect(heading(page, "Inbox")).to_be_visible()
    await expect(page.get_by_role("list", name="Queue")).to_be_visible()


async def open_team_ticket(page: Page, ticket_id: str, subject: str) -> None:
    await page.goto(f"/console/#/inbox/{ticket_id}")
    await expect(heading(page, subject)).to_be_visible()
    await expect(messages(page).first).to_be_visible()


def status_badge(page: Page) -> Locator:
    """The ticket page's status badge (read out as "Status: Open")."""
    return page.locator(".ticket-head [data-status]")


async def assert_no_web_storage(page: Page) -> None:
    stored = await page.evaluate(
        "() => ({local: localStorage.length, session: sessionStorage.length})"
    )
    assert stored == {"local": 0, "session": 0}, stored


async def assert_no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], widths


# --------------------------------------------------------------------------- realistic tickets


@dataclass(frozen=True)
class World:
    """Two customers and tickets in every state, written as people write them."""

    acme: Customer  # enterprise
    northwind: Customer  # base
    streaming: dict[str, Any]  # open, a thread with a team reply, an internal note, assigned
    batch: dict[str, Any]  # pending: the team asked a question
    invoice: dict[str, Any]  # resolved
    rate_limits: dict[str, Any]  # closed
    outage: dict[str, Any]  # urgent, unanswered


STREAMING_NOTE = (
    "Root cause: the edge proxy closes idle connections after 30 s. The fix ships with edge "
    "release 4.12 (rolling out now, eu-west first)."
)


async def build_world(
    db: AsyncDatabase[Document], http: httpx.AsyncClient, staff: StaffMember
) -> World:
    acme = await new_customer(db, "Acme AI", "enterprise", "maya.chen@acme.example")
    northwind = await new_customer(db, "Northwind Labs", "base", "ops@northwind.example")

    await open_ticket(
        http,
        northwind,
        "Webhook signatures fail verification after key rotation",
        "We rotated our webhook secret on Monday. Since then every delivery fails our "
        "signature check (we use the Standard Webhooks library for Node). Do old deliveries "
        "still get signed with the previous secret while retries run?",
        "high",
    )
    invoice = await open_ticket(
        http,
        acme,
        "Invoice 2026-10 shows our old VAT number",
        "The October invoice still has DE 298 114 207; our VAT number changed to "
        "DE 301 884 512 in September. Could you reissue it?",
        "low",
    )
    await team_message(
        http,
        staff,
        invoice["id"],
        "Done: invoice 2026-10 is reissued with VAT number DE 301 884 512. You will find it "
        "under Billing → Invoices.",
        status="resolved",
    )
    rate_limits = await open_ticket(
        http,
        acme,
        "Rate-limit headers missing on 429 responses",
        "Our client backs off using x-ratelimit-reset, but 429 responses from /v2/embeddings "
        "come without it, so we retry too early.",
    )
    await team_message(
        http,
        staff,
        rate_limits["id"],
        "Fixed in API version 2026-11-01: every 429 now carries retry-after and x-ratelimit-reset.",
        status="resolved",
    )
    await customer_reply(http, acme, rate_limits["id"], "Confirmed on our side, thank you!")
    rate_limits = await customer_status(http, acme, rate_limits["id"], "closed")

    batch = await open_ticket(
        http,
        acme,
        "Batch job stuck in “validating” since yesterday",
        "Batch batch_4kQp9 has been validating for 20 hours. The input file is 48,000 lines "
        "of JSONL and passed our own schema check.",
    )
    batch = await team_message(
        http,
        staff,
        batch["id"],
        "Thanks for the batch id. The validator rejects lines with a trailing comma without "
        "saying so (we are fixing the message). Could you check lines 1,204 and 9,877 and "
        "submit the file again?",
        status="pending",
    )
    streaming = await open_ticket(
        http,
        acme,
        "Streaming cuts off mid-response",
        "When I set stream: true, the response stops after about 30 seconds, without the "
        "final [DONE] event. It happens with curl and with the Python SDK 4.11.\n\n"
        "Example request id: req_7QmT2c9Lx",
        "high",
    )
    await team_message(
        http,
        staff,
        streaming["id"],
        "Thanks, Maya. We can reproduce it: a proxy in front of the streaming endpoint closes "
        "idle connections after 30 seconds. A fix is rolling out today; until then, a "
        "keep-alive comment every 15 seconds avoids it.",
    )
    await team_message(http, staff, streaming["id"], STREAMING_NOTE, internal=True)
    await team_update(http, staff, streaming["id"], {"assignee": staff.email})
    streaming = await customer_reply(
        http,
        acme,
        streaming["id"],
        "The keep-alive workaround works for now. Could you tell us when the fix is live "
        "in eu-west-1?",
    )
    await open_ticket(
        http,
        northwind,
        "How do I export usage per API key?",
        "Finance wants last month's usage split by API key. The dashboard shows totals only.",
        "low",
    )
    outage = await open_ticket(
        http,
        acme,
        "Production: 502 errors from /v2/chat since 09:40 UTC",
        "Since 09:40 UTC about 3 % of our chat requests fail with 502 Bad Gateway "
        "(eu-west-1). Nothing changed on our side. Request ids: req_8HcW1p, req_8HcW4z.",
        "urgent",
    )
    return World(acme, northwind, streaming, batch, invoice, rate_limits, outage)
