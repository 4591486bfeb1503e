"""The Zumik team's side, through the browser: sign in with a staff token, the inbox in the API's
queue order, internal notes the customer never sees, and replies with a status."""

import re
from datetime import datetime
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.support import (
    ContextFactory,
    LiveApi,
    StaffMember,
    customer_ticket,
    heading,
    messages,
    new_customer,
    open_customer_ticket,
    open_inbox,
    open_team_ticket,
    open_ticket,
    sign_in,
    status_badge,
    whole_queue,
)


async def test_a_team_member_signs_in_with_a_staff_token(page: Page, staff: StaffMember) -> None:
    await page.goto("/console/")
    await page.get_by_role("tab", name="Zumik team").click()
    await expect(page.get_by_role("tab", name="Zumik team")).to_have_attribute(
        "aria-selected", "true"
    )
    await page.get_by_label("Staff token").fill(staff.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(heading(page, "Inbox")).to_be_visible()
    banner = page.get_by_role("banner")
    await expect(banner).to_contain_text(staff.email)
    await expect(banner).to_contain_text("Zumik team")
    await expect(banner.get_by_role("link", name="Inbox")).to_have_attribute("aria-current", "page")
    # A customer's route sends a team member to the inbox.
    await page.goto("/console/#/tickets")
    await expect(heading(page, "Inbox")).to_be_visible()


def _queue_key(ticket: dict[str, Any]) -> tuple[bool, datetime, datetime]:
    """The documented queue order of unanswered tickets: priority queue first, then the earliest
    first-response due time, then the oldest."""
    return (
        not ticket["sla"]["priority_queue"],
        datetime.fromisoformat(ticket["first_response_due_at"]),
        datetime.fromisoformat(ticket["created_at"]),
    )


async def test_the_inbox_shows_the_queue_in_the_api_order(
    live_api: LiveApi,
    context: BrowserContext,
    page: Page,
    http: httpx.AsyncClient,
    staff: StaffMember,
) -> None:
    enterprise = await new_customer(live_api.db, "Helios Analytics", "enterprise", "sam@helios.ex")
    base = await new_customer(live_api.db, "Quill & Co", "base", "jo@quill.example")
    # Oldest first: a base-plan urgent ticket, then enterprise tickets of every priority.
    specs = [
        (base, "CSV export stalls at 99 %", "urgent"),
        (enterprise, "Dashboard charts load slowly on Mondays", "normal"),
        (base, "Typo in the invoice footer", "low"),
        (enterprise, "All requests fail with 401 after SSO change", "urgent"),
        (enterprise, "Question about data retention in the EU region", "low"),
        (enterprise, "Webhook retries arrive out of order", "high"),
    ]
    mine: list[dict[str, Any]] = []
    for customer, subject, priority in specs:
        mine.append(
            await open_ticket(
                http, customer, subject, f"{subject}. Details to follow.", priority=priority
            )
        )

    api_order = await whole_queue(http, staff)
    await sign_in(context, staff.sign_in)
    await open_inbox(page)
    rows = page.get_by_role("list", name="Queue").get_by_role("listitem")
    while await rows.count() < len(api_order):  # pages of 20
        await page.get_by_role("button", name="Load more").click()
        await expect(page.get_by_role("button", name="Loading…")).to_have_count(0)
    await expect(rows).to_have_count(len(api_order))
    shown = [
        (await row.get_by_role("link").inner_text(), await row.locator(".ticket-id").inner_text())
        for row in await rows.all()
    ]
    assert shown == [(t["subject"], t["id"]) for t in api_order]

    # And that order is the documented one: every enterprise ticket before the base ones, the
    # oldest base-plan urgent ticket included.
    ids = [t["id"] for t in mine]
    positions = {ticket_id: [i for _, i in shown].index(ticket_id) for ticket_id in ids}
    by_rule = [t["id"] for t in sorted(mine, key=_queue_key)]
    assert sorted(ids, key=positions.__getitem__) == by_rule
    enterprise_last = max(positions[t["id"]] for t in mine if t["sla"]["priority_queue"])
    base_first = min(positions[t["id"]] for t in mine if not t["sla"]["priority_queue"])
    assert enterprise_last < base_first

    first_enterprise = rows.filter(has=page.get_by_role("link", name=specs[3][1], exact=True))
    await expect(first_enterprise).to_contain_text("Enterprise tier · priority queue")
    await expect(first_enterprise).to_contain_text(enterprise.project_id)


async def test_an_internal_note_never_reaches_the_customer(
    live_api: LiveApi,
    new_context: ContextFactory,
    http: httpx.AsyncClient,
    staff: StaffMember,
) -> None:
    customer = await new_customer(live_api.db, "Brightline Media", "enterprise", "ada@bright.ex")
    ticket = await open_ticket(
        http,
        customer,
        "Transcripts cut the last sentence",
        "Audio transcripts from /v2/audio end one sentence early.",
    )
    note = "Known bug TRX-2291 in the chunker; Priya is on it, ETA Thursday."

    team = await new_context()
    await sign_in(team, staff.sign_in)
    team_page = await team.new_page()
    await open_team_ticket(team_page, ticket["id"], ticket["subject"])
    await team_page.get_by_label("Note for the team").fill(note)
    await team_page.get_by_role("button", name="Add internal note").click()
    await expect(
        team_page.get_by_role("status").filter(has_text="Internal note added.")
    ).to_be_visible()
    internal = messages(team_page).filter(
        has=team_page.get_by_role("heading", name="Internal note — not visible to the customer")
    )
    await expect(internal).to_have_count(1)
    await expect(internal).to_contain_text(note)

    customer_context = await new_context()
    await sign_in(customer_context, customer.sign_in)
    customer_page = await customer_context.new_page()
    await open_customer_ticket(customer_page, ticket["id"], ticket["subject"])
    await customer_page.reload()
    await expect(heading(customer_page, ticket["subject"])).to_be_visible()
    await expect(messages(customer_page)).to_have_count(1)
    await expect(messages(customer_page).first).to_contain_text("end one sentence early")
    assert note not in await customer_page.content()
    assert "TRX-2291" not in await customer_page.evaluate("document.documentElement.outerHTML")
    assert note not in str(await customer_ticket(http, customer, ticket["id"]))


async def test_a_team_reply_with_a_status_reaches_the_customer(
    live_api: LiveApi,
    new_context: ContextFactory,
    http: httpx.AsyncClient,
    staff: StaffMember,
) -> None:
    customer = await new_customer(live_api.db, "Tidewater Freight", "pilot", "ola@tidewater.ex")
    ticket = await open_ticket(
        http,
        customer,
        "Function calling ignores the enum in our schema",
        "The model returns values outside the enum for the 'carrier' parameter.",
        priority="high",
    )
    reply = "Could you send us one request id where this happened? We will trace it."

    team = await new_context()
    await sign_in(team, staff.sign_in)
    team_page = await team.new_page()
    await open_team_ticket(team_page, ticket["id"], ticket["subject"])
    await team_page.get_by_label("Reply", exact=True).fill(reply)
    await team_page.get_by_label("and set status to").select_option("pending")
    await team_page.get_by_role("button", name="Send reply").click()
    await expect(
        team_page.get_by_role("status").filter(has_text="Reply sent; status is now Pending.")
    ).to_be_visible()
    await expect(status_badge(team_page)).to_have_text(re.compile("Pending$"))

    customer_context = await new_context()
    await sign_in(customer_context, customer.sign_in)
    customer_page = await customer_context.new_page()
    await open_customer_ticket(customer_page, ticket["id"], ticket["subject"])
    await expect(status_badge(customer_page)).to_have_text(re.compile("Pending$"))
    await expect(
        customer_page.get_by_text("Pending: the Zumik team is waiting for your answer.")
    ).to_be_visible()
    answer = messages(customer_page).last
    await expect(answer.get_by_role("heading", name="Zumik support")).to_be_visible()
    await expect(answer).to_contain_text(reply)
