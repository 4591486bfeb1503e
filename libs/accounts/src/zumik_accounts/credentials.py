"""What the credentials of projects and team members have in common: a secret shown once and
stored only as its SHA-256 hash, an id to name it by, an optional expiry, and a coarse
`last_used_at` that costs no store write per request."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# How often one process records a credential's use: `last_used_at` is coarse on purpose.
LAST_USED_EVERY_SECONDS = 60.0


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as it is listed: never the secret itself."""

    id: str
    owner_id: str  # the project or the team member
    hint: str  # the secret's last four characters
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hint": self.hint,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
        }


def expired(doc: dict[str, Any], now: datetime) -> bool:
    expires_at = doc.get("expires_at")
    return isinstance(expires_at, datetime) and expires_at <= now


class UseRecorder:
    """Whether a credential's use is worth recording now: at most once a minute per process."""

    def __init__(self) -> None:
        self._written: dict[str, float] = {}

    def due(self, credential_hash: str) -> bool:
        last = self._written.get(credential_hash)
        now = time.monotonic()
        if last is not None and now - last < LAST_USED_EVERY_SECONDS:
            return False
        if len(self._written) > 100_000:
            self._written.clear()
        self._written[credential_hash] = now
        return True
