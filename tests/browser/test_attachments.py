"""Attachments in the console against the real API: a customer attaches a HAR capture to a
reply (with a progress bar, then what was removed), the thread shows it, and its download has
no secret left; the team attaches a file to an internal note."""

import httpx
from playwright.async_api import BrowserContext, FilePayload, Page, expect

from tests.browser.support import (
    LiveApi,
    StaffMember,
    messages,
    new_customer,
    open_customer_ticket,
    open_team_ticket,
    open_ticket,
    sign_in,
)
from tests.integration.files.har import capture


async def test_a_customer_attaches_a_har_and_sees_its_secrets_removed(
    live_api: LiveApi, page: Page, context: BrowserContext, http: httpx.AsyncClient
) -> None:
    customer = await new_customer(live_api.db, "Quill Labs", "pilot", "mo@quill.example")
    subject = "Checkout calls fail after login"
    ticket = await open_ticket(http, customer, subject, "Intermittent 401s.")
    har = capture(entries=2)
    await sign_in(context, customer.sign_in)
    await open_customer_ticket(page, ticket["id"], subject)

    await page.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="checkout.har", mimeType="application/json", buffer=har.content)]
    )
    uploads = page.get_by_role("list", name="Attachments for this message")
    await expect(uploads).to_contain_text("checkout.har")
    await expect(uploads).to_contain_text("HAR scrubbed:")
    await expect(uploads).to_contain_text("cookies")
    await page.get_by_label("Your reply").fill("Here is the full request body and a HAR file.")
    await page.get_by_role("button", name="Send reply").click()

    await expect(messages(page)).to_have_count(2)
    last = messages(page).last
    link = last.get_by_role("link", name="checkout.har")
    await expect(link).to_be_visible()
    await expect(last).to_contain_text("HAR scrubbed:")
    href = await link.get_attribute("href")
    assert href is not None
    download = await context.request.get(href)
    assert download.status == 200
    assert download.headers["content-disposition"] == 'attachment; filename="checkout.har"'
    text = (await download.body()).decode()
    assert all(secret not in text for secret in har.secrets)
    assert "[REDACTED]" in text


async def test_the_team_attaches_a_file_to_an_internal_note(
    live_api: LiveApi,
    page: Page,
    context: BrowserContext,
    http: httpx.AsyncClient,
    staff: StaffMember,
) -> None:
    customer = await new_customer(live_api.db, "Nimbus Ops", "enterprise", "ra@nimbus.example")
    subject = "Webhook retries stop"
    ticket = await open_ticket(http, customer, subject, "No retries after the third.")
    await sign_in(context, staff.sign_in)
    await open_team_ticket(page, ticket["id"], subject)

    note_form = page.locator("section", has=page.get_by_role("heading", name="Internal note"))
    await note_form.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="trace.log", mimeType="text/plain", buffer=b"retry 3: gave up\n")]
    )
    # Exact: the picker's hint ("... removed when they are uploaded.") also holds the word.
    await expect(note_form.get_by_text("Uploaded", exact=True)).to_be_visible()
    await note_form.get_by_label("Note for the team").fill("Log from the relay.")
    await note_form.get_by_role("button", name="Add internal note").click()

    link = page.get_by_role("list", name="Messages").get_by_role("link", name="trace.log")
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href is not None
    assert href.startswith("/v2/support/staff/files/")
    assert (await (await context.request.get(href)).body()) == b"retry 3: gave up\n"
    shown = await http.get(f"/v2/support/tickets/{ticket['id']}", headers=customer.headers)
    assert len(shown.json()["messages"]) == 1  # the note, and its file, are the team's
