"""What an upload is, decided from its first bytes, never from its name or declared type.

`sniff` looks at the first `SNIFF_BYTES` of an upload and returns the canonical content type to
store and serve, or raises `UnsupportedFileType` with a message for the customer that names what
is allowed. From the content:

- images by their magic numbers: PNG, JPEG, GIF (87a and 89a), WebP (RIFF....WEBP);
- PDF (`%PDF-` at the very start), ZIP (a local file header or an empty archive);
- JSON: `{` or `[` after an optional UTF-8 BOM and whitespace, and the head parses as the start
  of JSON (`[2024-05-01] INFO ...` is a log, not JSON); a HAR if the first key of the top-level
  object is `log` and holds an object (Docker's JSON logs begin with a `log` key too, holding a
  string); several top-level values in the head (JSON lines) are a log, served as text;
- text: UTF-8 (a multibyte sequence cut by the end of the head is fine) without NUL bytes, and
  without markup a browser would render: the start of the file is checked against the WHATWG
  MIME Sniffing HTML patterns plus `<?xml` and `<svg`, and `<script`, `<svg`, `<html`,
  `<iframe`, `<object`, `<embed` and `<!doctype html` are refused anywhere in the head (JSON is
  exempt: HAR bodies are full of HTML, and JSON is never rendered as a page);
- anything else is refused: programs (PE, ELF, Mach-O, Java classes, DEX) with a message saying
  so, other binaries (including gzip, RAR, UTF-16 text) as an unsupported type.

The filename and the declared type can only make the answer stricter, never looser:

- a name ending in `.har`, or a declared `application/har+json`, makes a JSON object a HAR (so it
  goes through the HAR scrubber, which rejects it unless it is a valid HAR) and anything else an
  error;
- a name or declared type that a browser or a desktop would render as a page or run as a program
  (`.html`, `.svg`, `.xml`, `.js`, `.exe`, `.bat`, `text/html`, ...) is refused whatever the
  content is, because the name travels with the download in `Content-Disposition`.

ZIP-based formats (DOCX, XLSX, PPTX, ODT, EPUB, JAR, APK, ...) all begin with a ZIP local file
header; without opening the archive they cannot be told apart, so every one of them is accepted as
an opaque `application/zip` (downloaded, never rendered), except where the first entry gives it
away: a JAR or APK (a program) and a zipped `.har` (which would escape the scrubber) are refused.
Other entries of an archive are not looked at: a ZIP is stored as it is, unscrubbed.
"""

import codecs
import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import ijson  # type: ignore[import-untyped]

# How much of the upload `sniff` looks at: enough for the magic numbers, the first key of a
# HAR after some whitespace, and a fair sample of a text file.
SNIFF_BYTES = 8 * 1024

ALLOWED_TYPES = (
    "images (PNG, JPEG, GIF, WebP), PDF documents, ZIP archives, UTF-8 text and log files, "
    "JSON files and HAR captures"
)

UTF8_BOM = b"\xef\xbb\xbf"


class FileKind(enum.StrEnum):
    IMAGE = "image"
    PDF = "pdf"
    ZIP = "zip"
    TEXT = "text"
    JSON = "json"
    HAR = "har"


# Kinds whose content can carry secrets as text, and so goes through a scrubber before storage.
SCRUBBED_KINDS = frozenset({FileKind.TEXT, FileKind.JSON, FileKind.HAR})


@dataclass(frozen=True)
class Sniffed:
    """What an upload is: the content type to store and serve, and its kind."""

    content_type: str
    kind: FileKind

    @property
    def must_scrub(self) -> bool:
        """Whether the content must go through a scrubber (HAR, JSON, text) before storage."""
        return self.kind in SCRUBBED_KINDS


class UnsupportedFileType(ValueError):
    """The upload is not one of the allowed kinds; `message` is for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


PNG = Sniffed("image/png", FileKind.IMAGE)
JPEG = Sniffed("image/jpeg", FileKind.IMAGE)
GIF = Sniffed("image/gif", FileKind.IMAGE)
WEBP = Sniffed("image/webp", FileKind.IMAGE)
PDF = Sniffed("application/pdf", FileKind.PDF)
ZIP = Sniffed("application/zip", FileKind.ZIP)
TEXT = Sniffed("text/plain; charset=utf-8", FileKind.TEXT)
JSON = Sniffed("application/json", FileKind.JSON)
HAR = Sniffed("application/har+json", FileKind.HAR)

# Names a browser would render or a desktop would run when the download is opened, whatever the
# bytes are (a PNG saved as `x.html` opens as a page, and a text file saved as `x.bat` runs).
_REFUSED_EXTENSIONS = frozenset(
    {
        # rendered as pages, with scripts
        "html", "htm", "xhtml", "xht", "shtml", "svg", "svgz", "xml", "xsl", "xslt", "mht",
        "mhtml", "hta",
        # scripts and programs
        "js", "mjs", "cjs", "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "psd1", "bat",
        "cmd", "com", "exe", "dll", "scr", "pif", "cpl", "msi", "msp", "jar", "apk", "lnk", "reg",
        "url", "scf", "inf", "application", "appref-ms", "desktop", "sh", "command", "app",
    }
)  # fmt: skip
_REFUSED_DECLARED = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-msdownload",
        "application/hta",
    }
)
_HAR_DECLARED = frozenset({"application/har+json", "application/x-har", "application/har"})

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O, both word sizes and byte orders
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary, and Java class files
    b"dex\n",
)

# Text that a browser would render as a page if it ever sniffed it: the start of the file against
# the WHATWG MIME Sniffing "text/html" patterns (plus XML and SVG), and, anywhere in the head,
# the markup the issue names. HAR and JSON are not subject to this: their bodies often hold HTML.
_MARKUP_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|svg|\?xml|!--)(?=[\s>/])|<!--",
    re.IGNORECASE,
)
_MARKUP_ANYWHERE = re.compile(
    rb"<\s*(?:script|svg|html|iframe|object|embed)(?=[\s>/])|<!doctype\s+html", re.IGNORECASE
)
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"
_JSON_WHITESPACE = b" \t\r\n"


def _refuse(reason: str) -> UnsupportedFileType:
    return UnsupportedFileType(f"{reason} Attachments can be {ALLOWED_TYPES}.")


def _extension(filename: str) -> str:
    base = re.split(r"[/\\]", filename)[-1].strip().rstrip(". ")
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def _media_type(declared_type: str | None) -> str:
    return (declared_type or "").split(";", 1)[0].strip().lower()


def sniff(head: bytes, filename: str, declared_type: str | None) -> Sniffed:
    """The kind of an upload from its first bytes (`SNIFF_BYTES` of them; more are ignored).

    Raises `UnsupportedFileType` for anything that is not an allowed kind, for names and declared
    types that a browser or desktop would render or run, and for a `.har` that is not JSON.
    """
    head = head[:SNIFF_BYTES]
    extension = _extension(filename)
    declared = _media_type(declared_type)
    if extension in _REFUSED_EXTENSIONS:
        raise _refuse(
            f"Files named .{extension} are not accepted, whatever they contain, because they "
            "could open as a web page or run as a program."
        )
    if declared in _REFUSED_DECLARED:
        raise _refuse(f"Files sent as {declared} are not accepted.")
    wants_har = extension == "har" or declared in _HAR_DECLARED
    sniffed = _sniff_content(head, wants_har=wants_har)
    if wants_har and sniffed.kind is not FileKind.HAR:
        raise _refuse("This file is named or sent as a HAR capture but is not one.")
    return sniffed


def _sniff_content(head: bytes, *, wants_har: bool) -> Sniffed:
    if not head:
        raise _refuse("The file is empty.")
    binary = _sniff_binary(head)
    if binary is not None:
        return binary
    text = head.removeprefix(UTF8_BOM)
    if b"\x00" in text or not _is_utf8_prefix(text):
        if head.startswith(_EXECUTABLE_MAGIC):
            raise _refuse("Programs (executables) are not accepted.")
        raise _refuse("This file type is not supported.")
    body = text.lstrip(_JSON_WHITESPACE)
    if body[:1] in (b"{", b"["):
        json_kind = _sniff_json(text, wants_har=wants_har)
        if json_kind is not None:
            return json_kind
    if _MARKUP_START.match(body) or _MARKUP_ANYWHERE.search(text):
        raise _refuse("Web pages and other markup (HTML, SVG, XML) are not accepted as text.")
    return TEXT


def _sniff_binary(head: bytes) -> Sniffed | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(_ZIP_EMPTY):
        return ZIP
    if head.startswith(_ZIP_LOCAL_HEADER):
        _check_first_zip_entry(head)
        return ZIP
    return None


def _check_first_zip_entry(head: bytes) -> None:
    """Refuses a ZIP whose first entry shows it is a program or a zipped HAR (best effort)."""
    if len(head) < 30:
        return
    name_length = int.from_bytes(head[26:28], "little")
    name = head[30 : 30 + name_length].decode("utf-8", "replace")
    lowered = name.lower()
    if lowered.endswith(".har"):
        raise _refuse(
            "HAR captures must be uploaded as the .har file itself, not inside a ZIP archive, "
            "so that the secrets in them can be removed before they are stored."
        )
    if lowered.startswith("meta-inf/") or lowered in ("androidmanifest.xml", "classes.dex"):
        raise _refuse("Programs (Java and Android packages) are not accepted.")


def _is_utf8_prefix(data: bytes) -> bool:
    """Whether `data` is UTF-8, allowing a multibyte sequence cut off at its end."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


_HAR_START = [("start_map", None), ("map_key", "log"), ("start_map", None)]


def _sniff_json(text: bytes, *, wants_har: bool) -> Sniffed | None:
    """HAR, JSON, or JSON lines (as text), if the head parses as the start of JSON; else None.

    A HAR's first key is `log` and holds an object: Docker's JSON logs also begin with a `log`
    key, holding a string, and are JSON lines, not a HAR.
    """
    events: list[tuple[str, Any]] = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events, use_float=False, multiple_values=True)
    parses = True
    try:
        parser.send(text)
    except Exception:  # any parse failure means "not JSON"
        parses = False
    looks_like_har = events[:3] == _HAR_START
    if not parses:
        if looks_like_har or wants_har:
            raise _refuse("This file looks like a HAR capture but is not valid JSON.")
        return None
    if _top_level_values(events) > 1:
        return TEXT  # JSON lines: a log, served as text (never rendered: it starts with `{`)
    if looks_like_har or (wants_har and events[:1] == [("start_map", None)]):
        return HAR
    return JSON


def _top_level_values(events: list[tuple[str, Any]]) -> int:
    """How many top-level values the events complete or begin."""
    values = depth = 0
    for event, _ in events:
        if depth == 0 and event != "map_key":
            values += 1
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
    return values


# `safe_filename`: what survives of a customer's filename in `Content-Disposition`.
MAX_FILENAME_CHARS = 200
DEFAULT_FILENAME = "attachment"
_KEPT_PUNCTUATION = frozenset(" .-_()[]+,@~#&=!")
_WINDOWS_RESERVED = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?\Z", re.IGNORECASE)


def safe_filename(name: str) -> str:
    """A filename fit for `Content-Disposition` and any file system, never empty.

    Drops any directory part (`/` and `\\`), keeps Unicode letters, marks and digits and a little
    punctuation (`` .-_()[]+,@~#&=!``), turns everything else (control and format characters such
    as bidi overrides, quotes, `;`, `<>:|?*`) into `_`, collapses runs of `_` and spaces, trims
    leading dots and spaces and trailing dots and spaces, defuses Windows device names, and keeps
    at most `MAX_FILENAME_CHARS` characters, cutting the stem rather than the extension.
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    kept = "".join(
        char if char in _KEPT_PUNCTUATION or unicodedata.category(char)[0] in "LMN" else "_"
        for char in base
    )
    kept = re.sub(r"_{2,}", "_", re.sub(r"\s+", " ", kept))
    kept = kept.lstrip(". ").rstrip(". ")
    if not kept.strip("_ "):
        return DEFAULT_FILENAME
    if _WINDOWS_RESERVED.match(kept):
        kept = "_" + kept
    if len(kept) > MAX_FILENAME_CHARS:
        stem, dot, extension = kept.rpartition(".")
        if dot and stem and len(extension) <= 16:
            kept = stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            kept = kept[:MAX_FILENAME_CHARS].rstrip(". ")
    return kept or DEFAULT_FILENAME
