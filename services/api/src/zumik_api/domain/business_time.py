"""Business-time arithmetic: calendar time that counts only while support is open.

The SLA policy that uses it (which tier gets how long) is in `sla.py`.

A :class:`BusinessCalendar` describes when support is "open": an IANA time zone, weekly
opening hours (zero or more intervals per weekday) and holidays (whole local dates closed):
dates listed one by one, and/or a country's public holidays (the ``holidays`` package, a pure
table of rules: ``country:FR``, ``country:US-CA`` for a subdivision).

Semantic choices (relied on by the SLA code and pinned by the unit tests):

* Opening intervals are half-open ``[open, close)``: the opening instant is open, the closing
  instant is closed.
* Wall-clock hours are interpreted in the calendar's zone on each local date; every date's
  intervals are converted to UTC instants once and all arithmetic is done in UTC, so elapsed
  time is real elapsed time.  A 09:00-17:00 day is 8 h on a DST day unless the transition falls
  inside the hours (a 00:00-24:00 day lasts 23 h or 25 h on DST days).
* A wall time that does not exist (spring-forward gap) maps forward to the first instant after
  the gap, i.e. the transition instant.  An ambiguous wall time (fall-back overlap) uses its
  first occurrence (``fold=0``).  Both rules keep the wall-to-UTC mapping monotonic, so sorted
  local intervals stay sorted and disjoint in UTC.
* In ``weekly_hours`` an interval end of ``time(0, 0)`` means midnight at the *end* of the day
  (``24:00`` in the text form); ``(time(0, 0), time(0, 0))`` is therefore the whole day.
* All returned datetimes are timezone-aware UTC.  Naive datetimes are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as public_holidays

Interval = tuple[time, time]
DayHours = tuple[Interval, ...]
WeeklyHours = tuple[DayHours, ...]
UtcInterval = tuple[datetime, datetime]

_NINE_TO_FIVE: DayHours = ((time(9, 0), time(17, 0)),)
DEFAULT_WEEKLY_HOURS: WeeklyHours = (_NINE_TO_FIVE,) * 5 + ((), ())

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)
# A calendar whose weekly hours are non-empty can still be closed "forever" by holidays; stop
# looking after this many consecutive days without any opening instead of looping endlessly.
_MAX_CLOSED_DAYS = 3660
# The per-calendar cache only holds a few bytes per date; clearing it bounds memory for
# long-running processes that touch many distinct dates.
_CACHE_LIMIT = 20_000

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTRY_RE = re.compile(r"country:([A-Za-z]{2,3})(?:-([A-Za-z0-9]{1,4}))?")


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in an IANA zone; see the module docstring for the exact semantics."""

    timezone: str = "UTC"
    weekly_hours: WeeklyHours = DEFAULT_WEEKLY_HOURS
    holidays: frozenset[date] = frozenset()
    # Public holidays by rule (e.g. a country's), beside the dates listed in `holidays`.
    public: tuple[PublicHolidays, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _cache: dict[date, tuple[UtcInterval, ...]] = field(init=False, repr=False, compare=False)
    _has_hours: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", _load_zone(self.timezone))
        # Per-date UTC intervals; a plain dict avoids hashing the whole calendar per lookup.
        object.__setattr__(self, "_cache", {})
        _validate_weekly_hours(self.weekly_hours)
        _validate_holidays(self.holidays)
        object.__setattr__(self, "_has_hours", any(self.weekly_hours))

    @classmethod
    def parse(cls, timezone: str, weekly_hours: str, holidays: str) -> BusinessCalendar:
        """Build a calendar from the environment-variable text forms.

        ``weekly_hours``: ``"mon-fri 09:00-17:00"``,
        ``"mon-thu 08:00-12:00,13:00-17:00; fri 08:00-12:00"``, ``"mon-sun 00:00-24:00"``.
        Days not mentioned are closed; a day may be mentioned only once.
        ``holidays``: ``"2026-12-25,2027-01-01"`` (empty string: none), and/or a country's
        public holidays, ``"country:FR"`` or with a subdivision ``"country:US-CA"``:
        ``"country:DE-BY,2026-12-24"``.
        Raises ``ValueError`` with a descriptive message on malformed input.
        """
        dates, public = _parse_holidays(holidays)
        return cls(
            timezone=timezone.strip(),
            weekly_hours=_parse_weekly_hours(weekly_hours),
            holidays=dates,
            public=public,
        )

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """Instant (UTC) at which ``duration`` of open time has elapsed since ``start``.

        Counting starts at the first open instant at/after ``start``, so a zero duration
        returns that instant.  A positive duration that exhausts an interval exactly returns
        that interval's closing instant (not the next opening).
        """
        begin = _to_utc(start, "start")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if not self._has_hours:
            raise ValueError("calendar has no open hours")
        remaining = duration
        for opens, closes in self._intervals_after(begin):
            counting_from = opens if opens > begin else begin
            available = closes - counting_from
            if remaining <= available:
                return counting_from + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_after ends by raising")  # pragma: no cover

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time within ``[start, end)``; zero when ``end <= start``."""
        lo, hi = _to_utc(start, "start"), _to_utc(end, "end")
        total = _ZERO
        if hi <= lo:
            return total
        day, last = self._local_date(lo), self._local_date(hi) + _ONE_DAY
        while day <= last:
            for opens, closes in self._day_intervals(day):
                if opens >= hi:
                    return total  # intervals are sorted across days: nothing later overlaps
                if closes > lo:
                    total += min(closes, hi) - max(opens, lo)
            day += _ONE_DAY
        return total

    def is_open(self, instant: datetime) -> bool:
        """Whether ``instant`` lies inside an opening interval."""
        moment = _to_utc(instant, "instant")
        day = self._local_date(moment)
        for candidate in (day, day + _ONE_DAY):
            for opens, closes in self._day_intervals(candidate):
                if opens <= moment < closes:
                    return True
        return False

    def _intervals_after(self, moment: datetime) -> Iterator[UtcInterval]:
        """Yield the UTC intervals closing after ``moment``, in order, walking day by day."""
        day = self._local_date(moment)
        closed_streak = 0
        while closed_streak <= _MAX_CLOSED_DAYS:
            intervals = self._day_intervals(day)
            closed_streak = 0 if intervals else closed_streak + 1
            for interval in intervals:
                if interval[1] > moment:
                    yield interval
            day += _ONE_DAY
        raise ValueError(f"calendar has no open hours within {_MAX_CLOSED_DAYS} days")

    def _local_date(self, moment: datetime) -> date:
        """Local date of ``moment``: the first date whose intervals can contain or follow it.

        A date's intervals lie between its own 00:00 and the next date's 00:00 (both fold=0), so
        an instant is covered by its local date's intervals or, when a fall-back overlap crosses
        midnight and the local date runs backwards, by the next date's.
        """
        return moment.astimezone(self._zone).date()

    def _day_intervals(self, day: date) -> tuple[UtcInterval, ...]:
        cached = self._cache.get(day)
        if cached is None:
            cached = self._compute_day_intervals(day)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[day] = cached
        return cached

    def _compute_day_intervals(self, day: date) -> tuple[UtcInterval, ...]:
        if day in self.holidays or any(day in rules for rules in self.public):
            return ()
        result: list[UtcInterval] = []
        for start, end in self.weekly_hours[day.weekday()]:
            opens = _wall_to_utc(day, start, self._zone)
            closes = (
                _wall_to_utc(day + _ONE_DAY, _MIDNIGHT, self._zone)
                if end == _MIDNIGHT
                else _wall_to_utc(day, end, self._zone)
            )
            # An interval lying wholly inside a DST gap collapses to nothing.
            if closes > opens:
                result.append((opens, closes))
        return tuple(result)


def _to_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """UTC instant of a local wall time: gap times map to the gap's end, overlaps use fold=0."""
    naive = datetime.combine(day, wall)
    local = naive.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    return _transition_instant(local, zone)


def _transition_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant that created the gap containing the non-existent ``local``.

    With fold=0 a gap time is read with the pre-transition offset (lands after the transition),
    with fold=1 with the post-transition one (lands before it).  tzdata transitions fall on whole
    UTC seconds, so a binary search over seconds between the two finds the transition exactly.
    """
    after_offset = local.replace(fold=1).utcoffset()
    lo = int(local.replace(fold=1).timestamp()) - 1  # before the transition
    hi = int(local.timestamp()) + 1  # after the transition
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _end_offset(end: time) -> timedelta:
    """Position of an interval end within the day; midnight as an end means 24:00."""
    return _ONE_DAY if end == _MIDNIGHT else _offset(end)


def _offset(moment: time) -> timedelta:
    return datetime.combine(date.min, moment) - datetime.combine(date.min, _MIDNIGHT)


def _validate_weekly_hours(weekly_hours: WeeklyHours) -> None:
    if not isinstance(weekly_hours, tuple) or len(weekly_hours) != 7:
        raise ValueError("weekly_hours must be a tuple of 7 days (Monday first)")
    for index, intervals in enumerate(weekly_hours):
        _validate_day(_DAY_NAMES[index], intervals)


def _validate_day(day_name: str, intervals: DayHours) -> None:
    previous_end = timedelta(0)
    for start, end in intervals:
        if not isinstance(start, time) or not isinstance(end, time):
            raise TypeError(f"{day_name}: interval bounds must be datetime.time values")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{day_name}: interval bounds must be naive wall-clock times")
        begin, finish = _offset(start), _end_offset(end)
        if begin >= finish:
            raise ValueError(f"{day_name}: empty or reversed interval {start}-{end}")
        if begin < previous_end:
            raise ValueError(f"{day_name}: intervals must be sorted and must not overlap")
        previous_end = finish


def _validate_holidays(holidays: frozenset[date]) -> None:
    if not isinstance(holidays, frozenset):
        raise TypeError("holidays must be a frozenset of dates")
    for holiday in holidays:
        # datetime is a date subclass; a datetime here is almost certainly a caller mistake.
        if not isinstance(holiday, date) or isinstance(holiday, datetime):
            raise TypeError(f"holiday {holiday!r} must be a datetime.date, not a datetime")


def _parse_weekly_hours(text: str) -> WeeklyHours:
    days: list[DayHours | None] = [None] * 7
    clauses = [clause.strip() for clause in text.split(";") if clause.strip()]
    if not clauses:
        raise ValueError("weekly hours must not be empty, e.g. 'mon-fri 09:00-17:00'")
    for clause in clauses:
        parts = clause.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"weekly hours clause {clause!r} must look like 'mon-fri 09:00-17:00'")
        intervals = tuple(_parse_interval(item) for item in parts[1].split(","))
        for index in _parse_day_range(parts[0]):
            if days[index] is not None:
                raise ValueError(f"day {_DAY_NAMES[index]!r} is listed more than once")
            days[index] = intervals
    weekly = tuple(day if day is not None else () for day in days)
    _validate_weekly_hours(weekly)
    return weekly


def _parse_day_range(text: str) -> range:
    names = text.lower().split("-")
    if len(names) > 2:
        raise ValueError(f"bad day range {text!r}")
    indexes = [_parse_day(name) for name in names]
    if indexes[0] > indexes[-1]:
        raise ValueError(f"day range {text!r} must run forwards from mon to sun")
    return range(indexes[0], indexes[-1] + 1)


def _parse_day(name: str) -> int:
    try:
        return _DAY_NAMES.index(name.strip())
    except ValueError:
        raise ValueError(f"unknown day {name!r}; use one of {', '.join(_DAY_NAMES)}") from None


def _parse_interval(text: str) -> Interval:
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ValueError(f"bad interval {text.strip()!r}; expected HH:MM-HH:MM")
    start, end = _parse_time(parts[0], allow_24=False), _parse_time(parts[1], allow_24=True)
    # In text, midnight as an end must be spelled 24:00 so "22:00-00:00" is not misread.
    if parts[1].strip() in ("00:00", "0:00") or (end != _MIDNIGHT and end <= start):
        raise ValueError(f"empty or reversed interval {text.strip()!r}; use 24:00 for midnight")
    return start, end


def _parse_time(text: str, *, allow_24: bool) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"bad time {text.strip()!r}; expected HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if allow_24 and (hour, minute) == (24, 0):
        return _MIDNIGHT
    if hour > 23 or minute > 59:
        raise ValueError(f"time {text.strip()!r} is out of range")
    return time(hour, minute)


@dataclass(frozen=True)
class PublicHolidays:
    """A country's (or subdivision's) public holidays, for any year: `day in rules`."""

    country: str
    subdivision: str | None = None
    _days: Container[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            days = public_holidays.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError:
            raise ValueError(
                f"no public holidays known for {self.country!r}"
                + (f" subdivision {self.subdivision!r}" if self.subdivision else "")
            ) from None
        object.__setattr__(self, "_days", days)

    def __contains__(self, day: object) -> bool:
        return day in self._days


def _parse_holidays(text: str) -> tuple[frozenset[date], tuple[PublicHolidays, ...]]:
    holidays: set[date] = set()
    public: list[PublicHolidays] = []
    # Empty items are tolerated so that "" and a trailing comma both work.
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.lower().startswith("country:"):
            match = _COUNTRY_RE.fullmatch(item)
            if match is None:
                raise ValueError(f"bad holiday {item!r}; expected country:CC or country:CC-SUB")
            country, subdivision = match.group(1).upper(), match.group(2)
            public.append(PublicHolidays(country, subdivision.upper() if subdivision else None))
            continue
        if _DATE_RE.fullmatch(item) is None:
            raise ValueError(f"bad holiday {item!r}; expected YYYY-MM-DD")
        try:
            holidays.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"bad holiday {item!r}; not a valid date") from None
    return frozenset(holidays), tuple(public)
