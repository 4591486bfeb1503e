"""Tests for the business-time SLA clock (zumik_api.domain.business_time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from zumik_api.domain.business_time import (
    DEFAULT_WEEKLY_HOURS,
    BusinessCalendar,
)
from zumik_api.domain.sla import first_response_clock, uses_clock_time
from zumik_contracts.tickets import Priority, SlaTier

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
ZONE_NAMES = ("UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe")
MICRO = timedelta(microseconds=1)
H = timedelta(hours=1)

# 2026 transitions: London 29 Mar / 25 Oct, New York 8 Mar / 1 Nov,
# Lord Howe (30-minute DST) 5 Apr 2026 (back) and 4 Oct 2026 (forward).
DEFAULT = BusinessCalendar()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def all_week(zone: str, hours: str) -> BusinessCalendar:
    return BusinessCalendar.parse(zone, f"mon-sun {hours}", "")


def day_length(calendar: BusinessCalendar, day: date, zone: ZoneInfo) -> timedelta:
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return calendar.business_time_between(start, end)


# --------------------------------------------------------------------------- defaults / edges


def test_default_calendar_is_weekdays_nine_to_five_utc() -> None:
    assert DEFAULT.timezone == "UTC"
    assert DEFAULT.holidays == frozenset()
    assert (
        DEFAULT.weekly_hours
        == BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00", "").weekly_hours
    )
    assert DEFAULT.weekly_hours[5:] == ((), ())
    # 2026-03-02 is a Monday.
    assert DEFAULT.business_time_between(utc(2026, 3, 2), utc(2026, 3, 9)) == 40 * H


def test_opening_instant_is_open_and_closing_instant_is_closed() -> None:
    assert DEFAULT.is_open(utc(2026, 3, 2, 9))
    assert not DEFAULT.is_open(utc(2026, 3, 2, 9) - MICRO)
    assert DEFAULT.is_open(utc(2026, 3, 2, 17) - MICRO)
    assert not DEFAULT.is_open(utc(2026, 3, 2, 17))
    assert not DEFAULT.is_open(utc(2026, 3, 7, 12))  # Saturday


def test_zero_duration_returns_start_when_open_else_next_opening() -> None:
    assert DEFAULT.add_business_time(utc(2026, 3, 2, 9), timedelta(0)) == utc(2026, 3, 2, 9)
    assert DEFAULT.add_business_time(utc(2026, 3, 2, 12, 5), timedelta(0)) == utc(2026, 3, 2, 12, 5)
    assert DEFAULT.add_business_time(utc(2026, 3, 6, 17), timedelta(0)) == utc(2026, 3, 9, 9)


def test_ticket_opened_exactly_at_closing_starts_counting_at_next_opening() -> None:
    # Friday 17:00 -> counting starts Monday 09:00.
    assert DEFAULT.add_business_time(utc(2026, 3, 6, 17), 4 * H) == utc(2026, 3, 9, 13)
    assert DEFAULT.add_business_time(utc(2026, 3, 6, 17) - MICRO, MICRO) == utc(2026, 3, 6, 17)


def test_duration_ending_exactly_at_closing_returns_the_closing_instant() -> None:
    assert DEFAULT.add_business_time(utc(2026, 3, 2, 9), timedelta(hours=8)) == utc(2026, 3, 2, 17)
    assert DEFAULT.add_business_time(utc(2026, 3, 2, 13), 4 * H) == utc(2026, 3, 2, 17)


@pytest.mark.parametrize(
    ("opened", "expected"),
    [
        (utc(2026, 3, 2, 7), utc(2026, 3, 2, 13)),  # before opening
        (utc(2026, 3, 3, 20), utc(2026, 3, 4, 13)),  # after closing
        (utc(2026, 3, 7, 10), utc(2026, 3, 9, 13)),  # Saturday
        (utc(2026, 3, 8, 23, 59), utc(2026, 3, 9, 13)),  # late Sunday
        (utc(2026, 3, 6, 15), utc(2026, 3, 9, 11)),  # spans the weekend
        (utc(2026, 3, 4, 10, 30), utc(2026, 3, 4, 14, 30)),  # inside hours
    ],
)
def test_four_business_hours_from_various_openings(opened: datetime, expected: datetime) -> None:
    assert DEFAULT.add_business_time(opened, 4 * H) == expected


def test_start_in_other_zone_and_result_is_utc() -> None:
    tokyo = datetime(2026, 3, 2, 18, tzinfo=ZoneInfo("Asia/Tokyo"))  # 09:00 UTC
    result = DEFAULT.add_business_time(tokyo, 2 * H)
    assert result == utc(2026, 3, 2, 11)
    assert result.tzinfo is UTC


def test_local_evening_in_a_zone_behind_utc_belongs_to_the_local_date() -> None:
    # Monday 20:00 EST is already Tuesday 01:00 UTC; it is Monday's hours that apply.
    calendar = BusinessCalendar.parse("America/New_York", "mon 09:00-23:00", "")
    monday_evening = datetime(2026, 3, 2, 20, tzinfo=NEW_YORK)
    assert calendar.is_open(monday_evening)
    assert calendar.add_business_time(monday_evening, H) == utc(2026, 3, 3, 2)
    assert calendar.business_time_between(monday_evening, utc(2026, 3, 4)) == 3 * H


def test_business_time_between_basic_cases() -> None:
    assert DEFAULT.business_time_between(utc(2026, 3, 6, 16), utc(2026, 3, 9, 10)) == 2 * H
    assert DEFAULT.business_time_between(utc(2026, 3, 9, 10), utc(2026, 3, 6, 16)) == timedelta(0)
    assert DEFAULT.business_time_between(utc(2026, 3, 9, 10), utc(2026, 3, 9, 10)) == timedelta(0)
    assert DEFAULT.business_time_between(utc(2026, 3, 7), utc(2026, 3, 9, 9)) == timedelta(0)


def test_naive_datetimes_and_negative_durations_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.add_business_time(datetime(2026, 3, 2, 9), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.business_time_between(utc(2026, 3, 2), datetime(2026, 3, 3))
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.is_open(datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add_business_time(utc(2026, 3, 2, 9), -MICRO)


def test_calendar_without_open_hours_raises() -> None:
    closed = BusinessCalendar(weekly_hours=((),) * 7)
    with pytest.raises(ValueError, match="no open hours"):
        closed.add_business_time(utc(2026, 3, 2), H)
    assert closed.business_time_between(utc(2026, 3, 2), utc(2026, 4, 2)) == timedelta(0)
    assert not closed.is_open(utc(2026, 3, 2, 10))


def test_holidays_covering_every_open_day_for_years_raise_instead_of_looping() -> None:
    first_monday = date(2026, 3, 2)
    mondays = frozenset(first_monday + timedelta(weeks=n) for n in range(600))
    mondays_only = BusinessCalendar.parse("UTC", "mon 09:00-17:00", "")
    calendar = BusinessCalendar(weekly_hours=mondays_only.weekly_hours, holidays=mondays)
    with pytest.raises(ValueError, match="no open hours"):
        calendar.add_business_time(utc(2026, 3, 1), H)
    # One Monday left open after ~11.5 years is still found: the bound is on closed *streaks*.
    reachable = BusinessCalendar(
        weekly_hours=mondays_only.weekly_hours,
        holidays=frozenset(d for d in mondays if d < date(2030, 1, 1)),
    )
    assert reachable.add_business_time(utc(2026, 3, 1), H) == utc(2030, 1, 7, 10)


def test_large_durations_walk_many_days() -> None:
    # 1000 business days of 8 h = 200 weeks: the Friday 199 weeks after 2026-03-06.
    assert DEFAULT.add_business_time(utc(2026, 3, 2, 9), 1000 * timedelta(hours=8)) == utc(
        2029, 12, 28, 17
    )


def test_calendar_is_hashable_and_compares_by_configuration() -> None:
    one = BusinessCalendar()
    one.add_business_time(utc(2026, 3, 2), H)  # populate the private cache
    assert one == BusinessCalendar()
    assert hash(one) == hash(BusinessCalendar())
    assert one != BusinessCalendar(timezone="Europe/London")


# --------------------------------------------------------------------------- holidays


CHRISTMAS_2026 = date(2026, 12, 25)  # a Friday


def test_holiday_on_friday_before_weekend() -> None:
    calendar = BusinessCalendar(holidays=frozenset({CHRISTMAS_2026}))
    assert not calendar.is_open(utc(2026, 12, 25, 10))
    # Thursday 15:00 + 4 h: 2 h on Thursday, then Friday holiday + weekend, 2 h on Monday.
    assert calendar.add_business_time(utc(2026, 12, 24, 15), 4 * H) == utc(2026, 12, 28, 11)
    assert calendar.business_time_between(utc(2026, 12, 24), utc(2026, 12, 29)) == 16 * H


def test_consecutive_holidays() -> None:
    calendar = BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00", "2026-12-24,2026-12-25")
    day = timedelta(hours=8)
    assert calendar.add_business_time(utc(2026, 12, 23, 16), day) == utc(2026, 12, 28, 16)


def test_ticket_opened_on_a_holiday() -> None:
    calendar = BusinessCalendar(holidays=frozenset({CHRISTMAS_2026}))
    assert calendar.add_business_time(utc(2026, 12, 25, 10), H) == utc(2026, 12, 28, 10)
    assert calendar.add_business_time(utc(2026, 12, 25, 10), timedelta(0)) == utc(2026, 12, 28, 9)


def test_holidays_are_local_dates() -> None:
    # Auckland is UTC+13 in December: the local holiday spans 11:00 UTC on the 24th
    # to 11:00 UTC on the 25th.
    calendar = BusinessCalendar.parse("Pacific/Auckland", "mon-sun 00:00-24:00", "2026-12-25")
    assert calendar.is_open(utc(2026, 12, 24, 10, 59))
    assert not calendar.is_open(utc(2026, 12, 24, 11))
    assert not calendar.is_open(utc(2026, 12, 25, 10, 59))
    assert calendar.is_open(utc(2026, 12, 25, 11))


# --------------------------------------------------------------------------- DST


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("Europe/London", date(2026, 3, 29), 23 * H),
        ("Europe/London", date(2026, 10, 25), 25 * H),
        ("Europe/London", date(2026, 10, 26), 24 * H),
        ("America/New_York", date(2026, 3, 8), 23 * H),
        ("America/New_York", date(2026, 11, 1), 25 * H),
        ("Australia/Lord_Howe", date(2026, 10, 4), timedelta(hours=23, minutes=30)),
        ("Australia/Lord_Howe", date(2026, 4, 5), timedelta(hours=24, minutes=30)),
    ],
)
def test_full_day_calendar_counts_real_time_on_dst_days(
    zone: str, day: date, expected: timedelta
) -> None:
    calendar = all_week(zone, "00:00-24:00")
    assert day_length(calendar, day, ZoneInfo(zone)) == expected


@pytest.mark.parametrize(
    ("zone", "day", "opens_utc"),
    [
        ("Europe/London", date(2026, 3, 28), utc(2026, 3, 28, 9)),  # GMT
        ("Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 8)),  # BST from 01:00
        ("Europe/London", date(2026, 10, 25), utc(2026, 10, 25, 9)),  # back to GMT
        ("America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 13)),  # EDT
        ("America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 14)),  # EST
    ],
)
def test_nine_to_five_is_eight_hours_on_dst_days_outside_hours(
    zone: str, day: date, opens_utc: datetime
) -> None:
    calendar = all_week(zone, "09:00-17:00")
    assert day_length(calendar, day, ZoneInfo(zone)) == 8 * H
    assert calendar.is_open(opens_utc)
    assert not calendar.is_open(opens_utc - MICRO)
    assert calendar.add_business_time(opens_utc - 3 * H, 8 * H) == opens_utc + 8 * H


def test_spring_forward_inside_hours_new_york() -> None:
    # 00:00-03:00 on 8 Mar 2026 skips 02:00-03:00 local: only 2 h of real time.
    calendar = BusinessCalendar.parse("America/New_York", "sun 00:00-03:00", "")
    sunday = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert day_length(calendar, date(2026, 3, 8), NEW_YORK) == 2 * H
    assert calendar.add_business_time(sunday, 2 * H) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert calendar.add_business_time(sunday, 2 * H + MICRO) == utc(2026, 3, 15, 4) + MICRO


def test_fall_back_inside_hours_new_york() -> None:
    # 00:00-03:00 on 1 Nov 2026 repeats 01:00-02:00 local: 4 h of real time.
    calendar = BusinessCalendar.parse("America/New_York", "sun 00:00-03:00", "")
    assert day_length(calendar, date(2026, 11, 1), NEW_YORK) == 4 * H
    sunday = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert calendar.add_business_time(sunday, 3 * H) == utc(2026, 11, 1, 7)  # 02:00 EST


def test_full_day_calendar_adds_real_time_across_transitions() -> None:
    calendar = all_week("America/New_York", "00:00-24:00")
    start = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)  # 17:00 UTC
    assert calendar.add_business_time(start, 24 * H) == utc(2026, 3, 8, 17)  # 13:00 EDT


def test_opening_inside_spring_forward_gap_maps_to_the_end_of_the_gap() -> None:
    calendar = BusinessCalendar.parse("America/New_York", "sun 02:30-04:00", "")
    assert day_length(calendar, date(2026, 3, 8), NEW_YORK) == H
    assert calendar.is_open(utc(2026, 3, 8, 7))  # 03:00 EDT, the first instant after the gap
    assert not calendar.is_open(utc(2026, 3, 8, 7) - MICRO)
    # An interval wholly inside the gap does not exist that day.
    gap_only = BusinessCalendar.parse("Australia/Lord_Howe", "sun 02:00-02:15", "")
    assert day_length(gap_only, date(2026, 10, 4), LORD_HOWE) == timedelta(0)
    saturday = datetime(2026, 10, 3, 12, tzinfo=LORD_HOWE)
    next_sunday = datetime(2026, 10, 11, 2, tzinfo=LORD_HOWE)
    assert gap_only.add_business_time(saturday, timedelta(0)) == next_sunday
    assert not gap_only.is_open(datetime(2026, 10, 4, 2, 30, tzinfo=LORD_HOWE))
    assert day_length(gap_only, date(2026, 10, 11), LORD_HOWE) == timedelta(minutes=15)


def test_ambiguous_wall_times_use_the_first_occurrence() -> None:
    # London repeats 01:00-02:00 on 25 Oct 2026 (first BST = 00:00 UTC, then GMT = 01:00 UTC).
    calendar = BusinessCalendar.parse("Europe/London", "sun 01:00-01:30", "")
    assert calendar.is_open(utc(2026, 10, 25, 0, 15))
    assert not calendar.is_open(utc(2026, 10, 25, 1, 15))
    assert day_length(calendar, date(2026, 10, 25), LONDON) == timedelta(minutes=30)
    # Open from the first 01:30 to 03:00 GMT: 2.5 h, including the repeated hour's second half.
    later = BusinessCalendar.parse("Europe/London", "sun 01:30-03:00", "")
    assert day_length(later, date(2026, 10, 25), LONDON) == timedelta(hours=2, minutes=30)


def test_lord_howe_half_hour_transitions() -> None:
    calendar = all_week("Australia/Lord_Howe", "01:00-03:00")
    # Forward 4 Oct 2026: 02:00 -> 02:30, so 1.5 h open.
    assert day_length(calendar, date(2026, 10, 4), LORD_HOWE) == timedelta(hours=1, minutes=30)
    # Back 5 Apr 2026: 02:00 -> 01:30, so 2.5 h open.
    assert day_length(calendar, date(2026, 4, 5), LORD_HOWE) == timedelta(hours=2, minutes=30)


# --------------------------------------------------------------------------- parse


def test_parse_examples() -> None:
    split = BusinessCalendar.parse(
        "Europe/London", "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-12:00", ""
    )
    morning, afternoon = (time(8), time(12)), (time(13), time(17))
    assert split.weekly_hours == ((morning, afternoon),) * 4 + ((morning,), (), ())
    always = BusinessCalendar.parse("UTC", "mon-sun 00:00-24:00", "")
    assert always.weekly_hours == (((time(0), time(0)),),) * 7
    calendar = BusinessCalendar.parse(
        " UTC ", " MON-Fri 09:00-17:00 ; ", " 2026-12-25, 2027-01-01 "
    )
    assert calendar.timezone == "UTC"
    assert calendar.weekly_hours == DEFAULT_WEEKLY_HOURS
    assert calendar.holidays == frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    assert BusinessCalendar.parse("UTC", "sat 10:00-11:00", "").weekly_hours[5] == (
        (time(10), time(11)),
    )


@pytest.mark.parametrize(
    ("zone", "hours", "holidays", "message"),
    [
        ("Mars/Olympus", "mon-fri 09:00-17:00", "", "time zone"),
        ("", "mon-fri 09:00-17:00", "", "time zone"),
        ("UTC", "mon-fry 09:00-17:00", "", "unknown day"),
        ("UTC", "monday 09:00-17:00", "", "unknown day"),
        ("UTC", "fri-mon 09:00-17:00", "", "forwards"),
        ("UTC", "mon-tue-wed 09:00-17:00", "", "day range"),
        ("UTC", "mon-fri 09:00-13:00,12:00-17:00", "", "overlap"),
        ("UTC", "mon-fri 13:00-17:00,09:00-12:00", "", "overlap"),
        ("UTC", "mon-fri 09:00-09:00", "", "empty or reversed"),
        ("UTC", "mon-fri 17:00-09:00", "", "empty or reversed"),
        ("UTC", "mon-fri 22:00-00:00", "", "24:00"),
        ("UTC", "mon-fri 24:00-24:00", "", "out of range"),
        ("UTC", "mon-fri 09:60-17:00", "", "out of range"),
        ("UTC", "mon-fri 25:00-26:00", "", "out of range"),
        ("UTC", "mon-fri 9am-5pm", "", "bad time"),
        ("UTC", "mon-fri 09:00", "", "bad interval"),
        ("UTC", "mon-fri", "", "clause"),
        ("UTC", "", "", "empty"),
        ("UTC", "mon-fri 09:00-17:00; fri 18:00-19:00", "", "more than once"),
        ("UTC", "mon-fri 09:00-17:00", "2026-13-01", "not a valid date"),
        ("UTC", "mon-fri 09:00-17:00", "2026-02-30", "not a valid date"),
        ("UTC", "mon-fri 09:00-17:00", "2026/12/25", "YYYY-MM-DD"),
        ("UTC", "mon-fri 09:00-17:00", "20261225", "YYYY-MM-DD"),
        ("UTC", "mon-fri 09:00-17:00", "christmas", "YYYY-MM-DD"),
    ],
)
def test_parse_rejects_bad_input(zone: str, hours: str, holidays: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.parse(zone, hours, holidays)


def test_parse_holidays_tolerates_empty_items() -> None:
    assert BusinessCalendar.parse("UTC", "mon 09:00-10:00", "").holidays == frozenset()
    assert BusinessCalendar.parse("UTC", "mon 09:00-10:00", "2026-12-25,").holidays == frozenset(
        {date(2026, 12, 25)}
    )


def test_constructor_validates_fields() -> None:
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar(timezone="Not/AZone")
    with pytest.raises(ValueError, match="7 days"):
        BusinessCalendar(weekly_hours=DEFAULT_WEEKLY_HOURS[:6])
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar(weekly_hours=(((time(12), time(13)), (time(9), time(10))),) + ((),) * 6)
    with pytest.raises(ValueError, match="empty or reversed"):
        BusinessCalendar(weekly_hours=(((time(12), time(12)),),) + ((),) * 6)
    with pytest.raises(ValueError, match="naive"):
        BusinessCalendar(weekly_hours=(((time(9, tzinfo=UTC), time(12)),),) + ((),) * 6)
    with pytest.raises(TypeError, match=r"datetime\.date"):
        BusinessCalendar(holidays=frozenset({datetime(2026, 12, 25)}))
    # time(0, 0) as an end is midnight at the end of the day.
    late = BusinessCalendar(weekly_hours=(((time(22), time(0)),),) + ((),) * 6)
    assert late.business_time_between(utc(2026, 3, 2), utc(2026, 3, 3)) == 2 * H


# --------------------------------------------------------------------------- the SLA policy


def due_at(
    tier: SlaTier, priority: Priority, opened: datetime, calendar: BusinessCalendar
) -> datetime | None:
    clock = first_response_clock(tier, priority, opened, calendar)
    return None if clock is None else clock.due_at


def test_first_response_due_per_tier() -> None:
    friday = utc(2026, 3, 6, 15)
    assert due_at("community", "urgent", friday, DEFAULT) is None
    assert due_at("standard", "normal", friday, DEFAULT) == utc(2026, 3, 9, 15)
    assert due_at("priority", "normal", friday, DEFAULT) == utc(2026, 3, 9, 11)
    assert due_at("enterprise", "high", friday, DEFAULT) == utc(2026, 3, 9, 11)
    saturday = utc(2026, 3, 7, 10)
    assert due_at("enterprise", "urgent", saturday, DEFAULT) == utc(2026, 3, 7, 14)
    assert uses_clock_time("enterprise", "urgent")
    assert not uses_clock_time("enterprise", "high")
    assert not uses_clock_time("priority", "urgent")


def test_enterprise_urgent_is_real_clock_time_across_dst() -> None:
    calendar = all_week("America/New_York", "09:00-17:00")
    opened = datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK)
    due = due_at("enterprise", "urgent", opened, calendar)
    assert due == utc(2026, 3, 8, 9, 30)
    assert due is not None
    assert due.tzinfo is UTC


def test_warning_at_80_percent_of_clock_and_business_time() -> None:
    saturday = utc(2026, 3, 7, 10)
    urgent = first_response_clock("enterprise", "urgent", saturday, DEFAULT)
    assert urgent is not None
    assert (urgent.due_at, urgent.warning_at) == (utc(2026, 3, 7, 14), utc(2026, 3, 7, 13, 12))
    # Friday 16:00 -> Monday 12:00 is 4 business hours; 80 % = 3h12m -> Monday 11:12.
    friday = utc(2026, 3, 6, 16)
    priority = first_response_clock("priority", "normal", friday, DEFAULT)
    assert priority is not None
    assert (priority.due_at, priority.warning_at) == (utc(2026, 3, 9, 12), utc(2026, 3, 9, 11, 12))


# --------------------------------------------------------------------------- properties

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2030, 12, 31)


@cache
def dst_days(zone_name: str) -> tuple[date, ...]:
    """Local dates in 2024-2030 on which the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    days = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        today = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
        tomorrow = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).utcoffset()
        if today != tomorrow:
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def quarter(index: int) -> time:
    """Quarter-hour ``index`` of the day; 96 is midnight at the end of the day."""
    return time(index // 4 % 24, index % 4 * 15)


def pair_up(points: list[int]) -> tuple[tuple[time, time], ...]:
    """Sorted distinct quarter-hour points -> non-overlapping intervals (odd leftover dropped)."""
    return tuple((quarter(a), quarter(b)) for a, b in zip(points[::2], points[1::2], strict=False))


day_hours = st.lists(st.integers(0, 96), unique=True, max_size=6).map(sorted).map(pair_up)
weekly_hours = st.tuples(*[day_hours] * 7)


@st.composite
def scenarios(draw: st.DrawFn, *, need_open: bool = True) -> tuple[BusinessCalendar, datetime]:
    """A random calendar plus a start instant near interesting dates in the calendar's zone."""
    zone_name = draw(st.sampled_from(ZONE_NAMES))
    zone = ZoneInfo(zone_name)
    hours = draw(weekly_hours)
    if need_open:
        assume(any(hours))
    transitions = dst_days(zone_name)
    day = draw(
        st.one_of(st.dates(FIRST_DAY, LAST_DAY), st.sampled_from(transitions))
        if transitions
        else st.dates(FIRST_DAY, LAST_DAY)
    )
    # Quarter-hour starts hit opening/closing instants; arbitrary times hit everything else.
    wall = draw(st.one_of(st.integers(0, 95).map(quarter), st.times()))
    start = datetime.combine(day, wall, tzinfo=zone).replace(fold=draw(st.integers(0, 1)))
    # Holidays near the start (runs of consecutive ones are likely), as local dates.
    offsets = draw(st.lists(st.integers(-2, 20), max_size=12))
    holidays = frozenset(day + timedelta(days=offset) for offset in offsets)
    calendar = BusinessCalendar(timezone=zone_name, weekly_hours=hours, holidays=holidays)
    # The caller's zone must not matter.
    shown_in = draw(st.sampled_from([zone, UTC, ZoneInfo("Asia/Kolkata")]))
    return calendar, start.astimezone(shown_in)


durations = st.one_of(
    st.integers(0, 4 * 24 * 3).map(lambda q: timedelta(minutes=15 * q)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
)


def oracle_is_open(calendar: BusinessCalendar, instant: datetime) -> bool:
    """Independent definition: the instant's local wall time lies in one of its date's intervals."""
    local = instant.astimezone(ZoneInfo(calendar.timezone))
    if local.date() in calendar.holidays:
        return False
    wall = local.time()
    return any(
        start <= wall and (end == time(0) or wall < end)
        for start, end in calendar.weekly_hours[local.weekday()]
    )


@PROPERTY_SETTINGS
@given(scenarios(), durations)
def test_property_add_is_consistent_with_between(
    scenario: tuple[BusinessCalendar, datetime], duration: timedelta
) -> None:
    calendar, start = scenario
    result = calendar.add_business_time(start, duration)
    assert result.tzinfo is UTC
    assert result >= start
    assert calendar.business_time_between(start, result) == duration
    if duration > timedelta(0):
        # Open, or exactly a closing instant ...
        assert calendar.is_open(result) or calendar.is_open(result - MICRO)
        # ... and the earliest instant at which `duration` has elapsed.
        assert calendar.business_time_between(start, result - MICRO) < duration
    else:
        assert calendar.is_open(result)


@PROPERTY_SETTINGS
@given(scenarios(), durations, durations)
def test_property_add_is_monotonic_and_additive(
    scenario: tuple[BusinessCalendar, datetime], first: timedelta, second: timedelta
) -> None:
    calendar, start = scenario
    small, large = sorted((first, second))
    assert calendar.add_business_time(start, small) <= calendar.add_business_time(start, large)
    assume(second > timedelta(0))  # adding 0 at a closing instant moves to the next opening
    stepwise = calendar.add_business_time(calendar.add_business_time(start, first), second)
    assert stepwise == calendar.add_business_time(start, first + second)


@PROPERTY_SETTINGS
@given(scenarios(need_open=False), st.timedeltas(timedelta(0), timedelta(days=2)))
def test_property_is_open_agrees_with_between_and_oracle(
    scenario: tuple[BusinessCalendar, datetime], shift: timedelta
) -> None:
    calendar, start = scenario
    instant = start + shift
    open_now = calendar.is_open(instant)
    assert calendar.business_time_between(instant, instant + MICRO) == (
        MICRO if open_now else timedelta(0)
    )
    # The wall-clock oracle differs only for the second occurrence of a repeated local time.
    if instant.astimezone(ZoneInfo(calendar.timezone)).fold == 0:
        assert open_now == oracle_is_open(calendar, instant)


@PROPERTY_SETTINGS
@given(scenarios(need_open=False), durations, durations)
def test_property_between_is_additive_and_bounded(
    scenario: tuple[BusinessCalendar, datetime], first: timedelta, second: timedelta
) -> None:
    calendar, start = scenario
    middle, end = start + first, start + first + second
    total = calendar.business_time_between(start, end)
    assert total == calendar.business_time_between(start, middle) + calendar.business_time_between(
        middle, end
    )
    assert timedelta(0) <= total <= end - start
    assert calendar.business_time_between(end, start) == (total if end == start else timedelta(0))


@PROPERTY_SETTINGS
@given(
    st.sampled_from(ZONE_NAMES),
    st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)),
    durations,
)
def test_property_always_open_calendar_adds_real_time(
    zone_name: str, start: datetime, duration: timedelta
) -> None:
    calendar = all_week(zone_name, "00:00-24:00")
    assert calendar.add_business_time(start, duration) == start + duration


@settings(max_examples=100, deadline=None)
@given(
    weekly_hours.filter(any),
    st.integers(0, 7 * 96 - 1),
    st.integers(0, 4 * 20),
    st.lists(st.integers(0, 13), max_size=5),
)
def test_property_add_matches_quarter_hour_brute_force_in_utc(
    hours: tuple[tuple[tuple[time, time], ...], ...],
    start_quarter: int,
    quarters: int,
    holiday_offsets: list[int],
) -> None:
    monday = utc(2026, 3, 2)
    holidays = frozenset(monday.date() + timedelta(days=offset) for offset in holiday_offsets)
    calendar = BusinessCalendar(weekly_hours=hours, holidays=holidays)
    start = monday + timedelta(minutes=15 * start_quarter)
    assume(any(oracle_is_open(calendar, start + timedelta(minutes=15 * q)) for q in range(96 * 28)))
    # Step quarter by quarter using only the wall-clock oracle.
    cursor, counted = start, 0
    while not (counted == quarters and (quarters > 0 or oracle_is_open(calendar, cursor))):
        if oracle_is_open(calendar, cursor):
            counted += 1
        cursor += timedelta(minutes=15)
    assert calendar.add_business_time(start, timedelta(minutes=15 * quarters)) == cursor


@PROPERTY_SETTINGS
@given(
    scenarios(),
    st.sampled_from(["standard", "priority", "enterprise"]),
    st.sampled_from(["low", "normal", "high", "urgent"]),
)
def test_property_sla_deadline_and_warning(
    scenario: tuple[BusinessCalendar, datetime], tier: SlaTier, priority: Priority
) -> None:
    calendar, opened = scenario
    sla_clock = first_response_clock(tier, priority, opened, calendar)
    assert sla_clock is not None
    due, warning, clock = sla_clock.due_at, sla_clock.warning_at, sla_clock.clock_time
    assert clock == uses_clock_time(tier, priority)
    target = timedelta(hours=8) if tier == "standard" else timedelta(hours=4)
    if clock:
        assert due - opened == timedelta(hours=4)
    else:
        assert calendar.business_time_between(opened, due) == target
    assert opened <= warning <= due
    if clock:
        assert warning - opened == timedelta(hours=3, minutes=12)
    else:
        assert calendar.business_time_between(opened, warning) == target * 0.8
