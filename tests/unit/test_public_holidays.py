"""A business calendar can name a country's public holidays (`country:FR`), beside dates."""

from datetime import UTC, date, datetime, timedelta

import pytest
from zumik_api.domain.business_time import BusinessCalendar, PublicHolidays


def test_a_countrys_public_holidays_are_closed_days() -> None:
    calendar = BusinessCalendar.parse("Europe/Paris", "mon-fri 09:00-17:00", "country:FR")
    # Monday 13 July 2026, 18:00 in Paris (closed); Tuesday 14 July is Bastille Day.
    start = datetime(2026, 7, 13, 16, 0, tzinfo=UTC)
    assert calendar.add_business_time(start, timedelta(hours=1)) == datetime(
        2026, 7, 15, 8, 0, tzinfo=UTC
    )
    # Any year: the rules are the country's, not a list of dates.
    assert date(2031, 7, 14) in calendar.public[0]
    assert date(2031, 7, 15) not in calendar.public[0]


def test_countries_subdivisions_and_dates_combine() -> None:
    calendar = BusinessCalendar.parse(
        "America/Los_Angeles", "mon-fri 09:00-17:00", " country:us-ca , 2026-12-24,"
    )
    assert calendar.public == (PublicHolidays("US", "CA"),)
    assert calendar.holidays == frozenset({date(2026, 12, 24)})
    assert date(2026, 3, 31) in calendar.public[0]  # César Chávez Day: California only
    assert date(2026, 3, 31) not in PublicHolidays("US")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("country:ZZ", "no public holidays known for 'ZZ'"),
        ("country:FR-XXXX", "no public holidays known"),
        ("country:", "expected country:CC"),
        ("country:F", "expected country:CC"),
    ],
)
def test_unknown_countries_are_refused_at_start(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.parse("UTC", "mon-fri 09:00-17:00", text)
