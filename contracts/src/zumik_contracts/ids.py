"""Prefixed, time-ordered object ids (`spt_...`, `spm_...`, `evt_...`, `prj_...`)."""

import hashlib
import os
import threading
import time
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


_RANDOM_BITS = 80
_last = (0, 0)
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A ULID-style id: 48 bits of milliseconds, then 80 random bits; ids sort by creation time.

    Within one process, ids made in the same millisecond still increase (the random part is
    incremented), so a process's own ids are strictly ordered.
    """
    global _last  # the monotonic generator's state
    with _lock:
        millis = max(time.time_ns() // 1_000_000, _last[0])
        randomness = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        if millis == _last[0]:
            randomness = _last[1] + 1
            if randomness >= 1 << _RANDOM_BITS:
                millis, randomness = millis + 1, 0
        _last = (millis, randomness)
    return f"{prefix}_{_base32(millis, 10)}{_base32(randomness, 16)}"


def derived_id(prefix: str, at: datetime, seed: str) -> str:
    """The id a retried request gets again: the time part from `at` (so it still sorts by
    creation time), the rest from a hash of `seed` (so the same request makes the same id)."""
    millis = int(at.timestamp() * 1000)
    digest = int.from_bytes(hashlib.sha256(f"{prefix}:{seed}".encode()).digest()[:10], "big")
    return f"{prefix}_{_base32(millis, 10)}{_base32(digest, 16)}"


TICKET = "spt"
MESSAGE = "spm"
EVENT = "evt"
PROJECT = "prj"
FILE = "file"
