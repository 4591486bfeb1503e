"""The customer's email on a team reply: who hears what, and what it says."""

from datetime import UTC, datetime

from zumik_contracts.events import TicketEvent
from zumik_notifier.channels.customer_email import render_customer_email
from zumik_notifier.events import wanted_by
from zumik_notifier.topology import ChannelName
from zumik_tickets.reader import CustomerReply


def _event(event_type: str, author: str | None) -> TicketEvent:
    message = None if author is None else {"id": "spm_1", "author": author, "preview": "x"}
    return TicketEvent.model_validate(
        {
            "id": "evt_1",
            "type": event_type,
            "occurred_at": datetime(2026, 11, 26, tzinfo=UTC),
            "project_id": "prj_1",
            "data": {
                "ticket_id": "spt_1",
                "subject": "Streaming\ncuts off",
                "status": "pending",
                "priority": "high",
                "plan_tier": "enterprise",
                "sla_tier": "enterprise",
                "priority_queue": True,
                "message": message,
            },
        }
    )


def test_only_team_replies_reach_the_customer_channel() -> None:
    assert wanted_by(_event("ticket.message_added", "support"), ChannelName.CUSTOMER_EMAIL)
    assert not wanted_by(_event("ticket.message_added", "customer"), ChannelName.CUSTOMER_EMAIL)
    assert not wanted_by(_event("ticket.created", "customer"), ChannelName.CUSTOMER_EMAIL)
    assert not wanted_by(_event("ticket.sla_breached", None), ChannelName.CUSTOMER_EMAIL)


def test_team_channels_do_not_hear_team_replies() -> None:
    reply = _event("ticket.message_added", "support")
    assert not wanted_by(reply, ChannelName.EMAIL)
    assert not wanted_by(reply, ChannelName.WEBHOOK)
    assert wanted_by(_event("ticket.message_added", "customer"), ChannelName.EMAIL)


def test_the_email_quotes_the_reply_and_names_the_ticket_on_one_subject_line() -> None:
    reply = CustomerReply("dev@example.com", "Streaming\ncuts off", "We found it.\nA fix is out.")
    subject, text = render_customer_email(_event("ticket.message_added", "support"), reply)
    assert subject == "Re: Streaming cuts off [spt_1]"
    assert text.startswith("We found it.\nA fix is out.\n")
    assert "spt_1" in text
    assert "dev@example.com" not in text
