"""The console: its sessions (`/v2/console/...`) and its static files (`/console/`).

Signing in exchanges a credential for an HttpOnly, SameSite=Strict session cookie; the page
keeps only the CSRF token, in memory. The built front end (`services/console/dist`) is served
with a strict Content-Security-Policy: no inline script or style, nothing from other origins.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.config import JsonDict
from zumik_contracts.console import CSRF_HEADER, SESSION_COOKIE, ConsoleSession

from zumik_api.http.deps import (
    ClientDep,
    ConsoleDep,
    csrf_refused,
    session_missing,
    unauthorized,
)
from zumik_api.http.errors import COMMON_ERRORS, ApiError, described
from zumik_api.http.schemas import Email
from zumik_api.service.console import SignedIn, SignInRefused

router = APIRouter(prefix="/v2/console", tags=["console"])

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

Secret = Annotated[str, StringConstraints(min_length=1, max_length=200)]


_CREDENTIALS = ("api_key", "staff_token", "link_token")


def _only(credential: str, *also: str) -> JsonDict:
    """The schema of a sign-in with `credential` (and `also`), and no other credential."""
    return {
        "required": [credential, *also],
        "properties": {
            name: {"type": "string" if name in (credential, *also) else "null"}
            for name in (*_CREDENTIALS, *also)
        },
    }


class SignIn(BaseModel):
    """One of: an API key with the signing-in person's email, a staff token, or a sign-in
    link's token."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [_only("api_key", "email"), _only("staff_token"), _only("link_token")]
        },
    )

    api_key: Secret | None = None
    email: Email | None = None
    staff_token: Secret | None = None
    link_token: Secret | None = None


SIGN_IN_ERRORS = {
    **COMMON_ERRORS,
    429: described("Too many failed sign-ins from this address; see `Retry-After`."),
}


@router.post(
    "/sessions",
    status_code=201,
    response_model=ConsoleSession,
    responses=SIGN_IN_ERRORS,
    summary="Sign in to the console",
    operation_id="createConsoleSession",
    description="Exchanges a credential for a session cookie (`zumik_session`: HttpOnly, "
    "SameSite=Strict). The browser never keeps the credential.",
)
async def sign_in(
    payload: SignIn, request: Request, response: Response, console: ConsoleDep, client: ClientDep
) -> ConsoleSession:
    given = [v for v in (payload.api_key, payload.staff_token, payload.link_token) if v]
    if len(given) != 1:
        raise ApiError(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "Send exactly one of api_key (with email), staff_token or link_token.",
            None,
        )
    client.check_not_throttled()
    try:
        if payload.api_key is not None:
            if payload.email is None:
                raise ApiError(
                    400,
                    "invalid_request_error",
                    "parameter_missing",
                    "Missing required parameter: email.",
                    "email",
                )
            signed_in = await console.with_api_key(payload.api_key, str(payload.email))
        elif payload.staff_token is not None:
            signed_in = await console.with_staff_token(payload.staff_token)
        else:
            signed_in = await console.with_link(payload.link_token or "")
    except SignInRefused as refused:
        client.failed()
        raise unauthorized(refused.code, refused.message) from None
    _set_cookie(request, response, signed_in)
    return signed_in.session


@router.get(
    "/session",
    response_model=ConsoleSession,
    responses=COMMON_ERRORS,
    summary="The signed-in session",
    operation_id="getConsoleSession",
)
async def current_session(
    console: ConsoleDep, token: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> ConsoleSession:
    record = None if token is None else await console.session(token)
    if record is None:
        raise session_missing(token)
    return await console.describe(record)


@router.delete(
    "/session",
    status_code=204,
    responses={**COMMON_ERRORS, 403: described("The CSRF token is missing or wrong.")},
    summary="Sign out: ends the session on the server",
    operation_id="deleteConsoleSession",
)
async def sign_out(
    request: Request,
    console: ConsoleDep,
    token: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    if token is not None:
        record = await console.session(token)
        if record is not None and not record.csrf_matches(request.headers.get(CSRF_HEADER)):
            raise csrf_refused()
        await console.sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _set_cookie(request: Request, response: Response, signed_in: SignedIn) -> None:
    max_age = int((signed_in.session.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=max(max_age, 0),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


# --------------------------------------------------------------------------- static files


def static_router(dist: Path) -> APIRouter:
    """`/console/`: the built front end. Routing is in the URL hash, so only `index.html`, its
    assets and the icon are served; a console that was not built says how to build it."""
    static = APIRouter(include_in_schema=False)
    index = dist / "index.html"
    assets = dist / "assets"

    @static.get("/console")
    async def console_root() -> Response:
        return RedirectResponse("/console/", status_code=308)

    @static.get("/console/")
    @static.get("/console/index.html")
    async def console_index() -> Response:
        if not index.is_file():
            return PlainTextResponse(
                "The console is not built. Run `make up` (or `cd services/console && npm ci && "
                "npm run build`).",
                status_code=503,
                headers=SECURITY_HEADERS,
            )
        return FileResponse(index, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    @static.get("/console/{name}")
    async def console_file(name: str) -> Response:
        return _file(dist, name, "no-cache")

    @static.get("/console/assets/{name}")
    async def console_asset(name: str) -> Response:
        # Hashed names: a new build makes new names, so an asset never changes.
        return _file(assets, name, "public, max-age=31536000, immutable")

    return static


def _file(folder: Path, name: str, cache_control: str) -> Response:
    path = (folder / name).resolve()
    if not name or "/" in name or path.parent != folder.resolve() or not path.is_file():
        return PlainTextResponse("Not found.", status_code=404, headers=SECURITY_HEADERS)
    return FileResponse(path, headers={**SECURITY_HEADERS, "Cache-Control": cache_control})
