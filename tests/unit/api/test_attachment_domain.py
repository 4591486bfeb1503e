"""Files on messages in the ticket aggregate: the message keeps them, the event carries their
metadata (names only when the API includes text)."""

from datetime import UTC, datetime

from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.tickets import Ticket
from zumik_contracts.events import without_text
from zumik_contracts.tickets import Attachment

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HAR = Attachment(
    id="file_01m8aaaaaaaaaaaaaaaaaaaaaa",
    filename="checkout.har",
    size=1063,
    content_type="application/har+json",
    redactions={"headers": 3, "cookies": 2},
)


def _ticket() -> Ticket:
    return Ticket.open(
        project_id="prj_1",
        plan="enterprise",
        subject="s",
        body="b",
        priority="normal",
        contact_email=None,
        now=NOW,
        calendar=BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00", ""),
        attachments=[HAR],
    )


def test_the_first_message_and_ticket_created_carry_the_files() -> None:
    ticket = _ticket()
    assert ticket.messages[0].attachments == [HAR]
    [created] = ticket.new_events
    assert created.data.message is not None
    assert created.data.message.attachment_count == 1
    ref = created.data.message.attachments[0]
    assert (ref.id, ref.filename, ref.size, ref.content_type) == (
        HAR.id,
        "checkout.har",
        1063,
        "application/har+json",
    )
    assert ref.redactions == {"headers": 3, "cookies": 2}


def test_a_reply_carries_its_files_and_events_lose_their_names_without_text() -> None:
    ticket = _ticket()
    ticket.mark_saved()
    message = ticket.reply("customer", "here", NOW, attachments=[HAR])

    assert message.attachments == [HAR]
    [added] = ticket.new_events
    assert added.type == "ticket.message_added"
    minimal = without_text(added)
    assert minimal.data.message is not None
    assert minimal.data.message.attachments[0].filename is None
    assert minimal.data.message.attachments[0].id == HAR.id


def test_an_internal_note_keeps_its_files_and_makes_no_event() -> None:
    ticket = _ticket()
    ticket.mark_saved()
    note = ticket.reply("support", "note", NOW, internal=True, attachments=[HAR])
    assert note.attachments == [HAR]
    assert ticket.new_events == []
