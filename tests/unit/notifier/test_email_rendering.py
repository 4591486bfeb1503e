"""The email the team gets: the facts they need from the live ticket, and no contact email."""

from datetime import UTC, datetime

from zumik_contracts.events import MessageRef, TicketEvent, TicketEventData
from zumik_notifier.channels.email import SUBJECT_MAX_LENGTH, render_email
from zumik_tickets.reader import LiveMessage, LiveTicket

BODY = "Since Monday, every export is empty. " * 10


def _event(**changes: object) -> TicketEvent:
    """An event as it travels by default: no subject, no preview."""
    data = {
        "ticket_id": "spt_123",
        "status": "open",
        "priority": "urgent",
        "plan_tier": "enterprise",
        "sla_tier": "enterprise",
        "priority_queue": True,
        "message": MessageRef(id="spm_1", author="customer"),
    } | changes
    return TicketEvent(
        id="evt_abc",
        type="ticket.created",
        occurred_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        project_id="prj_9",
        data=TicketEventData.model_validate(data),
    )


def _ticket(subject: str = "Exports are empty", attachments: tuple[str, ...] = ()) -> LiveTicket:
    message = LiveMessage("spm_1", "customer", BODY, False, attachments)
    return LiveTicket("spt_123", subject, "someone@example.com", message)


def test_new_ticket_email_names_everything_the_team_needs() -> None:
    email = render_email(_event(), "Acme Rockets", _ticket())

    assert email.subject == (
        "[Zumik Support] [priority queue] New ticket (urgent) from Acme Rockets: Exports are empty"
    )
    for fact in (
        "Acme Rockets (prj_9)",
        "Ticket:         spt_123",
        "Subject:        Exports are empty",
        "Priority:       urgent",
        "Status:         open",
        "Plan:           enterprise",
        "SLA tier:       enterprise",
        "Priority queue: yes",
        "Since Monday, every export is empty.",
        "evt_abc",
    ):
        assert fact in email.text
    assert BODY.strip() not in email.text  # a preview, not the whole message


def test_email_has_no_contact_email_and_no_address_at_all() -> None:
    email = render_email(_event(), "Acme Rockets", _ticket())
    assert "@" not in email.subject
    assert "@" not in email.text
    assert "contact" not in email.text.lower()


def test_attachments_are_listed_by_name() -> None:
    email = render_email(_event(), "P", _ticket(attachments=("trace.har", "screen.png")))
    assert "Attachments:\n- trace.har\n- screen.png" in email.text


def test_unknown_project_name_falls_back_to_the_id() -> None:
    email = render_email(_event(priority_queue=False), None, _ticket())
    assert "from prj_9:" in email.subject
    assert "[priority queue]" not in email.subject
    assert "Priority queue: no" in email.text


def test_subject_is_one_bounded_line() -> None:
    subject = "Line one\r\nBcc: evil@example.com\n" + "x" * 500
    email = render_email(_event(), "P", _ticket(subject))
    assert "\n" not in email.subject
    assert "\r" not in email.subject
    assert len(email.subject) <= SUBJECT_MAX_LENGTH


def test_customer_reply_and_sla_breach_headlines() -> None:
    reply = _event().model_copy(update={"type": "ticket.message_added"})
    assert "Customer replied" in render_email(reply, "P", _ticket()).subject
    breach = _event(message=None).model_copy(update={"type": "ticket.sla_breached"})
    rendered = render_email(breach, "P", LiveTicket("spt_123", "S", None, None))
    assert "SLA breached" in rendered.subject
    assert "preview" not in rendered.text
