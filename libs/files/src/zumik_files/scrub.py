"""Scrubbers: secrets removed from an upload while it streams in, before anything is stored.

Every scrubber has the same interface (`Scrubber`): `feed(chunk)` returns the scrubbed bytes it
can already give, `close()` the rest; `redactions` counts what was removed, by kind, never the
values. `HarScrubber` raises `InvalidHar` from `feed()` or `close()` as soon as the upload is
known not to be a HAR it can scrub; the caller then discards whatever it stored.

Memory does not grow with the size of the upload. The HAR scrubber holds one 16 KiB slice of
input and its parser events, a stack of at most `MAX_DEPTH` frames, a name/value object whose
`name` comes after its `value` (at most `MAX_PENDING_BYTES`), and one string at a time: ijson
gives a string whole, so a large body (bounded by `MAX_STRING_BYTES`) is held whole, with its
scrubbed copy. The text scrubber holds at most `MAX_CARRY` bytes between chunks.

`HarScrubber` parses with ijson's push interface (`basic_parse_coro`; the C backend `yajl2_c`
when it is installed, see `IJSON_BACKEND`) and re-emits compact UTF-8 JSON. It replaces values
with the string `"[REDACTED]"` (empty strings and `null` are left as they are), keeping names
and keys:

- `log.entries[].request.headers[]` and `.response.headers[]`: the `value` of a header whose
  `name` `is_secret_header`, wholly (`Authorization: [REDACTED]`, `Cookie: [REDACTED]`);
- `request.cookies[]` and `response.cookies[]`: every `value`;
- `request.queryString[]`: the `value` of a parameter whose `name` `is_secret_param`;
- `request.postData.params[]`: the `value` of a field whose `name` `is_secret_param`;
- `request.postData.text`, `response.content.text` and Chrome's `_webSocketMessages[].data`,
  judged by their content, not by a declared MIME type (which may come after them, or lie):
  JSON (and JSON lines) gets the values of keys that `is_secret_json_key` masked at any depth,
  whatever their type (an object or array under such a key goes as a whole) except booleans
  and `null`, and is re-emitted compactly only if something was masked; JSON that does not
  parse (bodies are often cut short) gets the same rule on `"key": "string"` and `"key": number`
  pairs found by pattern; `application/x-www-form-urlencoded` text gets the fields that
  `is_secret_param` masked; `multipart/form-data` text gets the parts (not the files) that
  `is_secret_param` masked;
- a `response.content.text` with `"encoding": "base64"` is decoded: UTF-8 text is scrubbed like
  any body and re-encoded if something changed; binary content has JWTs and Zumik keys masked as
  bytes, in place and with the same length (`[REDACTED]****`), so that the format's own lengths
  and offsets stay right; the encoded text is scanned too, which only matters if it is not
  really base64 (base64 has neither `.` nor `_`);
- every string anywhere in the HAR (URLs, `redirectURL`, `Location` and `Referer` values,
  `:path`, `pages[].title`, comments, bodies) that is a URL (`scheme:` or `/`, no whitespace),
  and every absolute URL (`scheme://`) inside a string, has the query and fragment parameters
  whose name `is_secret_param` masked (`?code=[REDACTED]&page=2#access_token=[REDACTED]`), as
  well as the password of `scheme://user:password@`;
- every string and key anywhere in the HAR has JWTs and Zumik keys (`zsk_` project API keys,
  `zst_` staff tokens, `zsl_` sign-in links) replaced by `[REDACTED]`.

Everything else (`pages`, `creator`, timings, sizes, unknown `_custom` fields) passes through.
Numbers keep their exact value: ijson gives `int` or `Decimal`, never `float`, and the output is
their `str` (`1.0` stays `1.0` and `12345678901234567890` as it is; `1e400` is written `1E+400`,
`100e-2` `1.00`, and `-0` `0`, as ijson reads it as the integer 0). Key order is kept, except
that `content.text` moves to the end of its `content` object, as it can only be judged once the
`encoding` is known, which may come after it.

`TextScrubber` (text, logs, non-HAR JSON) works on the raw bytes and changes nothing but JWTs
and Zumik keys, which become `[REDACTED]`.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Protocol
from urllib.parse import unquote_plus

import ijson  # type: ignore[import-untyped]

from zumik_files.sniff import UTF8_BOM, FileKind, Sniffed

IJSON_BACKEND: Final[str] = str(ijson.backend)

REDACTED: Final = "[REDACTED]"
_REDACTED_JSON: Final = '"[REDACTED]"'

# Bounds on a HAR: nesting (a HAR needs about 8 levels; bodies are parsed separately), and the
# size of one string or key, or of the bytes between two parser events (a token in progress).
MAX_DEPTH: Final = 64
MAX_STRING_BYTES: Final = 20 * 1024 * 1024
# The size of one name/value object (a header, a query parameter, a form field) held while its
# `name` is not known yet. Past it, the value is masked without looking at the name.
MAX_PENDING_BYTES: Final = 1024 * 1024
# The bytes given to ijson at once, which bounds the events parsed at once; inside a long token
# (a large body), up to `_MAX_SLICE`, see `HarScrubber._drain`.
_PARSE_SLICE: Final = 16 * 1024
_MAX_SLICE: Final = 1024 * 1024
# The text scrubber's carry between chunks: a run of token characters this long that contains
# the start of a secret is masked from there to the end of the run.
MAX_CARRY: Final = 64 * 1024


class InvalidHar(ValueError):
    """The upload is not a HAR that can be scrubbed; `message` is for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Redactions


HEADERS: Final = "headers"
COOKIES: Final = "cookies"
QUERY_PARAMS: Final = "query_params"
BODY_FIELDS: Final = "body_fields"
JWTS: Final = "jwts"
API_KEYS: Final = "api_keys"
REDACTION_KINDS: Final = (HEADERS, COOKIES, QUERY_PARAMS, BODY_FIELDS, JWTS, API_KEYS)


class Redactions(Mapping[str, int]):
    """How many values were masked, by kind (never the values). Every kind reads as 0 or more."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(REDACTION_KINDS, 0)

    def add(self, kind: str, count: int = 1) -> None:
        if kind not in self._counts:
            raise KeyError(kind)
        self._counts[kind] += count

    def merge(self, other: "Redactions") -> None:
        for kind, count in other.items():
            self._counts[kind] += count

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        """The kinds with at least one redaction (`{}` if none: the API then shows `None`)."""
        return {kind: count for kind, count in self._counts.items() if count}

    def __getitem__(self, kind: str) -> int:
        return self._counts[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return f"Redactions({self.as_dict()})"


class Scrubber(Protocol):
    """Scrubbed bytes out for bytes in, incrementally; `close()` ends the input."""

    @property
    def redactions(self) -> Redactions: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


def new_scrubber(sniffed: Sniffed) -> Scrubber | None:
    """The scrubber an upload of this kind goes through, or None if it is stored as it is."""
    if sniffed.kind is FileKind.HAR:
        return HarScrubber()
    if sniffed.must_scrub:
        return TextScrubber()
    return None


# ---------------------------------------------------------------------------------------------
# Which names are secret


# Headers: a name containing any of these (case-insensitive) is secret...
_SECRET_HEADER_PARTS: Final = (
    "token", "secret", "key", "password", "passwd", "session", "auth", "cookie", "signature",
    "credential", "csrf", "xsrf",
)  # fmt: skip
# ...except these, which name things that are not credentials (HTTP/2's host pseudo-header,
# authentication challenges, and CORS headers, whose values are lists of header names).
_PUBLIC_HEADERS: Final = frozenset({":authority", "www-authenticate", "proxy-authenticate"})
_PUBLIC_HEADER_PREFIXES: Final = ("access-control-",)


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a secret, from its name.

    Secret: the name, lowercased, contains token, secret, key, password, passwd, session, auth,
    cookie, signature, credential, csrf or xsrf; so `Authorization`, `Proxy-Authorization`,
    `Cookie`, `Set-Cookie`, `X-Api-Key`, `Api-Key`, `X-Auth-Token`, `X-CSRF-Token`,
    `X-Amz-Security-Token`, `X-Session-Id`, `X-Hub-Signature-256`. Not secret: any other name
    (`Content-Type`, `Accept-Encoding`, `Keep-Alive`), and `:authority`, `WWW-Authenticate`,
    `Proxy-Authenticate` and `Access-Control-*`, which contain those words but no secret.
    """
    return _cached(_is_secret_header, name)


def _is_secret_header(name: str) -> bool:
    lowered = name.strip().lower()
    if lowered in _PUBLIC_HEADERS or lowered.startswith(_PUBLIC_HEADER_PREFIXES):
        return False
    return any(part in lowered for part in _SECRET_HEADER_PARTS)


# Parameters and body keys: judged on the name lowercased with everything but letters and digits
# removed (`access_token`, `accessToken` and `Access-Token` are all `accesstoken`).
_SECRET_NAME_PARTS: Final = (
    "token", "secret", "passw", "pwd", "passphrase", "session", "sessid", "credential",
    "signature", "csrf", "xsrf", "jwt", "saml", "cookie", "bearer", "apikey", "accesskey",
    "privatekey", "clientkey", "signingkey", "sessionkey", "masterkey", "licensekey",
    "encryptionkey",
)  # fmt: skip
# "auth", but not "author" or "authority" (while "authorization" and "authorised" are secret).
_AUTH: Final = re.compile(r"auth(?!or(?!i[sz]))")
# Whole names that are secret in a JSON body...
_SECRET_JSON_KEYS: Final = frozenset(
    {"sig", "otp", "totp", "pin", "pass", "pw", "sid", "assertion"}
)
# ...and, in a query string or a form, also these: an OAuth `code` and `state`, and an API `key`
# (in JSON bodies they are mostly error codes, ticket states and record keys).
_SECRET_PARAMS: Final = _SECRET_JSON_KEYS | {"code", "state", "key"}


# Names are judged again and again (the same few hundred headers and keys): short ones are
# remembered, a bounded number of them.
_MAX_CACHED_NAME: Final = 128
_NAME_CACHE_SIZE: Final = 4096
_verdicts: dict[tuple[Callable[[str], bool], str], bool] = {}


def _cached(rule: Callable[[str], bool], name: str) -> bool:
    if len(name) > _MAX_CACHED_NAME:
        return rule(name)
    verdict = _verdicts.get((rule, name))
    if verdict is None:
        verdict = rule(name)
        if len(_verdicts) >= _NAME_CACHE_SIZE:
            _verdicts.clear()
        _verdicts[(rule, name)] = verdict
    return verdict


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _has_secret_part(normalized: str) -> bool:
    return any(part in normalized for part in _SECRET_NAME_PARTS) or bool(_AUTH.search(normalized))


def is_secret_param(name: str) -> bool:
    """Whether a query, URL or form parameter's value is a secret, from its name.

    The name is lowercased and stripped of everything but letters and digits. Secret: it contains
    token, secret, passw, pwd, passphrase, session, sessid, credential, signature, csrf, xsrf,
    jwt, saml, cookie, bearer, apikey, accesskey, privatekey, clientkey, signingkey, sessionkey,
    masterkey, licensekey, encryptionkey, or auth (but not as in author or authority); or it is
    exactly code, state, key, sig, otp, totp, pin, pass, pw, sid or assertion.
    """
    return _cached(_is_secret_param, name)


def _is_secret_param(name: str) -> bool:
    normalized = _normalized(name)
    return normalized in _SECRET_PARAMS or _has_secret_part(normalized)


def is_secret_json_key(name: str) -> bool:
    """Whether a JSON body's value is a secret, from its key: as `is_secret_param`, except that
    `code`, `state` and `key` alone are not secret (error codes, states and record keys)."""
    return _cached(_is_secret_json_key, name)


def _is_secret_json_key(name: str) -> bool:
    normalized = _normalized(name)
    return normalized in _SECRET_JSON_KEYS or _has_secret_part(normalized)


# ---------------------------------------------------------------------------------------------
# JWTs and Zumik keys, anywhere

# A JWT (JWS or JWE): a base64url JSON header, then one to four more `.`-separated segments (a
# token cut after its payload still shows its claims). Zumik keys: `zsk_` (project API keys),
# `zst_` (staff tokens) and `zsl_` (sign-in links), then at least 8 base64url characters.
_JWT_PATTERN: Final = r"eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){1,4}"
_KEY_PATTERN: Final = r"zs[ktl]_[A-Za-z0-9_-]{8,}"
_SECRETS: Final = re.compile(f"(?P<jwt>{_JWT_PATTERN})|{_KEY_PATTERN}")
_SECRETS_BYTES: Final = re.compile(f"(?P<jwt>{_JWT_PATTERN})|{_KEY_PATTERN}".encode())
_SECRET_STARTS_BYTES: Final = re.compile(rb"eyJ|zs[ktl]_")


def _is_jwt(token: str | bytes) -> bool:
    """Whether a JWT-shaped token is one: its header is a JSON object with `alg`.

    Only a header that decodes cleanly to an object without `alg` clears it: a header that does
    not decode is taken as a JWT, as masking a harmless string costs less than leaking a token.
    """
    raw = token.encode("ascii") if isinstance(token, str) else token
    raw = raw.split(b".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return True
    return not isinstance(decoded, dict) or "alg" in decoded


def _mask_secrets(text: str, redactions: Redactions) -> str:
    """`text` with every JWT and Zumik key replaced by `[REDACTED]`."""

    def replace(match: re.Match[str]) -> str:
        if match.group("jwt") is None:
            redactions.add(API_KEYS)
        elif _is_jwt(match.group()):
            redactions.add(JWTS)
        else:
            return match.group()
        return REDACTED

    return _SECRETS.sub(replace, text)


def _bytes_masker(redactions: Redactions, *, same_length: bool) -> Callable[[bytes], bytes]:
    redacted = REDACTED.encode()

    def replace(match: re.Match[bytes]) -> bytes:
        if match.group("jwt") is None:
            redactions.add(API_KEYS)
        elif _is_jwt(match.group()):
            redactions.add(JWTS)
        else:
            return match.group()
        if same_length:
            marker = redacted if len(match.group()) >= len(redacted) else b""
            return marker + b"*" * (len(match.group()) - len(marker))
        return redacted

    def mask(data: bytes) -> bytes:
        if _SECRET_STARTS_BYTES.search(data) is None:
            return data
        return _SECRETS_BYTES.sub(replace, data)

    return mask


# ---------------------------------------------------------------------------------------------
# URLs and forms

# A string that is a URL: a scheme or a `/`, then no whitespace; and an absolute URL within text,
# up to whitespace, a quote, `<`, `>` or a backslash (a JSON escape is where a URL ends).
_URL: Final = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:|/)\S*\Z")
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")
# The password of a URL's `user:password@`.
_USERINFO: Final = re.compile(
    r"\A([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:)(?!\[REDACTED\]@)[^/?#@\s]+@"
)
# A `name=value` pair at the start of a form or after `?`, `&`, `#` or `;` in a URL.
_PAIR: Final = re.compile(r"(?:^|(?<=[?&#;]))([^=&#;?]*)=([^&#;]*)")
_FORM: Final = re.compile(r"[^\s=&]+=[^\s&]*(?:&[^\s&]*)*\s*")


def _mask_pairs(text: str, redactions: Redactions, kind: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if value and value != REDACTED and is_secret_param(unquote_plus(name)):
            redactions.add(kind)
            return f"{name}={REDACTED}"
        return match.group()

    return _PAIR.sub(replace, text)


def _mask_url(text: str, redactions: Redactions) -> str:
    """A URL's password and query and fragment parameters with secret names masked (OAuth's
    implicit flow puts `access_token` in the fragment, single-page apps a query inside it)."""
    if "@" in text:
        text, count = _USERINFO.subn(rf"\1{REDACTED}@", text, count=1)
        redactions.add(QUERY_PARAMS, count)
    marks = [index for index in (text.find("?"), text.find("#")) if index >= 0]
    if not marks:
        return text
    start = min(marks)
    return text[:start] + _mask_pairs(text[start:], redactions, QUERY_PARAMS)


def _mask_urls(text: str, redactions: Redactions) -> str:
    """A string that is a URL, or URLs within a string, with secret parameters masked."""
    if _URL.match(text):
        return _mask_url(text, redactions)
    if "://" in text:
        return _URL_IN_TEXT.sub(lambda match: _mask_url(match.group(), redactions), text)
    return text


def _scrub_string(text: str, redactions: Redactions) -> str:
    """Any string of a HAR: URL parameters, then JWTs and Zumik keys."""
    if "?" in text or "#" in text or "@" in text:
        text = _mask_urls(text, redactions)
    if "eyJ" in text or "zs" in text:
        text = _mask_secrets(text, redactions)
    return text


# ---------------------------------------------------------------------------------------------
# Bodies

_JSON_START: Final = re.compile(r"\s*[\[{]")
_MULTIPART_PART: Final = re.compile(
    r"(content-disposition:[ \t]*form-data;([^\r\n]*)\r?\n(?:[^\r\n]+\r?\n)*?\r?\n)(.*?)"
    r"(?=\r?\n--|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_FIELD_NAME: Final = re.compile(r"""\bname="([^"]*)\"""", re.IGNORECASE)
# In JSON that does not parse: a `"key": value` pair whose value is a string (perhaps cut off by
# the end) or a number, or else any other string, so that matching stays in step with the text.
_JSONISH_TOKEN: Final = re.compile(
    r'"([^"\\]*(?:\\.[^"\\]*)*)"'
    r'(?:(\s*:\s*)("[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)|-?\d[\d.eE+-]*))?'
    r'|"[^"\\]*(?:\\.[^"\\]*)*\Z',
    re.DOTALL,
)
_STARTS: Final = frozenset({"start_map", "start_array"})
_ENDS: Final = frozenset({"end_map", "end_array"})


class _NotScrubbable(Exception):
    """A body that looked like JSON but is not (or nests too deep)."""


def _scrub_body(text: str, redactions: Redactions) -> str:
    """A request or response body, judged by its content: JSON, a form, or multipart."""
    if _JSON_START.match(text):
        if not _json_may_need_masking(text):
            return text
        attempt = Redactions()
        try:
            masked = _mask_json(text, attempt)
        except _NotScrubbable:
            return _mask_jsonish(text, redactions)
        redactions.merge(attempt)
        return text if masked is None else masked
    if "=" in text and _FORM.fullmatch(text):
        return _mask_pairs(text, redactions, BODY_FIELDS)
    if "form-data" in text[:4096].lower():
        return _mask_multipart(text, redactions)
    return text


# Every string of a JSON text, with the colon that follows it if it is a key. In valid JSON a
# quote only opens or closes a string, so matching string after string from the start never
# falls out of step (a pattern that skipped values could: `"b",":password"` would match `","`).
_JSON_STRING: Final = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(\s*:)?')
_URL_PARAMETER: Final = re.compile(r"[?&#;]([^=&#;?\s]+)=[^&#;\s]")


def _json_may_need_masking(text: str) -> bool:
    """Whether a JSON body has a key, or a URL parameter in a value, that may be secret: a fast
    look, so that most bodies are not parsed (a false alarm only costs the parse)."""
    for match in _JSON_STRING.finditer(text):
        string = match.group(1)
        if "\\" in string:
            try:
                string = json.loads(f'"{string}"')
            except ValueError:
                return True
        if match.group(2) is not None:
            if is_secret_json_key(string):
                return True
        elif "@" in string and "://" in string:
            return True  # perhaps a URL with a password
        elif "?" in string or "#" in string:
            for parameter in _URL_PARAMETER.finditer(string):
                if is_secret_param(unquote_plus(parameter.group(1))):
                    return True
    return False


# A string as a JSON literal, not escaping non-ASCII (C-accelerated).
_encode: Final[Callable[[str], str]] = json.encoder.encode_basestring


_BLOCK: Final = 4096


def _json_events(data: bytes) -> Iterator[tuple[str, Any]]:
    """ijson's events of a JSON document (or several, as in NDJSON), parsed a slice at a time."""
    events: list[tuple[str, Any]] = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, use_float=False, multiple_values=True)
    for start in range(0, len(data), _PARSE_SLICE):
        parser.send(data[start : start + _PARSE_SLICE])
        yield from events
        events.clear()
    parser.close()
    yield from events


def _mask_json(text: str, redactions: Redactions) -> str | None:
    """A JSON (or NDJSON) body with secret keys' values masked; None if nothing changed."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _NotScrubbable from exc
    out: list[str] = []
    blocks: list[str] = []  # `out` joined every so often: a big body is not a million strings
    # Per open container: [is_map, is_first, current_key]
    stack: list[list[Any]] = []
    skip = 0
    changed = False
    try:
        for event, value in _json_events(data):
            if len(out) >= _BLOCK:
                blocks.append("".join(out))
                out.clear()
            if skip:
                skip += 1 if event in _STARTS else -1 if event in _ENDS else 0
                continue
            if event == "map_key":
                stack[-1][2] = value
                continue
            if event in _ENDS:
                stack.pop()
                out.append("}" if event == "end_map" else "]")
                continue
            if stack:
                top = stack[-1]
                prefix = "" if top[1] else ","
                top[1] = False
                if top[0]:
                    key = top[2]
                    prefix += _encode(key) + ":"
                    if (
                        event != "null"
                        and event != "boolean"
                        and value != ""
                        and is_secret_json_key(key)
                    ):
                        out.append(prefix + _REDACTED_JSON)
                        redactions.add(BODY_FIELDS)
                        changed = True
                        skip = 1 if event in _STARTS else 0
                        continue
            else:
                prefix = "\n" if out else ""  # NDJSON: one value a line
            if event == "string":
                if "?" in value or "#" in value or "@" in value:
                    scrubbed = _mask_urls(value, redactions)
                    changed = changed or scrubbed != value
                    value = scrubbed
                out.append(prefix + _encode(value))
            elif event == "number":
                out.append(prefix + str(value))
            elif event in _STARTS:
                if len(stack) >= MAX_DEPTH:
                    raise _NotScrubbable
                out.append(prefix + ("{" if event == "start_map" else "["))
                stack.append([event == "start_map", True, None])
            elif event == "boolean":
                out.append(prefix + ("true" if value else "false"))
            else:
                out.append(prefix + "null")
    except _NotScrubbable:
        raise
    except Exception as exc:  # any parse failure of the body: fall back to patterns
        raise _NotScrubbable from exc
    if not changed:
        return None
    blocks.append("".join(out))
    return "".join(blocks)


def _mask_jsonish(text: str, redactions: Redactions) -> str:
    """JSON that does not parse: `"secret-key": value` pairs masked by pattern (containers under
    a secret key are not: their own secret keys are)."""

    def replace(match: re.Match[str]) -> str:
        raw_key, separator, value = match.groups()
        if value is None or value in ('""', _REDACTED_JSON):
            return match.group()
        try:
            key = json.loads(f'"{raw_key}"')
        except ValueError:
            key = raw_key
        if not isinstance(key, str) or not is_secret_json_key(key):
            return match.group()
        redactions.add(BODY_FIELDS)
        return f'"{raw_key}"{separator}{_REDACTED_JSON}'

    return _JSONISH_TOKEN.sub(replace, text)


def _mask_multipart(text: str, redactions: Redactions) -> str:
    def replace(match: re.Match[str]) -> str:
        headers, parameters, value = match.groups()
        name = _FIELD_NAME.search(parameters)
        if (
            name is None
            or "filename" in parameters.lower()
            or not value
            or not is_secret_param(name.group(1))
        ):
            return match.group()
        redactions.add(BODY_FIELDS)
        return headers + REDACTED

    return _MULTIPART_PART.sub(replace, text)


def _scrub_content_text(text: str, encoding: str | None, redactions: Redactions) -> str:
    """`response.content.text`, given its `encoding`."""
    if encoding != "base64":
        return _scrub_string(_scrub_body(text, redactions), redactions)
    try:
        raw = base64.b64decode(text)
    except (binascii.Error, ValueError):
        return _scrub_string(_scrub_body(text, redactions), redactions)
    try:
        decoded = raw.decode("utf-8") if b"\x00" not in raw else None
    except UnicodeDecodeError:
        decoded = None
    result = text
    if decoded is not None:
        scrubbed = _scrub_string(_scrub_body(decoded, redactions), redactions)
        if scrubbed != decoded:
            result = base64.b64encode(scrubbed.encode("utf-8")).decode("ascii")
    else:
        masked = _bytes_masker(redactions, same_length=True)(raw)
        if masked != raw:
            result = base64.b64encode(masked).decode("ascii")
    # Base64's own alphabet has neither `.` nor `_`, so this finds nothing in real base64: it
    # catches a JWT or key in text that only claims to be base64 (b64decode skips `.` and `_`).
    return _scrub_string(result, redactions)


# ---------------------------------------------------------------------------------------------
# The HAR scrubber

# Roles of the values in a HAR that the scrubber treats specially; any other value is `_OTHER`.
_ROOT, _LOG, _ENTRIES, _ENTRY, _REQUEST, _RESPONSE = "root", "log", "entries", "entry", "req", "res"
_HEADERS, _COOKIES, _QUERY, _POST_DATA, _PARAMS = "headers", "cookies", "query", "post", "params"
_HEADER, _COOKIE, _QUERY_PARAM, _PARAM = "header", "cookie", "query_param", "param"
_CONTENT, _CONTENT_TEXT, _ENCODING, _BODY = "content", "content_text", "encoding", "body"
_WS_MESSAGES, _WS_MESSAGE = "ws_messages", "ws_message"
_OTHER = "other"

# The roles of an object's members, by the object's role and the member's key...
_CHILDREN: Final[dict[str, dict[str, str]]] = {
    _ROOT: {"log": _LOG},
    _LOG: {"entries": _ENTRIES},
    _ENTRY: {"request": _REQUEST, "response": _RESPONSE, "_webSocketMessages": _WS_MESSAGES},
    _REQUEST: {
        "headers": _HEADERS,
        "cookies": _COOKIES,
        "queryString": _QUERY,
        "postData": _POST_DATA,
    },
    _RESPONSE: {"headers": _HEADERS, "cookies": _COOKIES, "content": _CONTENT},
    _POST_DATA: {"params": _PARAMS, "text": _BODY},
    _CONTENT: {"text": _CONTENT_TEXT, "encoding": _ENCODING},
    _WS_MESSAGE: {"data": _BODY},
}
# ...and of an array's items, by the array's role.
_ITEMS: Final[dict[str, str]] = {
    _ENTRIES: _ENTRY,
    _HEADERS: _HEADER,
    _COOKIES: _COOKIE,
    _QUERY: _QUERY_PARAM,
    _PARAMS: _PARAM,
    _WS_MESSAGES: _WS_MESSAGE,
}
# The container each role must be (`null` is accepted too, except for the top level, `log` and
# `log.entries`), and how an error message names it.
_EXPECTED: Final[dict[str, tuple[str, str]]] = {
    _ROOT: ("start_map", "The top level"),
    _LOG: ("start_map", "log"),
    _ENTRIES: ("start_array", "log.entries"),
    _ENTRY: ("start_map", "Each of log.entries"),
    _REQUEST: ("start_map", "An entry's request"),
    _RESPONSE: ("start_map", "An entry's response"),
    _HEADERS: ("start_array", "The headers of a request or response"),
    _COOKIES: ("start_array", "The cookies of a request or response"),
    _QUERY: ("start_array", "A request's queryString"),
    _PARAMS: ("start_array", "A request's postData.params"),
    _POST_DATA: ("start_map", "A request's postData"),
    _CONTENT: ("start_map", "A response's content"),
    _HEADER: ("start_map", "Each header"),
    _COOKIE: ("start_map", "Each cookie"),
    _QUERY_PARAM: ("start_map", "Each queryString parameter"),
    _PARAM: ("start_map", "Each postData parameter"),
}
_REQUIRED: Final = frozenset({_ROOT, _LOG, _ENTRIES})
# Name/value objects: what their masked values count as, and the rule for their names.
_NAMED_VALUES: Final[dict[str, tuple[str, Callable[[str], bool]]]] = {
    _HEADER: (HEADERS, is_secret_header),
    _QUERY_PARAM: (QUERY_PARAMS, is_secret_param),
    _PARAM: (BODY_FIELDS, is_secret_param),
}
_NO_CHILDREN: Final[dict[str, str]] = {}
_MAX_CACHED_KEYS: Final = 4096
_BIG_STRING: Final = 64 * 1024


def _never_secret(_name: str) -> bool:
    return False


class _Frame:
    """An open object or array of the HAR, as written so far."""

    __slots__ = (
        "children",
        "encoding",
        "first",
        "is_map",
        "item_role",
        "key",
        "mask",
        "mask_kind",
        "name_rule",
        "pending",
    )

    def __init__(self, is_map: bool, role: str) -> None:
        self.is_map = is_map
        self.key = ""
        self.first = True
        # `content`: its `encoding`, and its `text`, written when the object ends.
        self.encoding: str | None = None
        self.pending: list[str] = []
        # What the role implies: the roles of the members or items; for name/value objects and
        # cookies, whether `value` is masked (None: no `name` yet), what a masked value counts
        # as, and the rule for names.
        self.children, self.item_role, self.mask, self.mask_kind, self.name_rule = _TRAITS.get(
            role, _PLAIN
        )


_Traits = tuple[dict[str, str], str, bool | None, str | None, Callable[[str], bool]]
_PLAIN: Final[_Traits] = (_NO_CHILDREN, _OTHER, False, None, _never_secret)


def _traits(role: str) -> _Traits:
    children, item_role = _CHILDREN.get(role, _NO_CHILDREN), _ITEMS.get(role, _OTHER)
    if role == _COOKIE:
        return (children, item_role, True, COOKIES, _never_secret)
    if role in _NAMED_VALUES:
        kind, rule = _NAMED_VALUES[role]
        return (children, item_role, None, kind, rule)
    return (children, item_role, False, None, _never_secret)


_TRAITS: Final[dict[str, _Traits]] = {
    role: _traits(role) for role in {*_CHILDREN, *_ITEMS, *_ITEMS.values(), *_EXPECTED}
}


class _Held:
    """The events of a name/value object held from its first key that is not `name` until its
    `name` decides whether its `value` is masked."""

    __slots__ = ("depth", "events", "key", "size")

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.depth = 0
        self.key: str | None = None
        self.size = 0


class HarScrubber:
    """Scrubs a HAR as it streams in; raises `InvalidHar` as soon as it is known not to be one.

    After an `InvalidHar`, every call raises it again; the output given so far must be discarded.
    """

    def __init__(self) -> None:
        self._redactions = Redactions()
        self._events: list[tuple[str, Any]] = ijson.sendable_list()
        self._parser = ijson.basic_parse_coro(self._events, use_float=False)
        self._out: list[str] = []
        self._stack: list[_Frame] = []
        self._held: _Held | None = None
        self._skip = 0  # the depth inside a masked value whose events are dropped
        self._keys: dict[str, str] = {}  # keys as written, `"key":`
        self._lead = b""  # the first bytes, until a UTF-8 byte order mark is ruled out or dropped
        self._pending = bytearray()  # input not given to the parser yet
        self._started = False
        self._offset = 0
        self._since_event = 0
        self._saw_entries = False
        self._error: InvalidHar | None = None
        self._closed = False

    @property
    def redactions(self) -> Redactions:
        return self._redactions

    def feed(self, chunk: bytes) -> bytes:
        self._check_open()
        if not self._started:
            self._lead += chunk
            if len(self._lead) < len(UTF8_BOM) and UTF8_BOM.startswith(self._lead):
                return b""
            chunk, self._lead, self._started = self._lead.removeprefix(UTF8_BOM), b"", True
        self._pending += chunk
        try:
            self._drain(final=False)
        except InvalidHar as exc:
            self._error = exc
            raise
        return self._take()

    def close(self) -> bytes:
        self._check_open()
        self._closed = True
        try:
            if not self._started:
                self._pending += self._lead.removeprefix(UTF8_BOM)
            self._drain(final=True)
            if not self._offset:
                raise InvalidHar("The HAR file is empty.")
            try:
                self._parser.close()
            except Exception as exc:  # ijson's messages quote the input: never pass them on
                raise InvalidHar(
                    "The HAR file is incomplete: it ends before its JSON does."
                    if "premature EOF" in str(exc)
                    else self._not_json_message()
                ) from None
            self._run(self._events)
            if not self._saw_entries:
                raise InvalidHar("This is not a HAR file: it has no log.entries array.")
        except InvalidHar as exc:
            self._error = exc
            raise
        return self._take()

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise RuntimeError("the scrubber is closed")

    def _not_json_message(self) -> str:
        return f"The HAR file is not valid JSON (the error is at or before byte {self._offset})."

    def _take(self) -> bytes:
        # A lone surrogate can only be inside a string, where `\udxxx` is its JSON escape.
        out, self._out = self._out, []
        if len(out) == 1:
            return out[0].encode("utf-8", "backslashreplace")
        return "".join(out).encode("utf-8", "backslashreplace")

    def _drain(self, *, final: bool) -> None:
        """Gives the input to the parser a slice at a time (which bounds the events of one
        slice), except inside a long token: yajl scans a token again from its start whenever
        input comes, which costs the square of its size when it comes in small slices. So a
        token that has already taken n bytes gets the next n at once (up to `_MAX_SLICE`)."""
        pending = self._pending
        offset = 0
        try:
            while offset < len(pending):
                size = _PARSE_SLICE
                if self._since_event:
                    size = min(max(size, self._since_event), _MAX_SLICE)
                    if len(pending) - offset < size and not final:
                        break
                piece = bytes(pending[offset : offset + size])
                offset += len(piece)
                self._parse(piece)
        finally:
            del pending[:offset]

    def _parse(self, data: bytes) -> None:
        self._offset += len(data)
        try:
            self._parser.send(data)
        except Exception:  # ijson's messages quote the input: never pass them on
            raise InvalidHar(self._not_json_message()) from None
        if self._events:
            # A token can start after the last event of a slice: the bound is checked to
            # within one slice.
            self._since_event = 0
            self._run(self._events)
            self._events.clear()
        else:
            self._since_event += len(data)
            if self._since_event > MAX_STRING_BYTES:
                raise InvalidHar(
                    f"The HAR file has a single value larger than {MAX_STRING_BYTES >> 20} MB."
                )

    def _too_deep(self) -> InvalidHar:
        return InvalidHar(f"The HAR file nests deeper than {MAX_DEPTH} levels.")

    def _encoded_key(self, key: str) -> str:
        if "eyJ" in key or "zs" in key:
            masked = _mask_secrets(key, self._redactions)
            if masked != key:  # not cached: each occurrence counts
                return _encode(masked) + ":"
        encoded = _encode(key) + ":"
        if len(self._keys) < _MAX_CACHED_KEYS and len(key) <= 64:
            self._keys[key] = encoded
        return encoded

    def _run(self, events: Iterable[tuple[str, Any]]) -> None:
        """Writes the events out scrubbed. The hot loop: most events take the first branches."""
        out = self._out
        stack = self._stack
        redactions = self._redactions
        keys = self._keys
        for event, value in events:
            if self._skip:
                if event in _STARTS:
                    self._skip += 1
                    if len(stack) + self._skip > MAX_DEPTH:
                        raise self._too_deep()
                elif event in _ENDS:
                    self._skip -= 1
                continue
            if self._held is not None:
                self._hold(event, value)
                continue
            if event == "map_key":
                top = stack[-1]
                if top.mask is None and value != "name":
                    self._held = _Held()
                    self._hold(event, value)
                else:
                    top.key = value
                continue
            if event in _ENDS:
                frame = stack.pop()
                if frame.pending:
                    self._write_pending(frame)
                out.append("}" if event == "end_map" else "]")
                continue

            # A value: its role, and what goes before it.
            if stack:
                parent = stack[-1]
                if parent.is_map:
                    key = parent.key
                    role = parent.children.get(key, _OTHER) if parent.children else _OTHER
                    if parent.mask_kind is not None:
                        if key == "value":
                            if parent.mask and event != "null" and value != "":
                                out.append(self._prefix(parent) + _REDACTED_JSON)
                                redactions.add(parent.mask_kind)
                                if event in _STARTS:
                                    self._skip = 1
                                continue
                        elif key == "name" and parent.mask is None:
                            parent.mask = event == "string" and parent.name_rule(value)
                    elif role == _CONTENT_TEXT and event == "string":
                        parent.pending.append(value)
                        continue
                    encoded_key = keys.get(key) or self._encoded_key(key)
                    prefix = encoded_key if parent.first else "," + encoded_key
                else:
                    role = parent.item_role
                    prefix = "" if parent.first else ","
                parent.first = False
            else:
                role, prefix = _ROOT, ""

            if role != _OTHER:
                expected = _EXPECTED.get(role)
                if expected is not None and event != expected[0]:
                    if event != "null" or role in _REQUIRED:
                        kind = "an object" if expected[0] == "start_map" else "an array"
                        raise InvalidHar(
                            f"This is not a valid HAR file: {expected[1]} must be {kind}."
                        )
                elif event == "string":
                    if role == _BODY:
                        value = _scrub_body(value, redactions)
                    elif role == _ENCODING:
                        stack[-1].encoding = value
                elif role == _ENTRIES:
                    self._saw_entries = True

            if event == "string":
                if "?" in value or "#" in value or "@" in value:
                    value = _mask_urls(value, redactions)
                if "eyJ" in value or "zs" in value:
                    value = _mask_secrets(value, redactions)
                if len(value) < _BIG_STRING:
                    out.append(prefix + _encode(value))
                else:  # not copied once more to add the prefix
                    out.append(prefix)
                    out.append(_encode(value))
            elif event == "number":
                out.append(prefix + str(value))
            elif event == "start_map" or event == "start_array":
                if len(stack) >= MAX_DEPTH:
                    raise self._too_deep()
                is_map = event == "start_map"
                out.append(prefix + ("{" if is_map else "["))
                stack.append(_Frame(is_map, role))
            elif event == "boolean":
                out.append(prefix + ("true" if value else "false"))
            else:
                out.append(prefix + "null")

    def _prefix(self, parent: _Frame) -> str:
        """What goes before a value in `parent`: a comma unless it is the first, and its key."""
        prefix = "" if parent.first else ","
        parent.first = False
        if parent.is_map:
            prefix += self._keys.get(parent.key) or self._encoded_key(parent.key)
        return prefix

    def _write_pending(self, frame: _Frame) -> None:
        for text in frame.pending:
            frame.key = "text"
            scrubbed = _scrub_content_text(text, frame.encoding, self._redactions)
            self._out.append(self._prefix(frame))
            self._out.append(_encode(scrubbed))
        frame.pending.clear()

    def _hold(self, event: str, value: Any) -> None:
        held = self._held
        assert held is not None
        if event == "map_key":
            if held.depth == 0:
                held.key = value
        elif event in _STARTS:
            held.depth += 1
            if len(self._stack) + held.depth > MAX_DEPTH:
                raise self._too_deep()
        elif event in _ENDS:
            if held.depth == 0:  # the object ends without a name: nothing says it is secret
                self._release(mask=False)
                self._run(((event, value),))
                return
            held.depth -= 1
        elif held.depth == 0 and held.key == "name":
            held.events.append((event, value))
            self._release(mask=event == "string" and self._stack[-1].name_rule(value))
            return
        held.events.append((event, value))
        held.size += len(value) if isinstance(value, str) else 8
        if held.size > MAX_PENDING_BYTES:  # too much to hold: masked, whatever its name
            self._release(mask=True)

    def _release(self, *, mask: bool) -> None:
        held = self._held
        assert held is not None
        self._held = None
        self._stack[-1].mask = mask
        self._run(held.events)


# ---------------------------------------------------------------------------------------------
# The text scrubber

_TOKEN_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."


class TextScrubber:
    """Masks JWTs and Zumik keys in raw bytes (text, logs, JSON), changing nothing else.

    Between chunks it carries the trailing run of characters that a secret is made of (at most
    `MAX_CARRY` bytes), so a secret split across chunks is still found.
    """

    def __init__(self) -> None:
        self._redactions = Redactions()
        self._mask = _bytes_masker(self._redactions, same_length=False)
        self._carry = b""
        self._dropping = False  # inside an overlong run that was masked from a secret's start
        self._closed = False

    @property
    def redactions(self) -> Redactions:
        return self._redactions

    def feed(self, chunk: bytes) -> bytes:
        if self._closed:
            raise RuntimeError("the scrubber is closed")
        if self._dropping:
            chunk = chunk.lstrip(_TOKEN_CHARS)
            if not chunk:
                return b""
            self._dropping = False
        data = self._carry + chunk
        cut = len(data.rstrip(_TOKEN_CHARS))
        tail = data[cut:]
        if len(tail) <= MAX_CARRY:
            self._carry = tail
            return self._mask(data[:cut])
        self._carry = b""
        start = _SECRET_STARTS_BYTES.search(tail)
        if start is None:  # keep what could be the beginning of one
            self._carry = tail[-3:]
            return self._mask(data[:cut]) + tail[:-3]
        self._redactions.add(JWTS if start.group() == b"eyJ" else API_KEYS)
        self._dropping = True
        return self._mask(data[:cut]) + tail[: start.start()] + REDACTED.encode()

    def close(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        carry, self._carry = self._carry, b""
        return self._mask(carry)
