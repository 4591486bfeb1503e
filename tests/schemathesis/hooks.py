"""Schemathesis hooks (`SCHEMATHESIS_HOOKS=tests.schemathesis.hooks`).

A valid `Idempotency-Key` is made unique per generated request: the API answers a key reused with
another body `400 idempotency_key_reused`, as documented, which is not what a fuzzer that sends
schema-valid keys at random means to test. Keys that break the schema are left as they are, so
the negative cases still reach the API. Schema-valid attachment ids are dropped from messages for
the same reason: they name no upload.
"""

import re
import secrets
from typing import Any

import schemathesis
from zumik_contracts.files import FILE_ID_PATTERN, MAX_ATTACHMENTS

KEY = "Idempotency-Key"


def _drops_a_parameter(case: Any) -> bool:
    """A coverage case that leaves a parameter out (e.g. `Authorization`) is sent as generated:
    rewriting its headers would put back what it left out."""
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    return "MISSING" in str(getattr(data, "scenario", "")).upper()


def _unknown_files(body: object) -> bool:
    """Schema-valid attachments: `file_...` ids that name no upload of this project (a documented
    400 `resource_missing`; uploads are tested by their own operations)."""
    if not isinstance(body, dict):
        return False
    files = body.get("attachments")
    return (
        isinstance(files, list)
        and 0 < len(files) <= MAX_ATTACHMENTS
        and all(isinstance(f, str) and re.fullmatch(FILE_ID_PATTERN, f) for f in files)
    )


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if _unknown_files(case.body):
        case.body = {k: v for k, v in case.body.items() if k != "attachments"}
    headers = case.headers
    if not headers or KEY not in headers or _drops_a_parameter(case):
        return
    key = headers[KEY]
    if isinstance(key, str) and 1 <= len(key) <= 255:
        # Still within the 255 characters allowed.
        case.headers = {**headers, KEY: f"{key[:238]}-{secrets.token_hex(8)}"}
