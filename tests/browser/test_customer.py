"""The customer's Support tab, through the browser: sign in, open a ticket, reply, resolve,
reopen by replying, close (final), and failures that keep what was typed."""

import re

import httpx
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.browser.support import (
    LiveApi,
    customer_ticket,
    heading,
    messages,
    new_customer,
    open_customer_ticket,
    open_ticket,
    sign_in,
    status_badge,
)


async def test_a_customer_signs_in_opens_replies_resolves_reopens_and_closes_a_ticket(
    live_api: LiveApi, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Lumen Robotics", "enterprise", "ines@lumen.example")

    await page.goto("/console/")
    await expect(heading(page, "Sign in to Zumik Support")).to_be_visible()
    await expect(page.get_by_role("tab", name="Customer")).to_have_attribute(
        "aria-selected", "true"
    )
    await page.get_by_label("API key").fill(customer.api_key)
    await page.get_by_label("Your email").fill(customer.email)
    await page.get_by_role("button", name="Sign in").click()
    await expect(heading(page, "Support tickets")).to_be_visible()
    await expect(page.get_by_role("banner")).to_contain_text(customer.email)
    await expect(page.get_by_role("banner")).to_contain_text("Lumen Robotics (enterprise)")
    await expect(page.get_by_text("No tickets yet.")).to_be_visible()

    # Open a ticket from the form.
    await page.get_by_role("link", name="New ticket").click()
    await expect(heading(page, "New ticket")).to_be_visible()
    subject = "Embeddings return 400 for inputs over 8,000 tokens"
    body = (
        "Calls to /v2/embeddings with inputs between 8,000 and 8,192 tokens fail with 400 "
        "context_length_exceeded, although the model card says 8,192."
    )
    await expect(page.get_by_label("Contact email")).to_have_value(customer.email)
    await page.get_by_label("Subject").fill(subject)
    await page.get_by_label("Describe the problem").fill(body)
    await page.get_by_label("Priority", exact=True).select_option("high")
    await page.get_by_role("button", name="Open ticket").click()
    await expect(heading(page, subject)).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="Your ticket is open")).to_be_visible()
    await expect(messages(page)).to_have_count(1)
    await expect(messages(page).first).to_contain_text(body)
    await expect(status_badge(page)).to_have_text(re.compile("Open$"))
    ticket_id = page.url.rsplit("/", 1)[-1]
    assert ticket_id.startswith("spt_"), page.url

    # It is listed.
    await page.get_by_role("link", name="All tickets").click()
    await expect(heading(page, "Support tickets")).to_be_visible()
    row = page.get_by_role("list", name="Tickets").get_by_role("listitem")
    await expect(row).to_have_count(1)
    await expect(row.get_by_role("link", name=subject, exact=True)).to_be_visible()
    await expect(row.locator("[data-status]")).to_have_attribute("data-status", "open")
    await expect(row.locator("[data-priority]")).to_have_text(re.compile("High"))
    await row.get_by_role("link", name=subject, exact=True).click()
    await expect(heading(page, subject)).to_be_visible()

    # Reply.
    reply = page.get_by_label("Your reply")
    send = page.get_by_role("button", name="Send reply")
    await reply.fill("It also fails with the Node SDK 2.3; request id req_4Tn81.")
    await send.click()
    await expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    await expect(messages(page)).to_have_count(2)
    await expect(messages(page).last).to_contain_text("request id req_4Tn81")
    await expect(reply).to_have_value("")

    # Resolve.
    await page.get_by_role("button", name="Mark resolved").click()
    await expect(status_badge(page)).to_have_text(re.compile("Resolved$"))
    await expect(page.get_by_role("status").filter(has_text="Marked resolved.")).to_be_visible()
    await expect(page.get_by_role("button", name="Reopen ticket")).to_be_visible()
    await expect(page.get_by_text("Replying reopens this ticket.")).to_be_visible()

    # Replying reopens it.
    await reply.fill("Sorry, it is back since this morning.")
    await send.click()
    await expect(
        page.get_by_role("status").filter(has_text="Your reply reopened this ticket.")
    ).to_be_visible()
    await expect(status_badge(page)).to_have_text(re.compile("Open$"))
    await expect(messages(page)).to_have_count(3)
    await expect(page.get_by_role("button", name="Mark resolved")).to_be_visible()

    # Close it, after a confirmation; closed is final.
    await page.get_by_role("button", name="Close ticket").click()
    dialog = page.get_by_role("dialog", name="Close this ticket?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Closing is final")
    await dialog.get_by_role("button", name="Keep it open").click()
    await expect(dialog).to_be_hidden()
    await expect(status_badge(page)).to_have_text(re.compile("Open$"))
    await page.get_by_role("button", name="Close ticket").click()
    await dialog.get_by_role("button", name="Yes, close it").click()
    await expect(dialog).to_be_hidden()
    await expect(status_badge(page)).to_have_text(re.compile("Closed$"))
    await expect(page.get_by_text("This ticket is closed.")).to_be_visible()
    await expect(page.get_by_label("Your reply")).to_have_count(0)
    await expect(page.get_by_role("button", name="Mark resolved")).to_have_count(0)
    await expect(page.get_by_role("button", name="Close ticket")).to_have_count(0)
    stored = await customer_ticket(http, customer, ticket_id)
    assert stored["status"] == "closed"
    assert stored["message_count"] == 3

    # The way on is a new ticket that refers to this one.
    await page.get_by_role("link", name="Open a new ticket").click()
    await expect(heading(page, "New ticket")).to_be_visible()
    await expect(page.get_by_label("Subject")).to_have_value(f"Follow-up to {subject}")
    await expect(page.get_by_label("Describe the problem")).to_have_value(
        re.compile(re.escape(ticket_id))
    )


async def test_a_failed_reply_shows_the_error_beside_it_and_keeps_the_text(
    live_api: LiveApi, context: BrowserContext, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Fernway Travel", "base", "kai@fernway.example")
    ticket = await open_ticket(
        http,
        customer,
        "Search results missing hotels in Porto",
        "Since Tuesday, searches for Porto return no hotels.",
    )
    await sign_in(context, customer.sign_in)
    await open_customer_ticket(page, ticket["id"], ticket["subject"])

    # The API is unreachable for a moment.
    async def unreachable(route: Route) -> None:
        await route.abort("connectionfailed")

    await page.route("**/v2/support/tickets/*/messages", unreachable)
    text = "The problem also affects Lisbon and Faro.\nRequest id: req_9Xk2."
    reply_section = page.get_by_role("region", name="Reply")
    await page.get_by_label("Your reply").fill(text)
    await page.get_by_role("button", name="Send reply").click()
    await expect(reply_section.get_by_role("alert")).to_have_text(
        "Could not reach Zumik; your text is kept, try again."
    )
    await expect(page.get_by_label("Your reply")).to_have_value(text)
    await expect(messages(page)).to_have_count(1)

    # Back online: sending again sends it once.
    await page.unroute("**/v2/support/tickets/*/messages", unreachable)
    await page.get_by_role("button", name="Send reply").click()
    await expect(messages(page)).to_have_count(2)
    await expect(reply_section.get_by_role("alert")).to_have_text("")
    await expect(page.get_by_label("Your reply")).to_have_value("")
    stored = await customer_ticket(http, customer, ticket["id"])
    assert [m["body"] for m in stored["messages"]][1:] == [text]


async def test_the_api_refusing_a_field_shows_it_beside_the_field_and_keeps_the_form(
    live_api: LiveApi, context: BrowserContext, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Orchard Health", "pilot", "li@orchard.example")
    await sign_in(context, customer.sign_in)
    await page.goto("/console/#/tickets/new")
    await expect(heading(page, "New ticket")).to_be_visible()
    subject = "Audit log export is empty for October"
    body = "The CSV export of the audit log has only its header row for 1-31 October."
    await page.get_by_label("Subject").fill(subject)
    await page.get_by_label("Describe the problem").fill(body)
    # The page's own check lets it through; the API's email validation does not.
    contact = page.get_by_label("Contact email")
    await contact.fill("li@orchard")
    await page.get_by_role("button", name="Open ticket").click()

    await expect(contact).to_have_attribute("aria-invalid", "true")
    field_error = page.locator("#new-ticket-contact-email-error")
    await expect(field_error).to_contain_text("(request req_")
    await expect(contact).to_have_accessible_description(re.compile(r"request req_"))
    await expect(page.get_by_role("alert").filter(has_text="(request req_")).to_be_visible()
    await expect(page.get_by_label("Subject")).to_have_value(subject)
    await expect(page.get_by_label("Describe the problem")).to_have_value(body)
    await expect(contact).to_have_value("li@orchard")
    listed = await http.get("/v2/support/tickets", headers=customer.headers)
    assert listed.json()["data"] == []

    # Corrected, it goes through.
    await contact.fill("li@orchard.example")
    await page.get_by_role("button", name="Open ticket").click()
    await expect(heading(page, subject)).to_be_visible()


async def test_a_wrong_api_key_is_refused_beside_the_sign_in_button(page: Page) -> None:
    await page.goto("/console/")
    await page.get_by_label("API key").fill("zsk_not_a_real_key")
    await page.get_by_label("Your email").fill("someone@example.com")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signin-error")).to_contain_text("(request req_")
    await expect(heading(page, "Sign in to Zumik Support")).to_be_visible()
    await expect(page.get_by_label("Your email")).to_have_value("someone@example.com")


async def test_a_ticket_that_fails_to_load_offers_a_retry_and_another_projects_is_not_found(
    live_api: LiveApi, context: BrowserContext, page: Page, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Kestrel Maps", "base", "ines@kestrel.example")
    other = await new_customer(live_api.db, "Other Co", "base", "ola@other.example")
    theirs = await open_ticket(http, other, "Their ticket", "Not for Kestrel's eyes.")
    ours = await open_ticket(http, customer, "Tiles load slowly", "Since this morning.")
    await sign_in(context, customer.sign_in)

    # Another project's ticket does not exist for this project.
    await page.goto(f"/console/#/tickets/{theirs['id']}")
    await expect(heading(page, "Ticket not found")).to_be_visible()
    await expect(
        page.get_by_text(f"There is no ticket {theirs['id']} in this project.")
    ).to_be_visible()
    await expect(page.get_by_text("Not for Kestrel's eyes.")).to_have_count(0)

    # The API is unreachable while the page loads: the error, and a retry that loads it.
    async def unreachable(route: Route) -> None:
        await route.abort("connectionfailed")

    pattern = f"**/v2/support/tickets/{ours['id']}"
    await page.route(pattern, unreachable)
    await page.goto(f"/console/#/tickets/{ours['id']}")
    await expect(page.get_by_role("alert")).to_contain_text("Could not reach Zumik")
    await page.unroute(pattern, unreachable)
    await page.get_by_role("button", name="Try again").click()
    await expect(heading(page, "Tiles load slowly")).to_be_visible()
    await expect(messages(page)).to_have_count(1)
