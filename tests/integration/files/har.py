"""Real HAR captures for the tests, built here: a browser's session against an API, with live
credentials in every place a HAR keeps them (headers, cookies, query strings, POST bodies as JSON
and as a form, a JWT in a response body, a Zumik key in a URL), and the ordinary content that
must survive the scrubbing."""

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(subject: str) -> str:
    """An HS256-shaped JWT (random signature) whose payload names `subject`."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": subject, "nonce": secrets.token_hex(8)}).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"


@dataclass
class Capture:
    """A HAR file's bytes, the secrets in it, and text that must still be there afterwards."""

    content: bytes
    secrets: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def capture(*, entries: int = 3, padding: int = 0) -> Capture:
    """A HAR of `entries` rounds of sign-in, API call and page load. `padding` adds that many
    bytes of ordinary response text per entry (to make large captures)."""
    found = Capture(b"")
    built = []
    for number in range(entries):
        built += _round(number, found, padding)
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [
                {
                    "startedDateTime": "2026-11-26T21:52:52.092Z",
                    "id": "page_1",
                    "title": "Zumik dashboard",
                    "pageTimings": {"onContentLoad": 412.5, "onLoad": 980.1},
                }
            ],
            "entries": built,
        }
    }
    found.content = json.dumps(har, indent=2).encode()
    found.kept += ["WebInspector", "Zumik dashboard", "page_1", "980.1"]
    return found


def _round(number: int, found: Capture, padding: int) -> list[dict[str, Any]]:
    bearer = jwt(f"user-{number}")
    session = f"sess-{secrets.token_hex(16)}"
    refresh = f"rt-{secrets.token_hex(16)}"
    password = f"hunter2-{secrets.token_hex(6)}"
    client_secret = f"cs-{secrets.token_hex(12)}"
    api_key = f"zsk_{secrets.token_urlsafe(24)}"
    access_token = jwt(f"access-{number}")
    id_token = jwt(f"id-{number}")
    oauth_code = f"code-{secrets.token_hex(10)}"
    proxy = f"Basic {base64.b64encode(f'proxy:{secrets.token_hex(6)}'.encode()).decode()}"
    csrf = f"csrf-{secrets.token_hex(10)}"
    page_jwt = jwt(f"page-{number}")
    page_key = f"zsk_{secrets.token_urlsafe(24)}"
    found.secrets += [
        bearer, session, refresh, password, client_secret, api_key, access_token, id_token,
        oauth_code, proxy.split()[1], csrf, page_jwt, page_key,
    ]  # fmt: skip
    user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    model = f"zumik-large-{number}"
    found.kept += [user_agent, model, f"Request {number} body text", "https://app.zumik.example"]
    timings = {"blocked": 1.2, "dns": -1, "connect": -1, "send": 0.1, "wait": 88.4, "receive": 3}
    sign_in = {
        "pageref": "page_1",
        "startedDateTime": "2026-11-26T21:52:52.100Z",
        "time": 92.7,
        "request": {
            "method": "POST",
            "url": f"https://auth.zumik.example/oauth/token?code={oauth_code}&lang=en",
            "httpVersion": "HTTP/2",
            "headers": [
                {"name": "Content-Type", "value": "application/x-www-form-urlencoded"},
                {"name": "User-Agent", "value": user_agent},
                {"name": "Proxy-Authorization", "value": proxy},
                {"name": "X-CSRF-Token", "value": csrf},
            ],
            "queryString": [{"name": "code", "value": oauth_code}, {"name": "lang", "value": "en"}],
            "cookies": [{"name": "refresh", "value": refresh, "httpOnly": True}],
            "headersSize": -1,
            "bodySize": 120,
            "postData": {
                "mimeType": "application/x-www-form-urlencoded",
                "text": f"grant_type=password&username=dev&password={password}"
                f"&client_secret={client_secret}",
                "params": [
                    {"name": "grant_type", "value": "password"},
                    {"name": "username", "value": "dev"},
                    {"name": "password", "value": password},
                    {"name": "client_secret", "value": client_secret},
                ],
            },
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/2",
            "headers": [
                {"name": "Content-Type", "value": "application/json"},
                {"name": "Set-Cookie", "value": f"session={session}; Path=/; HttpOnly; Secure"},
            ],
            "cookies": [{"name": "session", "value": session, "path": "/", "httpOnly": True}],
            "content": {
                "size": 200,
                "mimeType": "application/json",
                "text": json.dumps(
                    {
                        "access_token": access_token,
                        "id_token": id_token,
                        "token_type": "Bearer",
                        "expires_in": 3600,
                        "scope": "openid profile",
                    }
                ),
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 200,
        },
        "cache": {},
        "timings": timings,
    }
    api_call = {
        "pageref": "page_1",
        "startedDateTime": "2026-11-26T21:52:53.000Z",
        "time": 310.0,
        "request": {
            "method": "POST",
            "url": f"https://api.zumik.example/v1/chat/completions?api_key={api_key}&stream=true",
            "httpVersion": "HTTP/2",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {bearer}"},
                {"name": "Cookie", "value": f"session={session}; theme=dark"},
                {"name": "X-Api-Key", "value": api_key},
                {"name": "Accept", "value": "text/event-stream"},
                {"name": "Referer", "value": "https://app.zumik.example/playground"},
            ],
            "queryString": [
                {"name": "api_key", "value": api_key},
                {"name": "stream", "value": "true"},
            ],
            "cookies": [
                {"name": "session", "value": session},
                {"name": "theme", "value": "dark"},
            ],
            "headersSize": -1,
            "bodySize": 90,
            "postData": {
                "mimeType": "application/json",
                "text": json.dumps(
                    {
                        "model": model,
                        "messages": [{"role": "user", "content": f"Request {number} body text"}],
                        "refresh_token": refresh,
                    }
                ),
            },
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/2",
            "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
            "cookies": [],
            "content": {
                "size": 40 + padding,
                "mimeType": "text/event-stream",
                "text": 'data: {"choices": [{"delta": {"content": "Hello"}}]}\n\n' + "x" * padding,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 40 + padding,
        },
        "cache": {},
        "timings": timings,
    }
    page = {
        "pageref": "page_1",
        "startedDateTime": "2026-11-26T21:52:54.000Z",
        "time": 50.0,
        "request": {
            "method": "GET",
            "url": "https://app.zumik.example/settings",
            "httpVersion": "HTTP/2",
            "headers": [{"name": "Accept", "value": "text/html"}],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/2",
            "headers": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
            "cookies": [],
            "content": {
                "size": 120,
                "mimeType": "text/html",
                "text": "<html><body><h1>Settings</h1>"
                f"<script>window.__BOOT__ = {{token: '{page_jwt}'}};</script>"
                f"<p>Your project key: <code>{page_key}</code></p></body></html>",
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": 120,
        },
        "cache": {},
        "timings": timings,
    }
    found.kept += ["<h1>Settings</h1>", "theme", "grant_type"]
    return [sign_in, api_call, page]
