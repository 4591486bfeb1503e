"""The audit trail: one log line per command outcome, without personal data.

It names the request, the command type, the project and the scope's kind, the outcome with its
failure code, and the counts; never an email, a subject hash, a ticket or a failure's free text.
Lines go to the `zumik_privacy.audit` logger with these as fields (the service logs JSON lines),
for the log pipeline to keep.
"""

import logging
import time
from typing import Any

from zumik_contracts.privacy import PrivacyResult

audit_log = logging.getLogger("zumik_privacy.audit")


def audit_result(result: PrivacyResult, *, attempt: int, started: float) -> None:
    fields: dict[str, Any] = {
        "outcome": "replayed" if result.replayed else result.status,
        "code": result.error.code if result.error is not None else None,
    }
    if result.export is not None:
        fields["scope"] = result.export.scope.kind
        fields["count"] = result.export.count
        fields["bytes"] = result.export.bytes
    if result.receipt is not None:
        fields["scope"] = result.receipt.scope.kind
        fields["counts"] = result.receipt.counts.model_dump()
    audit_attempt(
        result.request_id,
        result.type,
        result.project_id,
        attempt=attempt,
        started=started,
        **fields,
    )


def audit_attempt(
    request_id: str | None,
    command_type: str | None,
    project_id: str | None,
    *,
    attempt: int,
    started: float,
    **fields: Any,
) -> None:
    record = {
        "event": "privacy_command",
        "request_id": request_id,
        "type": command_type,
        "project_id": project_id,
        "attempt": attempt,
        "duration_ms": round((time.monotonic() - started) * 1000),
        **fields,
    }
    audit_log.info("privacy_command", extra=record)
