"""Which names are secret, how redactions are counted, and which scrubber an upload gets."""

import pytest
from zumik_files.scrub import (
    IJSON_BACKEND,
    HarScrubber,
    Redactions,
    TextScrubber,
    is_secret_header,
    is_secret_json_key,
    is_secret_param,
    new_scrubber,
)
from zumik_files.sniff import GIF, HAR, JSON, PDF, TEXT, ZIP


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-Api-Key",
        "Api-Key",
        "X-Auth-Token",
        "X-CSRF-Token",
        "X-XSRF-TOKEN",
        "X-Amz-Security-Token",
        "x-goog-api-key",
        "X-Session-Id",
        "X-Hub-Signature-256",
        "X-Client-Secret",
        "X-Password",
        "X-Passwd",
        "X-Credential",
        "authorization",
        " AUTHORIZATION ",
    ],
)
def test_secret_headers(name: str) -> None:
    assert is_secret_header(name)


@pytest.mark.parametrize(
    "name",
    [
        "Content-Type",
        "Accept-Encoding",
        "Accept",
        "Content-Length",
        "Keep-Alive",
        "User-Agent",
        "Referer",
        "Location",
        "X-Request-Id",
        "Date",
        "ETag",
        ":authority",
        ":path",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Access-Control-Allow-Credentials",
        "Access-Control-Allow-Headers",
    ],
)
def test_public_headers(name: str) -> None:
    assert not is_secret_header(name)


@pytest.mark.parametrize(
    "name",
    [
        "code",
        "state",
        "key",
        "access_token",
        "accessToken",
        "id_token",
        "refresh-token",
        "client_secret",
        "password",
        "new_password",
        "passwd",
        "pwd",
        "sessionid",
        "PHPSESSID",
        "JSESSIONID",
        "api_key",
        "apiKey",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Goog-Signature",
        "sig",
        "authorization",
        "oauth_verifier",
        "auth",
        "SAMLResponse",
        "jwt",
        "otp",
        "assertion",
        "csrfmiddlewaretoken",
        "private_key",
    ],
)
def test_secret_params(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize(
    "name",
    ["page", "q", "lang", "author", "authority", "redirect_uri", "client_id", "sort", "ticket"],
)
def test_public_params(name: str) -> None:
    assert not is_secret_param(name)


def test_json_keys_follow_the_parameter_rule_but_for_code_state_and_key() -> None:
    for name in ("password", "access_token", "refreshToken", "client_secret", "sig", "otp"):
        assert is_secret_json_key(name)
    for name in ("code", "state", "key", "author", "id", "email", "title", "status"):
        assert not is_secret_json_key(name)


def test_redactions_count_by_kind_and_never_hold_values() -> None:
    redactions = Redactions()
    assert redactions.total == 0
    assert redactions.as_dict() == {}
    redactions.add("headers")
    redactions.add("headers")
    redactions.add("jwts", 3)
    assert redactions.as_dict() == {"headers": 2, "jwts": 3}
    assert redactions.total == 5
    assert redactions["cookies"] == 0
    assert dict(redactions) == {
        "headers": 2,
        "cookies": 0,
        "query_params": 0,
        "body_fields": 0,
        "jwts": 3,
        "api_keys": 0,
    }
    other = Redactions()
    other.add("api_keys")
    redactions.merge(other)
    assert redactions.as_dict() == {"headers": 2, "jwts": 3, "api_keys": 1}
    with pytest.raises(KeyError):
        redactions.add("passwords")


def test_each_kind_gets_its_scrubber() -> None:
    assert isinstance(new_scrubber(HAR), HarScrubber)
    assert isinstance(new_scrubber(JSON), TextScrubber)
    assert isinstance(new_scrubber(TEXT), TextScrubber)
    for stored_as_is in (GIF, PDF, ZIP):
        assert new_scrubber(stored_as_is) is None


def test_the_c_backend_of_ijson_is_in_use() -> None:
    """The pure-Python backend parses about 10 times slower: uploads would crawl."""
    assert IJSON_BACKEND == "yajl2_c"
