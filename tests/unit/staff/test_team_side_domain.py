"""The ticket aggregate on the team's side: who the ticket awaits, the SLA events, internal
notes and re-prioritisation (no I/O)."""

from datetime import UTC, datetime, time, timedelta

import pytest
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.errors import TicketClosed
from zumik_api.domain.tickets import Ticket
from zumik_contracts.tickets import Priority, TicketStatus

CALENDAR = BusinessCalendar()  # mon-fri 09:00-17:00 UTC
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FRIDAY_16 = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
STAFF = "agent@zumik.example"


def open_ticket(
    *, plan: str = "enterprise", priority: Priority = "normal", now: datetime = MONDAY_10
) -> Ticket:
    ticket = Ticket.open(
        project_id="prj_test",
        plan=plan,  # type: ignore[arg-type]
        subject="Streaming cuts off",
        body="It broke.",
        priority=priority,
        contact_email=None,
        now=now,
        calendar=CALENDAR,
    )
    return committed(ticket)


def committed(ticket: Ticket) -> Ticket:
    ticket.mark_saved()
    return ticket


def types(ticket: Ticket) -> list[str]:
    return [e.type for e in ticket.new_events]


def later(minutes: int) -> datetime:
    return MONDAY_10 + timedelta(minutes=minutes)


# ------------------------------------------------------------------ awaiting the team


def test_an_open_ticket_awaits_the_team_whoever_spoke_last() -> None:
    ticket = open_ticket()
    assert ticket.awaiting_team
    ticket.reply("support", "Looking.", later(1))
    assert ticket.status == "open"
    assert ticket.last_public_author == "support"
    assert ticket.awaiting_team


def test_pending_awaits_the_team_only_when_the_customer_has_the_last_public_word() -> None:
    ticket = open_ticket()
    ticket.set_status("pending", later(1), by=STAFF)
    assert ticket.awaiting_team  # parked without an answer: the customer spoke last

    ticket.reply("support", "Send logs?", later(2))
    assert not ticket.awaiting_team

    ticket.reply("support", "Asked infra too.", later(3), internal=True)
    assert ticket.last_public_author == "support"
    assert not ticket.awaiting_team


def test_an_internal_note_is_not_the_last_word() -> None:
    ticket = open_ticket()
    ticket.reply("support", "Customer misconfigured.", later(1), internal=True)
    ticket.set_status("pending", later(1), by=STAFF)
    assert ticket.last_public_author == "customer"
    assert ticket.awaiting_team


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_resolved_and_closed_never_await_the_team(status: TicketStatus) -> None:
    ticket = open_ticket()
    ticket.set_status(status, later(1), by=STAFF)
    assert ticket.last_public_author == "customer"
    assert not ticket.awaiting_team


@pytest.mark.parametrize("parked", ["pending", "resolved"])
def test_a_customer_reply_reopens_pending_and_resolved(parked: TicketStatus) -> None:
    ticket = open_ticket()
    ticket.reply("support", "Done?", later(1))
    ticket.set_status(parked, later(1), by=STAFF)
    committed(ticket)
    ticket.reply("customer", "No.", later(2))
    assert ticket.status == "open"
    assert ticket.awaiting_team
    assert types(ticket) == ["ticket.message_added", "ticket.status_changed"]
    assert ticket.history[-1].by == "customer"


# ------------------------------------------------------------------ internal notes


def test_internal_notes_record_no_event_and_are_no_response() -> None:
    ticket = open_ticket()
    ticket.set_status("pending", later(1), by=STAFF)
    committed(ticket)
    note = ticket.reply("support", "Secret.", later(2), internal=True)

    assert note.internal
    assert ticket.messages[-1] is note
    assert ticket.new_messages == [note]
    assert ticket.new_events == []
    assert ticket.first_responded_at is None
    assert ticket.status == "pending"
    assert ticket.history == [ticket.history[0]]  # only the earlier status change


def test_internal_note_on_a_closed_ticket_is_refused() -> None:
    ticket = open_ticket()
    ticket.set_status("closed", later(1), by=STAFF)
    with pytest.raises(TicketClosed):
        ticket.reply("support", "Late note.", later(2), internal=True)


def test_the_first_public_support_reply_is_the_first_response() -> None:
    ticket = open_ticket()
    ticket.reply("customer", "Any news?", later(1))
    assert ticket.first_responded_at is None
    ticket.reply("support", "Yes.", later(2))
    ticket.reply("support", "And more.", later(3))
    assert ticket.first_responded_at == later(2)


# ------------------------------------------------------------------ the SLA events


def test_urgent_enterprise_warning_at_80_percent_and_breach_at_due_each_once() -> None:
    ticket = open_ticket(priority="urgent")
    due = MONDAY_10 + timedelta(hours=4)
    assert ticket.first_response_due_at == due
    assert ticket.sla_warning_at == MONDAY_10 + timedelta(hours=3, minutes=12)

    ticket.emit_due_sla_events(MONDAY_10 + timedelta(hours=3, minutes=11))
    assert ticket.new_events == []

    ticket.emit_due_sla_events(MONDAY_10 + timedelta(hours=3, minutes=12))
    assert types(ticket) == ["ticket.sla_warning"]
    assert ticket.new_events[0].occurred_at == MONDAY_10 + timedelta(hours=3, minutes=12)
    committed(ticket)
    ticket.emit_due_sla_events(due - timedelta(seconds=1))
    assert ticket.new_events == []

    ticket.emit_due_sla_events(due)
    assert types(ticket) == ["ticket.sla_breached"]
    assert ticket.sla_breach_emitted
    committed(ticket)
    for hours in (4, 5, 100):
        ticket.emit_due_sla_events(MONDAY_10 + timedelta(hours=hours))
    assert ticket.new_events == []


def test_a_late_first_look_records_warning_and_breach_together_once() -> None:
    ticket = open_ticket(priority="urgent")
    ticket.emit_due_sla_events(MONDAY_10 + timedelta(days=3))
    assert types(ticket) == ["ticket.sla_warning", "ticket.sla_breached"]
    assert all(e.data.message is None for e in ticket.new_events)
    committed(ticket)
    ticket.emit_due_sla_events(MONDAY_10 + timedelta(days=4))
    assert ticket.new_events == []


def test_business_hours_clock_warns_at_80_percent_of_business_time() -> None:
    ticket = open_ticket(plan="pilot", now=FRIDAY_16)  # 1 h on Friday, 3 h on Monday
    monday = FRIDAY_16 + timedelta(days=3)
    assert ticket.first_response_due_at == monday.replace(hour=12)
    assert ticket.sla_warning_at == monday.replace(hour=11, minute=12)
    ticket.emit_due_sla_events(FRIDAY_16 + timedelta(days=1))  # Saturday: 1 h used of 4
    assert ticket.new_events == []


def test_an_answered_ticket_never_records_sla_events() -> None:
    ticket = open_ticket(priority="urgent")
    ticket.reply("support", "On it.", later(30))
    committed(ticket)
    ticket.emit_due_sla_events(MONDAY_10 + timedelta(days=2))
    assert ticket.new_events == []
    assert not ticket.sla_breached(MONDAY_10 + timedelta(days=2))


def test_an_internal_note_does_not_stop_the_clock() -> None:
    ticket = open_ticket(priority="urgent")
    ticket.reply("support", "Will look later.", later(30), internal=True)
    committed(ticket)
    ticket.emit_due_sla_events(MONDAY_10 + timedelta(hours=5))
    assert types(ticket) == ["ticket.sla_warning", "ticket.sla_breached"]
    assert ticket.sla_breached(MONDAY_10 + timedelta(hours=5))


def test_closed_and_community_tickets_record_no_sla_events() -> None:
    closed = open_ticket(priority="urgent")
    closed.set_status("closed", later(1), by=STAFF)
    committed(closed)
    closed.emit_due_sla_events(MONDAY_10 + timedelta(days=2))
    assert closed.new_events == []

    community = open_ticket(plan="free", priority="urgent")
    assert community.first_response_due_at is None
    assert community.sla_warning_at is None
    community.emit_due_sla_events(MONDAY_10 + timedelta(days=30))
    assert community.new_events == []
    assert not community.sla_breached(MONDAY_10 + timedelta(days=30))


def test_a_reply_after_the_due_time_is_a_breached_first_response() -> None:
    ticket = open_ticket(priority="urgent")
    ticket.reply("support", "Sorry.", MONDAY_10 + timedelta(hours=5))
    assert ticket.sla_breached(MONDAY_10 + timedelta(hours=5))
    assert ticket.sla_breached(MONDAY_10 + timedelta(days=9))


# ------------------------------------------------------------------ re-prioritisation


def test_set_priority_records_history_and_an_event() -> None:
    ticket = open_ticket(priority="normal")
    ticket.set_priority("high", later(5), by=STAFF, calendar=CALENDAR)

    assert ticket.priority == "high"
    change = ticket.history[-1]
    assert (change.field, change.old, change.new, change.by, change.at) == (
        "priority",
        "normal",
        "high",
        STAFF,
        later(5),
    )
    assert ticket.new_history == [change]
    assert types(ticket) == ["ticket.priority_changed"]
    assert ticket.new_events[0].data.priority == "high"
    assert ticket.changed


def test_setting_the_same_priority_changes_nothing() -> None:
    ticket = open_ticket(priority="high")
    ticket.set_priority("high", later(5), by=STAFF, calendar=CALENDAR)
    assert ticket.history == []
    assert ticket.new_events == []
    assert not ticket.changed


def test_urgent_enterprise_moves_onto_the_24_7_clock_and_back() -> None:
    ticket = open_ticket(priority="normal", now=FRIDAY_16)
    business_due = (FRIDAY_16 + timedelta(days=3)).replace(hour=12)
    assert ticket.first_response_due_at == business_due

    ticket.set_priority("urgent", FRIDAY_16 + timedelta(minutes=10), by=STAFF, calendar=CALENDAR)
    assert ticket.first_response_due_at == FRIDAY_16 + timedelta(hours=4)
    assert ticket.sla_warning_at == FRIDAY_16 + timedelta(hours=3, minutes=12)

    ticket.set_priority("low", FRIDAY_16 + timedelta(minutes=20), by=STAFF, calendar=CALENDAR)
    assert ticket.first_response_due_at == business_due
    assert [(c.old, c.new) for c in ticket.history] == [("normal", "urgent"), ("urgent", "low")]


def test_urgent_keeps_other_tiers_on_business_hours() -> None:
    for plan, target in (("pilot", timedelta(hours=4)), ("base", timedelta(hours=8))):
        ticket = open_ticket(plan=plan, priority="normal", now=FRIDAY_16)
        before = ticket.first_response_due_at
        assert before == CALENDAR.add_business_time(FRIDAY_16, target)
        ticket.set_priority("urgent", FRIDAY_16, by=STAFF, calendar=CALENDAR)
        assert ticket.first_response_due_at == before


def test_set_priority_after_the_first_response_keeps_the_due_time() -> None:
    ticket = open_ticket(priority="normal", now=FRIDAY_16)
    before = ticket.first_response_due_at
    ticket.reply("support", "Hi.", FRIDAY_16 + timedelta(minutes=1))
    ticket.set_priority("urgent", FRIDAY_16 + timedelta(minutes=2), by=STAFF, calendar=CALENDAR)
    assert ticket.priority == "urgent"
    assert ticket.first_response_due_at == before


def test_set_priority_on_a_closed_ticket_is_refused() -> None:
    ticket = open_ticket()
    ticket.set_status("closed", later(1), by=STAFF)
    with pytest.raises(TicketClosed):
        ticket.set_priority("urgent", later(2), by=STAFF, calendar=CALENDAR)
    with pytest.raises(TicketClosed):
        ticket.assign("x@zumik.example", later(2), by=STAFF)
    assert ticket.priority == "normal"


def test_assign_records_history_only_on_change() -> None:
    ticket = open_ticket()
    ticket.assign("a@zumik.example", later(1), by=STAFF)
    ticket.assign("a@zumik.example", later(2), by=STAFF)
    ticket.assign(None, later(3), by=STAFF)
    assert [(c.field, c.old, c.new) for c in ticket.history] == [
        ("assignee", None, "a@zumik.example"),
        ("assignee", "a@zumik.example", None),
    ]
    assert ticket.new_events == []  # assignment is internal triage, not a customer-facing event


def test_next_sla_check_walks_warning_then_breach_then_nothing() -> None:
    always_open = ((time(0), time(0)),)
    calendar = BusinessCalendar(weekly_hours=(always_open,) * 7)
    opened = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    ticket = Ticket.open(
        project_id="prj_1",
        plan="enterprise",
        subject="Down",
        body="Production is down",
        priority="urgent",
        contact_email=None,
        now=opened,
        calendar=calendar,
    )
    assert ticket.next_sla_check == opened + timedelta(hours=3, minutes=12)
    ticket.emit_due_sla_events(opened + timedelta(hours=3, minutes=30))
    assert ticket.next_sla_check == opened + timedelta(hours=4)
    ticket.emit_due_sla_events(opened + timedelta(hours=5))
    assert ticket.next_sla_check is None


def test_a_public_team_reply_stops_the_clock() -> None:
    calendar = BusinessCalendar()
    opened = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    ticket = Ticket.open(
        project_id="prj_1",
        plan="pilot",
        subject="Question",
        body="How do I rotate keys?",
        priority="normal",
        contact_email=None,
        now=opened,
        calendar=calendar,
    )
    assert ticket.next_sla_check is not None
    ticket.reply("support", "A note", opened, internal=True)
    assert ticket.next_sla_check is not None
    ticket.reply("support", "Here is how.", opened)
    assert ticket.next_sla_check is None
