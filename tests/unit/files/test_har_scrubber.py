"""The HAR scrubber on real HAR files built here: every secret gone, everything else intact,
whatever the chunking; broken HARs rejected without echoing their content."""

import base64
import json
import random
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zumik_files import scrub
from zumik_files.scrub import REDACTED, HarScrubber, InvalidHar

_rng = random.Random(14)


def _token(label: str) -> str:
    """A secret value that appears nowhere else, so finding it in the output is a leak."""
    return f"{label}{_rng.getrandbits(64):016x}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(subject: str, signature: bytes | None = None) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": subject, "iat": 1700000000}).encode())
    return f"{header}.{payload}.{_b64url(signature or _rng.randbytes(32))}"


def make_key(prefix: str) -> str:
    return prefix + _b64url(_rng.randbytes(32))


# Every secret planted in the HAR below.
S = {
    name: _token(name)
    for name in [
        "authz",
        "cookiehdr",
        "setcookie",
        "apikey",
        "csrf",
        "amz",
        "authtoken",
        "proxyauth",
        "reqcookie",
        "respcookie",
        "code",
        "state",
        "accesstoken",
        "idtoken",
        "password",
        "clientsecret",
        "refresh",
        "formcode",
        "formsecret",
        "parampw",
        "b64token",
        "locationcode",
        "redirectcode",
        "wstoken",
        "multipartpw",
        "brokenpw",
        "sessionhdr",
    ]
}
S["jwt_body"] = make_jwt("body-user")
S["jwt_text"] = make_jwt("text-user")
S["jwt_comment"] = make_jwt("comment-user")
S["zsk_url"] = make_key("zsk_")
S["zsk_body"] = make_key("zsk_")
S["zst_header"] = make_key("zst_")
S["zsl_comment"] = make_key("zsl_")
S["zsk_binary"] = make_key("zsk_")

UNICODE = 'héllo 世界 😀 "quoted" back\\slash\ttab\nnewline \u2028 \x01'
BINARY = b"\x89PNG\r\n\x1a\n\x00\x01" + S["zsk_binary"].encode() + b"\x00\xff\xfe" * 20


def _nv(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def build_har() -> dict[str, Any]:
    login_url = (
        "https://auth.example.com/callback?code={code}&state={state}&page=2"
        "&access_token={accesstoken}&lang=fr#id_token={idtoken}&view=full"
    ).format(**S)
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [
                {
                    "startedDateTime": "2024-05-01T10:00:00.000Z",
                    "id": "page_1",
                    "title": "Zumik — tableau de bord",
                    "pageTimings": {"onContentLoad": 120.5, "onLoad": -1},
                }
            ],
            "entries": [
                {
                    "pageref": "page_1",
                    "startedDateTime": "2024-05-01T10:00:01.000Z",
                    "time": 1.0,
                    "request": {
                        "method": "GET",
                        "url": login_url,
                        "httpVersion": "HTTP/2",
                        "headers": [
                            _nv(":authority", "auth.example.com"),
                            _nv("Authorization", f"Bearer {S['authz']}"),
                            _nv("Cookie", f"sid={S['cookiehdr']}; theme=dark"),
                            _nv("X-Api-Key", S["apikey"]),
                            _nv("x-csrf-token", S["csrf"]),
                            _nv("X-Amz-Security-Token", S["amz"]),
                            {"value": S["authtoken"], "name": "X-Auth-Token"},
                            {
                                "comment": "value first",
                                "value": S["proxyauth"],
                                "name": "Proxy-Authorization",
                            },
                            _nv("X-Session-Id", S["sessionhdr"]),
                            _nv("X-Debug", f"staff {S['zst_header']}"),
                            _nv("Accept-Encoding", "gzip, deflate, br"),
                            _nv("Content-Type", "application/json; charset=utf-8"),
                            _nv("User-Agent", UNICODE),
                            _nv("Referer", "https://app.example.com/tickets?tab=open&sort=new"),
                        ],
                        "cookies": [
                            {"name": "sid", "value": S["reqcookie"], "httpOnly": True},
                            {"name": "empty", "value": ""},
                        ],
                        "queryString": [
                            _nv("code", S["code"]),
                            _nv("state", S["state"]),
                            _nv("page", "2"),
                            _nv("access_token", S["accesstoken"]),
                            _nv("lang", "fr"),
                        ],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 302,
                        "statusText": "Found",
                        "httpVersion": "HTTP/2",
                        "headers": [
                            _nv("Set-Cookie", f"sid={S['setcookie']}; HttpOnly; Secure"),
                            _nv(
                                "Location",
                                f"https://app.example.com/done?code={S['locationcode']}&ok=1",
                            ),
                            _nv("Content-Length", "0"),
                        ],
                        "cookies": [{"name": "sid", "value": S["respcookie"], "secure": True}],
                        "content": {"size": 0, "mimeType": "text/html", "text": ""},
                        "redirectURL": f"https://app.example.com/done?code={S['redirectcode']}",
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "cache": {},
                    "timings": {"send": 1.0, "wait": "#1e400", "receive": "#-0", "ssl": -0.0},
                    "comment": f"pasted {S['jwt_comment']} and {S['zsl_comment']} here",
                },
                {
                    "startedDateTime": "2024-05-01T10:00:02.000Z",
                    "time": 12345678901234567890,
                    "request": {
                        "method": "POST",
                        "url": f"https://api.zumik.example/v2/support/tickets?key2={S['zsk_url']}",
                        "httpVersion": "HTTP/1.1",
                        "headers": [_nv("Content-Type", "application/json")],
                        "cookies": [],
                        "queryString": [_nv("key2", S["zsk_url"])],
                        "postData": {
                            "mimeType": "application/json",
                            "text": json.dumps(
                                {
                                    "username": "ana",
                                    "password": S["password"],
                                    "nested": {"deep": [{"client_secret": S["clientsecret"]}]},
                                    "refresh_token": {"value": S["refresh"], "n": 1},
                                    "message": f"my key is {S['zsk_body']}",
                                    "amount": 1.0,
                                    "error": {"code": "E_LIMIT", "state": "open"},
                                    "remember": True,
                                    "token": None,
                                }
                            ),
                        },
                        "headersSize": -1,
                        "bodySize": 200,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "content": {
                            "size": 100,
                            "mimeType": "application/json",
                            "text": json.dumps(
                                {"data": {"id": "tkt_1", "attachment": S["jwt_body"]}}
                            ),
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 100,
                    },
                    "cache": {},
                    "timings": {"send": "#1.5e-7", "wait": "#100e-2", "receive": 0},
                },
                {
                    "startedDateTime": "2024-05-01T10:00:03.000Z",
                    "time": 3,
                    "request": {
                        "method": "POST",
                        "url": "https://auth.example.com/oauth/token",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "queryString": [],
                        "postData": {
                            "mimeType": "application/x-www-form-urlencoded",
                            "params": [
                                _nv("grant_type", "authorization_code"),
                                _nv("password", S["parampw"]),
                            ],
                            "text": (
                                f"grant_type=authorization_code&code={S['formcode']}"
                                f"&client_secret={S['formsecret']}&redirect_uri=https%3A%2F%2Fx"
                            ),
                        },
                        "headersSize": -1,
                        "bodySize": 90,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "content": {
                            "size": 50,
                            "text": base64.b64encode(
                                json.dumps({"access_token": S["b64token"], "n": 1}).encode()
                            ).decode(),
                            "mimeType": "application/json",
                            "encoding": "base64",
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 50,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 2, "receive": 0},
                },
                {
                    "startedDateTime": "2024-05-01T10:00:04.000Z",
                    "time": 4,
                    "request": {
                        "method": "POST",
                        "url": "https://app.example.com/upload",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "queryString": [],
                        "postData": {
                            "mimeType": "multipart/form-data; boundary=XyZ",
                            "text": (
                                '--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
                                "Broken login\r\n--XyZ\r\nContent-Disposition: form-data; "
                                f'name="password"\r\n\r\n{S["multipartpw"]}\r\n--XyZ--\r\n'
                            ),
                        },
                        "headersSize": -1,
                        "bodySize": 120,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "content": {
                            "size": len(BINARY),
                            "mimeType": "image/png",
                            "text": base64.b64encode(BINARY).decode(),
                            "encoding": "base64",
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": len(BINARY),
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 2, "receive": 0},
                    "_webSocketMessages": [
                        {
                            "type": "send",
                            "time": 1.5,
                            "opcode": 1,
                            "data": json.dumps({"auth_token": S["wstoken"]}),
                        }
                    ],
                },
                {
                    "startedDateTime": "2024-05-01T10:00:05.000Z",
                    "time": 5,
                    "request": {
                        "method": "GET",
                        "url": "https://app.example.com/plain",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "content": {
                            "size": 10,
                            "mimeType": "text/plain",
                            "text": f"log line: token={S['jwt_text']}\nanother: {UNICODE}",
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 10,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 2, "receive": 0},
                },
                {
                    "startedDateTime": "2024-05-01T10:00:06.000Z",
                    "time": 6,
                    "request": {
                        "method": "GET",
                        "url": "https://app.example.com/truncated",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [],
                        "cookies": [],
                        "content": {
                            "size": 10,
                            "mimeType": "application/json",
                            "text": (
                                f'{{"user": "ana", "password": "{S["brokenpw"]}", "items": [1, 2'
                            ),
                        },
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 10,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 2, "receive": 0},
                },
            ],
        }
    }


def har_bytes(har: dict[str, Any], *, ensure_ascii: bool = False, indent: int | None = 2) -> bytes:
    """The HAR as a browser saves it; a string `"#1e400"` becomes the number as written (`json`
    would not write `1e400`, `-0` or `100e-2`)."""
    text = json.dumps(har, ensure_ascii=ensure_ascii, indent=indent)
    return re.sub(r'"#([-+.\deE]+)"', r"\1", text).encode()


def scrub_in_chunks(data: bytes, size: int) -> tuple[bytes, HarScrubber]:
    scrubber = HarScrubber()
    out = [scrubber.feed(data[start : start + size]) for start in range(0, len(data), size)]
    out.append(scrubber.close())
    return b"".join(out), scrubber


def parse(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


def leaked(output: bytes) -> list[str]:
    """The planted secrets found in the output, also inside base64 bodies."""
    haystacks = [output.decode()]
    for entry in parse(output)["log"]["entries"]:
        content = entry["response"]["content"]
        if content.get("encoding") == "base64":
            haystacks.append(base64.b64decode(content["text"]).decode("latin-1"))
    return [name for name, value in S.items() if any(value in hay for hay in haystacks)]


def differing_paths(before: Any, after: Any, path: str = "") -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        assert before.keys() == after.keys(), path
        for key in before:
            yield from differing_paths(before[key], after[key], f"{path}.{key}")
    elif isinstance(before, list) and isinstance(after, list):
        assert len(before) == len(after), path
        for index, (one, other) in enumerate(zip(before, after, strict=True)):
            yield from differing_paths(one, other, f"{path}[{index}]")
    elif before != after or type(before) is not type(after):
        yield path


HAR = build_har()
HAR_BYTES = har_bytes(HAR)
EXPECTED_CHANGES = {
    ".log.entries[0].request.url",
    *(f".log.entries[0].request.headers[{i}].value" for i in range(1, 10)),
    ".log.entries[0].request.cookies[0].value",
    *(f".log.entries[0].request.queryString[{i}].value" for i in (0, 1, 3)),
    ".log.entries[0].response.headers[0].value",
    ".log.entries[0].response.headers[1].value",
    ".log.entries[0].response.cookies[0].value",
    ".log.entries[0].response.redirectURL",
    ".log.entries[0].comment",
    ".log.entries[1].request.url",
    ".log.entries[1].request.queryString[0].value",
    ".log.entries[1].request.postData.text",
    ".log.entries[1].response.content.text",
    ".log.entries[2].request.postData.params[1].value",
    ".log.entries[2].request.postData.text",
    ".log.entries[2].response.content.text",
    ".log.entries[3].request.postData.text",
    ".log.entries[3].response.content.text",
    ".log.entries[3]._webSocketMessages[0].data",
    ".log.entries[4].response.content.text",
    ".log.entries[5].response.content.text",
}


@pytest.fixture(scope="module")
def scrubbed() -> tuple[bytes, HarScrubber]:
    return scrub_in_chunks(HAR_BYTES, 4096)


def test_every_secret_is_gone(scrubbed: tuple[bytes, HarScrubber]) -> None:
    output, _ = scrubbed
    assert leaked(output) == []
    in_clear = [value for name, value in S.items() if name not in ("zsk_binary", "b64token")]
    assert all(value.encode() in HAR_BYTES for value in in_clear)  # so the test means something


def test_only_the_secrets_changed(scrubbed: tuple[bytes, HarScrubber]) -> None:
    output, _ = scrubbed
    before, after = parse(HAR_BYTES), parse(output)
    assert set(differing_paths(before, after)) == EXPECTED_CHANGES
    assert after["log"]["pages"] == before["log"]["pages"]
    assert after["log"]["creator"] == before["log"]["creator"]


def test_names_are_kept_and_values_masked(scrubbed: tuple[bytes, HarScrubber]) -> None:
    entries = parse(scrubbed[0])["log"]["entries"]
    request = entries[0]["request"]
    headers = {header["name"]: header["value"] for header in request["headers"]}
    assert headers["Authorization"] == REDACTED
    assert headers["Cookie"] == REDACTED
    assert headers["X-Auth-Token"] == REDACTED
    assert headers["Proxy-Authorization"] == REDACTED
    assert headers["X-Debug"] == f"staff {REDACTED}"
    assert headers[":authority"] == "auth.example.com"
    assert headers["Accept-Encoding"] == "gzip, deflate, br"
    assert headers["User-Agent"] == UNICODE
    assert request["headers"][7] == {
        "comment": "value first",
        "value": REDACTED,
        "name": "Proxy-Authorization",
    }
    assert request["queryString"][2] == {"name": "page", "value": "2"}
    assert request["cookies"][1] == {"name": "empty", "value": ""}
    assert request["url"] == (
        "https://auth.example.com/callback?code=[REDACTED]&state=[REDACTED]&page=2"
        "&access_token=[REDACTED]&lang=fr#id_token=[REDACTED]&view=full"
    )
    response = entries[0]["response"]
    assert response["headers"][1]["value"] == "https://app.example.com/done?code=[REDACTED]&ok=1"
    assert response["redirectURL"] == "https://app.example.com/done?code=[REDACTED]"


def test_bodies_are_masked_by_their_content(scrubbed: tuple[bytes, HarScrubber]) -> None:
    entries = parse(scrubbed[0])["log"]["entries"]
    body = json.loads(entries[1]["request"]["postData"]["text"], parse_float=Decimal)
    assert body == {
        "username": "ana",
        "password": REDACTED,
        "nested": {"deep": [{"client_secret": REDACTED}]},
        "refresh_token": REDACTED,
        "message": f"my key is {REDACTED}",
        "amount": Decimal("1.0"),
        "error": {"code": "E_LIMIT", "state": "open"},
        "remember": True,
        "token": None,
    }
    assert json.loads(entries[1]["response"]["content"]["text"]) == {
        "data": {"id": "tkt_1", "attachment": REDACTED}
    }
    assert entries[2]["request"]["postData"]["text"] == (
        "grant_type=authorization_code&code=[REDACTED]&client_secret=[REDACTED]"
        "&redirect_uri=https%3A%2F%2Fx"
    )
    assert entries[2]["request"]["postData"]["params"] == [
        {"name": "grant_type", "value": "authorization_code"},
        {"name": "password", "value": REDACTED},
    ]
    assert "Broken login" in entries[3]["request"]["postData"]["text"]
    assert json.loads(entries[3]["_webSocketMessages"][0]["data"]) == {"auth_token": REDACTED}
    assert entries[4]["response"]["content"]["text"].startswith(f"log line: token={REDACTED}\n")
    assert entries[5]["response"]["content"]["text"] == (
        f'{{"user": "ana", "password": "{REDACTED}", "items": [1, 2'
    )


def test_base64_bodies_are_decoded_scrubbed_and_reencoded(
    scrubbed: tuple[bytes, HarScrubber],
) -> None:
    entries = parse(scrubbed[0])["log"]["entries"]
    text_body = entries[2]["response"]["content"]
    assert text_body["encoding"] == "base64"
    assert json.loads(base64.b64decode(text_body["text"])) == {"access_token": REDACTED, "n": 1}
    binary = base64.b64decode(entries[3]["response"]["content"]["text"])
    assert len(binary) == len(BINARY)  # masked in place: the format's own lengths stay right
    assert binary == BINARY.replace(
        S["zsk_binary"].encode(),
        REDACTED.encode() + b"*" * (len(S["zsk_binary"]) - len(REDACTED)),
    )


def test_numbers_keep_their_exact_values(scrubbed: tuple[bytes, HarScrubber]) -> None:
    output = scrubbed[0]
    entries = parse(output)["log"]["entries"]
    assert entries[0]["timings"] == {
        "send": Decimal("1.0"),
        "wait": Decimal("1e400"),
        "receive": 0,
        "ssl": Decimal("-0.0"),
    }
    assert entries[1]["time"] == 12345678901234567890
    assert entries[1]["timings"]["send"] == Decimal("1.5e-7")
    assert b'"send":1.0,' in output
    assert b'"wait":1E+400' in output
    assert b'"ssl":-0.0' in output
    assert b'"time":12345678901234567890' in output
    assert b'"wait":1.00' in output  # `100e-2` as Decimal writes it: the same value


def test_redactions_are_counted_by_kind(scrubbed: tuple[bytes, HarScrubber]) -> None:
    redactions = scrubbed[1].redactions
    assert redactions.as_dict() == {
        # Authorization, Cookie, X-Api-Key, x-csrf-token, X-Amz-Security-Token, X-Auth-Token,
        # Proxy-Authorization, X-Session-Id; Set-Cookie
        "headers": 9,
        "cookies": 2,
        # the URL's code, state, access_token, id_token; queryString's code, state, access_token;
        # Location's and redirectURL's code
        "query_params": 9,
        # JSON: password, client_secret, refresh_token; form text: code, client_secret; params:
        # password; base64 JSON: access_token; multipart: password; websocket: auth_token;
        # broken JSON: password
        "body_fields": 10,
        "jwts": 3,
        # zsk_ in the URL and its queryString, in a body and in binary; zst_; zsl_
        "api_keys": 6,
    }
    assert redactions.total == 39
    assert redactions["jwts"] == 3


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 1000, 16 * 1024 + 1, len(HAR_BYTES)])
def test_any_chunking_gives_the_same_output(scrubbed: tuple[bytes, HarScrubber], size: int) -> None:
    output, scrubber = scrub_in_chunks(HAR_BYTES, size)
    assert output == scrubbed[0]
    assert scrubber.redactions.as_dict() == scrubbed[1].redactions.as_dict()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(har_bytes(HAR, ensure_ascii=True), id="escaped"),
        pytest.param(har_bytes(HAR, indent=None), id="compact"),
        pytest.param(b"\xef\xbb\xbf" + HAR_BYTES, id="bom"),
    ],
)
def test_escapes_compact_json_and_a_byte_order_mark(
    scrubbed: tuple[bytes, HarScrubber], data: bytes
) -> None:
    for size in (1, 3, 777):
        output, _ = scrub_in_chunks(data, size)
        assert output == scrubbed[0]


@pytest.mark.parametrize(
    "body",
    [
        '{"a": "b", ":password": "SECRET-1"}',  # a key after a value, starting with a colon
        '{"a": "x\\"y", "pass_word": "SECRET-1"}',
        '[{"nested": [{"deeper": {"Api-Key": "SECRET-1"}}]}]',
        '{"user": 1}\n{"refreshToken": "SECRET-1"}\n',  # JSON lines
        '{"cut": "short", "client_secret": "SECRET-1", "more": [1, 2, {"x": "y',
        '{"\\u0070assword": "SECRET-1"}',  # an escaped key
    ],
)
def test_secret_keys_are_found_in_any_json_body(body: str) -> None:
    har = {"log": {"entries": [{"request": {"postData": {"text": body}}}]}}
    output, scrubber = scrub_in_chunks(har_bytes(har), 13)
    assert b"SECRET-1" not in output
    assert scrubber.redactions.as_dict() == {"body_fields": 1}


def test_passwords_in_urls_are_masked() -> None:
    secret = _token("urlpw")
    har = {
        "log": {
            "entries": [
                {
                    "request": {
                        "url": f"https://ana:{secret}@example.com/x?page=1",
                        "postData": {"text": json.dumps({"proxy": f"http://u:{secret}@p:8080"})},
                    }
                }
            ],
            "comment": f"see ftp://bob:{secret}@files.example/ and mail ana@example.com",
        }
    }
    output, scrubber = scrub_in_chunks(har_bytes(har), 50)
    assert secret.encode() not in output
    parsed = parse(output)["log"]
    assert parsed["entries"][0]["request"]["url"] == "https://ana:[REDACTED]@example.com/x?page=1"
    assert parsed["comment"] == "see ftp://bob:[REDACTED]@files.example/ and mail ana@example.com"
    assert scrubber.redactions.as_dict() == {"query_params": 3}


def test_output_is_utf8_json_even_with_lone_surrogates() -> None:
    data = b'{"log": {"entries": [], "comment": "a\\ud800b \\ud83d\\ude00"}}'
    output, _ = scrub_in_chunks(data, 1)
    assert json.loads(output)["log"]["comment"].endswith(" \U0001f600")


def test_a_huge_body_in_one_string_passes() -> None:
    body = "x" * 3_000_000 + S["jwt_text"]
    har = {"log": {"entries": [{"response": {"content": {"text": body}}}]}}
    output, _ = scrub_in_chunks(har_bytes(har), 64 * 1024)
    assert S["jwt_text"].encode() not in output
    assert len(output) > 3_000_000


def test_a_long_token_is_given_to_the_parser_in_growing_slices() -> None:
    """yajl scans a token again from its start whenever input comes: fed in fixed 16 KiB
    slices, a 9 MB body of escaped JSON took 9 s; in slices that double, 0.7 s."""
    body = json.dumps([{"title": f'say "hi" {index}'} for index in range(100_000)])
    data = har_bytes({"log": {"entries": [{"response": {"content": {"text": body}}}]}})
    scrubber = HarScrubber()
    parser = scrubber._parser
    sends: list[int] = []

    class CountingParser:
        def send(self, piece: bytes) -> None:
            sends.append(len(piece))
            parser.send(piece)

        def close(self) -> None:
            parser.close()

    scrubber._parser = CountingParser()
    output = b"".join(scrubber.feed(data[i : i + 65536]) for i in range(0, len(data), 65536))
    output += scrubber.close()
    assert parse(output)["log"]["entries"][0]["response"]["content"]["text"] == body
    assert len(data) > 3_500_000
    assert len(sends) < 30
    assert max(sends) <= scrub._MAX_SLICE


# --- Invalid HARs ----------------------------------------------------------------------------

SMALL = b'{"log": {"version": "1.2", "entries": [{"request": {"headers": []}}]}}'


@pytest.mark.parametrize("cut", range(1, len(SMALL)))
def test_every_truncation_is_rejected(cut: int) -> None:
    with pytest.raises(InvalidHar):
        scrub_in_chunks(SMALL[:cut], len(SMALL))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"\xef\xbb", "not valid JSON"),
        (b"   ", "incomplete"),
        (b"not json", "not valid JSON"),
        (b"[]", "top level must be an object"),
        (b'"log"', "top level must be an object"),
        (b"{}", "no log.entries"),
        (b'{"log": {}}', "no log.entries"),
        (b'{"log": []}', "log must be an object"),
        (b'{"log": {"entries": {}}}', "log.entries must be an array"),
        (b'{"log": {"entries": null}}', "log.entries must be an array"),
        (b'{"log": {"entries": [1]}}', "Each of log.entries must be an object"),
        (b'{"log": {"entries": [{"request": {"headers": {}}}]}}', "headers"),
        (b'{"log": {"entries": [{"request": {"headers": ["x"]}}]}}', "Each header"),
        (b'{"log": {"entries": []}} {}', "not valid JSON"),
        (b'{"log": {"entries": [],}}', "not valid JSON"),
        (b'{"log": {"entries": [NaN]}}', "not valid JSON"),
        (b'{"log": {"entries": ["\xff"]}}', "not valid JSON"),
        (b'{"log": {"entries": [], "x": 1' + b"0" * 5000 + b"}}", "not valid JSON"),
    ],
)
def test_invalid_hars_are_rejected_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(InvalidHar, match=message):
        scrub_in_chunks(data, max(len(data), 1))


def test_a_structural_error_is_raised_from_feed_as_soon_as_it_is_known() -> None:
    scrubber = HarScrubber()
    with pytest.raises(InvalidHar, match="log must be an object"):
        scrubber.feed(b'{"log": [' + b'"x", ' * 1000)


def test_nesting_deeper_than_the_bound_is_rejected_from_feed() -> None:
    depth = scrub.MAX_DEPTH
    nested = b'{"log": {"entries": [], "x": ' + b"[" * depth
    with pytest.raises(InvalidHar, match="nests deeper"):
        HarScrubber().feed(nested)
    # Within the bound (the root object and `log` count), it passes.
    fits = b'{"log": {"entries": [], "x": ' + b"[" * (depth - 2) + b"]" * (depth - 2) + b"}}"
    assert parse(scrub_in_chunks(fits, 7)[0])["log"]["entries"] == []


def test_nesting_inside_a_masked_value_is_bounded_too() -> None:
    value = b"[" * scrub.MAX_DEPTH
    data = b'{"log": {"entries": [{"request": {"headers": [{"name": "Cookie", "value": ' + value
    with pytest.raises(InvalidHar, match="nests deeper"):
        HarScrubber().feed(data)


def test_a_value_larger_than_the_bound_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrub, "MAX_STRING_BYTES", 100_000)
    data = b'{"log": {"entries": [], "comment": "' + b"a" * 200_000
    with pytest.raises(InvalidHar, match="single value larger than") as rejected:
        scrub_in_chunks(data, 20_000)
    assert "premature" not in rejected.value.message  # from feed(), before the end


def test_errors_never_quote_the_input() -> None:
    secret = S["authz"]
    for data in (
        f'{{"log": {{"entries": [{{"x": "{secret}" oops'.encode(),
        f'{{"log": {{"entries": ["{secret}"]}}}}'.encode(),
        f'{{"log": {{"entries": [], "c": "{secret}\xff"}}}}'.encode("latin-1"),
    ):
        with pytest.raises(InvalidHar) as rejected:
            scrub_in_chunks(data, 10)
        assert secret not in str(rejected.value)
        assert secret not in rejected.value.message
        assert rejected.value.__cause__ is None


def test_a_failed_scrubber_keeps_failing() -> None:
    scrubber = HarScrubber()
    with pytest.raises(InvalidHar):
        scrubber.feed(b"[")
    with pytest.raises(InvalidHar):
        scrubber.feed(b"]")
    with pytest.raises(InvalidHar):
        scrubber.close()


def test_feeding_after_close_is_an_error() -> None:
    scrubber = HarScrubber()
    scrubber.feed(b'{"log": {"entries": []}}')
    scrubber.close()
    with pytest.raises(RuntimeError):
        scrubber.feed(b" ")


def test_a_name_value_object_too_big_to_hold_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scrub, "MAX_PENDING_BYTES", 1000)
    har = {
        "log": {
            "entries": [
                {
                    "request": {
                        "headers": [
                            {"value": "v" * 2000, "name": "Accept"},
                            {"value": "short", "name": "Accept"},
                        ]
                    }
                }
            ]
        }
    }
    output, scrubber = scrub_in_chunks(har_bytes(har), 100)
    headers = parse(output)["log"]["entries"][0]["request"]["headers"]
    assert headers == [{"value": REDACTED, "name": "Accept"}, {"value": "short", "name": "Accept"}]
    assert scrubber.redactions.as_dict() == {"headers": 1}


# --- Properties -------------------------------------------------------------------------------

_PLANTED = "PLANTED"
_SECRET_HEADERS = ["Authorization", "cookie", "X-API-KEY", "x-my-secret", "X-Session", "Signature"]
_PLAIN_HEADERS = ["Accept", "Content-Type", "X-Request-Id", "Host", "Accept-Encoding"]
_numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)


@st.composite
def planted_har(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A HAR with secrets planted (and recorded) where the rules say they must go."""
    planted: list[str] = []

    def secret() -> str:
        value = f"{_PLANTED}{len(planted)}Z{draw(st.integers(0, 10**6))}"
        planted.append(value)
        return value

    def pair(names: list[str], secret_value: bool) -> dict[str, str]:
        value = secret() if secret_value else draw(_text).replace(_PLANTED, "")
        items = [("name", draw(st.sampled_from(names))), ("value", value)]
        return dict(draw(st.permutations(items)))

    def free_text() -> str:
        kind = draw(st.sampled_from(["plain", "jwt", "zsk", "url"]))
        around = draw(_text).replace(_PLANTED, "")
        if kind == "jwt":
            token = make_jwt("user", draw(st.binary(min_size=1, max_size=40)))
            planted.append(token)
            return around + token + " " + around
        if kind == "zsk":
            return f"{around} zsk_{secret()}"
        if kind == "url":
            url = f"https://x.example/p?code={secret()}&a=1#state={secret()}"
            return draw(st.sampled_from([url, f"{around} see {url} {around}"]))
        return around

    entries = []
    for _ in range(draw(st.integers(0, 4))):
        headers = [
            pair(_SECRET_HEADERS, True) if draw(st.booleans()) else pair(_PLAIN_HEADERS, False)
            for _ in range(draw(st.integers(0, 5)))
        ]
        entries.append(
            {
                "request": {
                    "url": free_text(),
                    "headers": headers,
                    "cookies": [{"name": draw(_text), "value": secret()}],
                    "queryString": [pair(["token", "code", "api_key", "password"], True)],
                    "postData": {"text": json.dumps({"password": secret(), "x": free_text()})},
                },
                "response": {
                    "content": {"text": free_text(), "size": draw(_numbers)},
                },
                "comment": free_text(),
            }
        )
    har = {"log": {"version": "1.2", "entries": entries, "comment": free_text()}}
    ensure_ascii = draw(st.booleans())
    return json.dumps(har, ensure_ascii=ensure_ascii).encode(), planted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_har(), st.integers(1, 300))
def test_output_always_parses_and_never_holds_a_planted_secret(
    har: tuple[bytes, list[str]], size: int
) -> None:
    data, planted = har
    output, _ = scrub_in_chunks(data, size)
    parsed = json.loads(output)
    assert len(parsed["log"]["entries"]) == len(json.loads(data)["log"]["entries"])
    text = output.decode()
    assert [secret for secret in planted if secret in text] == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_arbitrary_bytes_are_scrubbed_or_rejected_never_crash(data: bytes, size: int) -> None:
    try:
        output, _ = scrub_in_chunks(data, size)
    except InvalidHar:
        return
    json.loads(output)
