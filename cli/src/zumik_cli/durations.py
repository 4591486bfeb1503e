"""`--expires-in` values: a number and a unit, e.g. `90d`, `12h`, `30m`."""

import argparse
import re
from datetime import timedelta

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^(\d{1,6})([mhdw])$")


def duration(text: str) -> timedelta:
    match = _PATTERN.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number and m, h, d or w (e.g. 90d, 12h)"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
