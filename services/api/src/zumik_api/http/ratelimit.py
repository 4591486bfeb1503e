"""The customer API's rate limits, told in the IETF httpapi draft's header fields.

    RateLimit-Policy: "requests";q=60;w=60, "writes";q=20;w=60
    RateLimit: "requests";r=41;t=37, "writes";r=19;t=60

`q` is the quota a window of `w` seconds holds, `r` what remains of it now, and `t` the seconds
until more is available. A refused request gets `429` with `Retry-After` too.
"""

from fastapi import Request

from zumik_api.http.errors import ApiError
from zumik_api.http.middleware import RESPONSE_HEADERS
from zumik_api.service.quotas import Admission

POLICY_HEADER = "RateLimit-Policy"
LIMIT_HEADER = "RateLimit"


def headers_of(admission: Admission) -> dict[str, str]:
    if not admission.quotas:
        return {}
    return {
        POLICY_HEADER: ", ".join(
            f'"{q.policy}";q={q.decision.limit};w={q.decision.window_seconds}'
            for q in admission.quotas
        ),
        LIMIT_HEADER: ", ".join(
            f'"{q.policy}";r={q.decision.remaining};t={q.decision.reset_seconds}'
            for q in admission.quotas
        ),
    }


def enforce(request: Request, admission: Admission) -> None:
    """Let the request through with its headers, or refuse it with 429."""
    headers = headers_of(admission)
    if not admission.allowed:
        refused = next(q for q in admission.quotas if not q.decision.allowed)
        raise ApiError(
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            f"Too many {refused.policy} for this project's plan: at most "
            f"{refused.decision.limit} a minute. Retry after {admission.retry_after} s.",
            headers={**headers, "Retry-After": str(admission.retry_after)},
        )
    request.scope.setdefault("state", {}).setdefault(RESPONSE_HEADERS, {}).update(headers)
