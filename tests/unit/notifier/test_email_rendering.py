"""The email the team gets: the facts they need, and no contact email."""

from datetime import UTC, datetime

from zumik_contracts.events import MessageRef, TicketEvent, TicketEventData
from zumik_notifier.channels.email import SUBJECT_MAX_LENGTH, render_email


def _event(**changes: object) -> TicketEvent:
    data = {
        "ticket_id": "spt_123",
        "subject": "Exports are empty",
        "status": "open",
        "priority": "urgent",
        "plan_tier": "enterprise",
        "sla_tier": "enterprise",
        "priority_queue": True,
        "message": MessageRef(id="spm_1", author="customer", preview="Since Monday, every export…"),
    } | changes
    return TicketEvent(
        id="evt_abc",
        type="ticket.created",
        occurred_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        project_id="prj_9",
        data=TicketEventData.model_validate(data),
    )


def test_new_ticket_email_names_everything_the_team_needs() -> None:
    email = render_email(_event(), "Acme Rockets")

    assert email.subject == (
        "[Zumik Support] [priority queue] New ticket (urgent) from Acme Rockets: Exports are empty"
    )
    for fact in (
        "Acme Rockets (prj_9)",
        "Ticket:         spt_123",
        "Priority:       urgent",
        "Status:         open",
        "Plan:           enterprise",
        "SLA tier:       enterprise",
        "Priority queue: yes",
        "Since Monday, every export…",
        "evt_abc",
    ):
        assert fact in email.text


def test_email_has_no_contact_email_and_no_address_at_all() -> None:
    email = render_email(_event(), "Acme Rockets")
    assert "@" not in email.subject
    assert "@" not in email.text
    assert "contact" not in email.text.lower()


def test_unknown_project_name_falls_back_to_the_id() -> None:
    email = render_email(_event(priority_queue=False), None)
    assert "from prj_9:" in email.subject
    assert "[priority queue]" not in email.subject
    assert "Priority queue: no" in email.text


def test_subject_is_one_bounded_line() -> None:
    email = render_email(_event(subject="Line one\r\nBcc: evil@example.com\n" + "x" * 500), "P")
    assert "\n" not in email.subject
    assert "\r" not in email.subject
    assert len(email.subject) <= SUBJECT_MAX_LENGTH


def test_customer_reply_and_sla_breach_headlines() -> None:
    reply = _event().model_copy(update={"type": "ticket.message_added"})
    assert "Customer replied" in render_email(reply, "P").subject
    breach = _event(message=None).model_copy(update={"type": "ticket.sla_breached"})
    rendered = render_email(breach, "P")
    assert "SLA breached" in rendered.subject
    assert "preview" not in rendered.text
