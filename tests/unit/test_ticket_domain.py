"""The ticket aggregate: thread, status machine and the events each change records (no I/O)."""

from datetime import UTC, datetime, timedelta

import pytest
from zumik_api.domain.business_time import BusinessCalendar
from zumik_api.domain.errors import ThreadTooLong, TicketClosed
from zumik_api.domain.sla import sla_for
from zumik_api.domain.tickets import MAX_MESSAGES, Ticket
from zumik_contracts.events import PREVIEW_LENGTH, TicketEvent, preview
from zumik_contracts.tickets import STATUSES, TicketStatus, sla_breached

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, inside 09:00-17:00
CALENDAR = BusinessCalendar()  # mon-fri 09:00-17:00 UTC
LATER = NOW + timedelta(minutes=5)
EMAIL = "customer.person@example.com"


def open_ticket(
    *, plan: str = "enterprise", body: str = "It broke.", email: str | None = EMAIL
) -> Ticket:
    return Ticket.open(
        project_id="prj_test",
        plan=plan,  # type: ignore[arg-type]
        subject="Streaming cuts off",
        body=body,
        priority="high",
        contact_email=email,
        now=NOW,
        calendar=CALENDAR,
    )


def committed(ticket: Ticket) -> Ticket:
    """The ticket as a repository leaves it after writing: no pending changes."""
    ticket.mark_saved()
    return ticket


def in_status(status: TicketStatus) -> Ticket:
    ticket = committed(open_ticket())
    ticket.set_status(status, NOW)
    return committed(ticket)


def event_types(ticket: Ticket) -> list[str]:
    return [event.type for event in ticket.new_events]


# --------------------------------------------------------------------------- open


def test_open_starts_an_open_thread_with_the_customers_first_message() -> None:
    ticket = open_ticket(body="When I set stream:true it stops.")
    assert ticket.id.startswith("spt_")
    assert ticket.status == "open"
    assert ticket.plan_tier == "enterprise"
    assert ticket.sla == sla_for("enterprise")
    assert ticket.created_at == ticket.updated_at == NOW
    assert [(m.author, m.body) for m in ticket.messages] == [
        ("customer", "When I set stream:true it stops.")
    ]
    assert ticket.messages[0].id.startswith("spm_")
    assert ticket.new_messages == ticket.messages
    # enterprise, high priority: 4 business hours from Monday 10:00.
    assert ticket.first_response_due_at == NOW + timedelta(hours=4)
    assert ticket.first_responded_at is None


def test_a_free_plan_ticket_has_no_first_response_target() -> None:
    ticket = open_ticket(plan="free")
    assert ticket.sla.tier == "community"
    assert ticket.first_response_due_at is None
    assert not ticket.sla_breached(NOW + timedelta(days=365))


def test_open_records_ticket_created_with_the_first_message() -> None:
    ticket = open_ticket(plan="pilot", body="First words.")
    assert event_types(ticket) == ["ticket.created"]
    event = ticket.new_events[0]
    assert event.id.startswith("evt_")
    assert event.project_id == "prj_test"
    assert event.occurred_at == NOW
    assert event.data.ticket_id == ticket.id
    assert event.data.status == "open"
    assert event.data.previous_status is None
    assert (event.data.plan_tier, event.data.sla_tier, event.data.priority_queue) == (
        "pilot",
        "priority",
        True,
    )
    assert event.data.message is not None
    assert event.data.message.id == ticket.messages[0].id
    assert event.data.message.author == "customer"
    assert event.data.message.preview == "First words."


def test_ticket_ids_are_unique() -> None:
    assert len({open_ticket().id for _ in range(50)}) == 50


# --------------------------------------------------------------------------- reply


def test_reply_appends_and_records_message_added() -> None:
    ticket = committed(open_ticket())
    message = ticket.reply("customer", "More detail.", LATER)
    assert [m.body for m in ticket.messages] == ["It broke.", "More detail."]
    assert ticket.messages[-1] is message
    assert ticket.new_messages == [message]
    assert ticket.updated_at == LATER
    assert ticket.status == "open"
    assert event_types(ticket) == ["ticket.message_added"]
    ref = ticket.new_events[0].data.message
    assert ref is not None
    assert (ref.id, ref.author, ref.preview) == (message.id, "customer", "More detail.")
    assert ticket.changed


@pytest.mark.parametrize("status", ["resolved", "pending"])
def test_customer_reply_reopens_resolved_and_pending(status: TicketStatus) -> None:
    ticket = in_status(status)
    ticket.reply("customer", "Still broken.", LATER)
    assert ticket.status == "open"
    assert event_types(ticket) == ["ticket.message_added", "ticket.status_changed"]
    changed = ticket.new_events[1].data
    assert changed.status == "open"
    assert changed.previous_status == status


@pytest.mark.parametrize("status", ["resolved", "pending"])
def test_support_reply_does_not_reopen(status: TicketStatus) -> None:
    ticket = in_status(status)
    ticket.reply("support", "Here is the fix.", LATER)
    assert ticket.status == status
    assert event_types(ticket) == ["ticket.message_added"]


def test_the_first_support_reply_is_the_first_response() -> None:
    ticket = committed(open_ticket())
    ticket.reply("customer", "anyone?", LATER)
    assert ticket.first_responded_at is None
    ticket.reply("support", "On it.", LATER + timedelta(minutes=1))
    ticket.reply("support", "Fixed.", LATER + timedelta(minutes=2))
    assert ticket.first_responded_at == LATER + timedelta(minutes=1)
    assert not ticket.sla_breached(NOW + timedelta(days=1))


def test_thread_limit_raises_thread_too_long_and_changes_nothing() -> None:
    ticket = committed(open_ticket())
    for n in range(MAX_MESSAGES - 1):
        ticket.reply("customer", f"message {n}", NOW)
    assert len(ticket.messages) == MAX_MESSAGES
    committed(ticket)
    with pytest.raises(ThreadTooLong) as raised:
        ticket.reply("customer", "one too many", LATER)
    assert raised.value.code == "thread_too_long"
    assert str(MAX_MESSAGES) in raised.value.message
    assert len(ticket.messages) == MAX_MESSAGES
    assert not ticket.changed
    assert ticket.new_messages == []


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize("target", ["pending", "resolved", "closed"])
def test_set_status_records_status_changed(target: TicketStatus) -> None:
    ticket = committed(open_ticket())
    ticket.set_status(target, LATER)
    assert ticket.status == target
    assert ticket.updated_at == LATER
    assert event_types(ticket) == ["ticket.status_changed"]
    data = ticket.new_events[0].data
    assert (data.status, data.previous_status, data.message) == (target, "open", None)


@pytest.mark.parametrize("status", STATUSES[:3])
def test_setting_the_same_status_records_nothing(status: TicketStatus) -> None:
    ticket = in_status(status)
    ticket.set_status(status, LATER)
    assert ticket.status == status
    assert ticket.new_events == []
    assert not ticket.changed
    assert ticket.updated_at == NOW


def test_closed_is_final_for_replies() -> None:
    ticket = in_status("closed")
    with pytest.raises(TicketClosed) as raised:
        ticket.reply("customer", "Hello?", LATER)
    assert raised.value.code == "ticket_closed"
    assert "open a new ticket" in raised.value.message
    assert [m.body for m in ticket.messages] == ["It broke."]
    assert ticket.status == "closed"
    assert not ticket.changed
    with pytest.raises(TicketClosed):
        ticket.reply("support", "Answer", LATER)


@pytest.mark.parametrize("target", STATUSES)
def test_closed_is_final_for_status_changes(target: TicketStatus) -> None:
    ticket = in_status("closed")
    with pytest.raises(TicketClosed):
        ticket.set_status(target, LATER)
    assert ticket.status == "closed"
    assert not ticket.changed
    assert ticket.updated_at == NOW


# --------------------------------------------------------------------------- events


def every_event_of_a_busy_ticket() -> list[TicketEvent]:
    ticket = open_ticket(email=EMAIL)
    events = list(ticket.new_events)
    steps: tuple[TicketStatus, ...] = ("pending", "resolved")
    for step, status in enumerate(steps):
        ticket.set_status(status, LATER)
        ticket.reply("customer", f"step {step}", LATER)
        ticket.reply("support", "ok", LATER)
    ticket.set_status("closed", LATER)
    events += ticket.new_events[1:]
    return events


def test_events_never_contain_contact_email() -> None:
    events = every_event_of_a_busy_ticket()
    assert {e.type for e in events} == {
        "ticket.created",
        "ticket.message_added",
        "ticket.status_changed",
    }
    for event in events:
        dumped = event.model_dump(mode="json")
        assert "contact_email" not in dumped
        assert "contact_email" not in dumped["data"]
        assert EMAIL not in event.model_dump_json()


def test_previews_are_at_most_200_characters() -> None:
    long_body = "word " * 10_000
    ticket = open_ticket(body=long_body)
    ticket.reply("customer", "x" * 20_000, LATER)
    previews = [e.data.message.preview for e in ticket.new_events if e.data.message is not None]
    assert len(previews) == 2
    for text in previews:
        assert text is not None
        assert len(text) == PREVIEW_LENGTH == 200
        assert text.endswith("…")
    assert previews[1] == "x" * 199 + "…"
    assert ticket.messages[1].body == "x" * 20_000  # the thread keeps the whole body


def test_preview_keeps_short_bodies_and_flattens_whitespace() -> None:
    assert preview("a\n\n b\tc ") == "a b c"
    assert preview("y" * 200) == "y" * 200
    assert preview("y" * 201) == "y" * 199 + "…"


# --------------------------------------------------------------------------- sla_breached

DUE = NOW + timedelta(hours=4)


@pytest.mark.parametrize(
    ("due_at", "answered_at", "now", "breached"),
    [
        (None, None, DUE + timedelta(days=30), False),  # no target (community)
        (DUE, None, DUE - timedelta(seconds=1), False),  # unanswered, still in time
        (DUE, None, DUE, False),  # exactly at the due time
        (DUE, None, DUE + timedelta(seconds=1), True),  # unanswered, late
        (DUE, DUE - timedelta(hours=1), DUE + timedelta(days=1), False),  # answered in time
        (DUE, DUE, DUE + timedelta(days=1), False),  # answered exactly on time
        (DUE, DUE + timedelta(minutes=1), DUE + timedelta(days=1), True),  # answered late
        (DUE, DUE + timedelta(minutes=1), NOW, True),  # late answer stays a breach
    ],
)
def test_sla_breached(
    due_at: datetime | None, answered_at: datetime | None, now: datetime, breached: bool
) -> None:
    assert sla_breached(due_at, answered_at, now) is breached


def test_ticket_sla_breached_uses_its_due_and_response_times() -> None:
    ticket = open_ticket()
    ticket.first_response_due_at = DUE
    assert not ticket.sla_breached(DUE)
    assert ticket.sla_breached(DUE + timedelta(seconds=1))
    ticket.first_responded_at = DUE - timedelta(minutes=1)
    assert not ticket.sla_breached(DUE + timedelta(days=1))


def test_a_thread_is_bounded_in_bytes_with_room_left_for_the_team() -> None:
    from zumik_api.domain import tickets as rules
    from zumik_api.domain.errors import TicketTooLarge

    ticket = committed(open_ticket(body="a"))
    big = "\N{GRINNING FACE}" * 16_000  # 64,000 bytes
    while ticket.thread_bytes + len(big.encode()) <= rules.MAX_THREAD_BYTES:
        ticket.reply("customer", big, LATER)
    with pytest.raises(TicketTooLarge) as refused:
        ticket.reply("customer", big, LATER)
    assert refused.value.code == "ticket_too_large"
    ticket.reply("support", big, LATER)  # the team can still answer...
    ticket.set_status("closed", LATER, by="agent@zumik.example")  # ...and close it
    assert ticket.thread_bytes <= rules.MAX_THREAD_BYTES + rules.TEAM_EXTRA_BYTES


def test_the_history_keeps_its_most_recent_changes() -> None:
    from zumik_api.domain.tickets import MAX_HISTORY

    ticket = committed(open_ticket())
    for number in range(MAX_HISTORY + 5):
        ticket.set_status("pending" if number % 2 == 0 else "open", LATER, by="agent")
    assert len(ticket.history) == MAX_HISTORY
    assert ticket.history_trimmed
    assert ticket.history[-1].new == ("pending" if (MAX_HISTORY + 4) % 2 == 0 else "open")


def test_a_request_that_runs_again_makes_the_same_ids_and_adds_nothing() -> None:
    from zumik_api.domain.tickets import RequestKey

    request = RequestKey("prj_test:key", NOW)
    first = open_ticket()
    again_a = Ticket.open(
        project_id="prj_test",
        plan="enterprise",
        subject="Streaming cuts off",
        body="It broke.",
        priority="high",
        contact_email=EMAIL,
        now=LATER,
        calendar=CALENDAR,
        request=request,
    )
    again_b = Ticket.open(
        project_id="prj_test",
        plan="enterprise",
        subject="Streaming cuts off",
        body="It broke.",
        priority="high",
        contact_email=EMAIL,
        now=LATER + timedelta(minutes=1),
        calendar=CALENDAR,
        request=request,
    )
    assert again_a.id == again_b.id != first.id
    assert again_a.messages[0].id == again_b.messages[0].id
    reply = RequestKey("prj_test:reply", LATER)
    committed(again_a).reply("customer", "More", LATER, request=reply)
    committed(again_a)
    again_a.reply("customer", "More", LATER + timedelta(seconds=30), request=reply)
    assert [m.body for m in again_a.messages] == ["It broke.", "More"]
    assert not again_a.changed
