"""Schemathesis hooks (`SCHEMATHESIS_HOOKS=tests.schemathesis.hooks`).

A valid `Idempotency-Key` is made unique per generated request: the API answers a key reused with
another body `400 idempotency_key_reused`, as documented, which is not what a fuzzer that sends
schema-valid keys at random means to test. Keys that break the schema are left as they are, so
the negative cases still reach the API.
"""

import secrets
from typing import Any

import schemathesis

KEY = "Idempotency-Key"


def _drops_a_parameter(case: Any) -> bool:
    """A coverage case that leaves a parameter out (e.g. `Authorization`) is sent as generated:
    rewriting its headers would put back what it left out."""
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    return "MISSING" in str(getattr(data, "scenario", "")).upper()


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    headers = case.headers
    if not headers or KEY not in headers or _drops_a_parameter(case):
        return
    key = headers[KEY]
    if isinstance(key, str) and 1 <= len(key) <= 255:
        # Still within the 255 characters allowed.
        case.headers = {**headers, KEY: f"{key[:238]}-{secrets.token_hex(8)}"}
