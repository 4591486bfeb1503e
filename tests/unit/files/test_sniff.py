"""File types from content, never from names; refusals say what is allowed; safe filenames."""

import json

import pytest
from zumik_files.sniff import (
    HAR,
    JSON,
    SNIFF_BYTES,
    TEXT,
    FileKind,
    Sniffed,
    UnsupportedFileType,
    safe_filename,
    sniff,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100)
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(100)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(100)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"


def zip_with_first_entry(name: str) -> bytes:
    encoded = name.encode()
    header = b"PK\x03\x04" + bytes(22) + len(encoded).to_bytes(2, "little") + bytes(2)
    return header + encoded + bytes(50)


HAR_HEAD = b'{\n  "log": {\n    "version": "1.2",\n    "creator": {"name": "Firefox"'


@pytest.mark.parametrize(
    ("head", "content_type", "kind"),
    [
        (PNG, "image/png", FileKind.IMAGE),
        (JPEG, "image/jpeg", FileKind.IMAGE),
        (GIF, "image/gif", FileKind.IMAGE),
        (b"GIF87a" + bytes(10), "image/gif", FileKind.IMAGE),
        (WEBP, "image/webp", FileKind.IMAGE),
        (PDF, "application/pdf", FileKind.PDF),
        (zip_with_first_entry("report.txt"), "application/zip", FileKind.ZIP),
        (zip_with_first_entry("[Content_Types].xml"), "application/zip", FileKind.ZIP),
        (zip_with_first_entry("mimetype"), "application/zip", FileKind.ZIP),
        (b"PK\x05\x06" + bytes(18), "application/zip", FileKind.ZIP),
        (b"2024-05-01 INFO started\n", "text/plain; charset=utf-8", FileKind.TEXT),
        (b"[2024-05-01 10:00] INFO started\n", "text/plain; charset=utf-8", FileKind.TEXT),
        (b"MZone started\n", "text/plain; charset=utf-8", FileKind.TEXT),
        (b"{not json at all", "text/plain; charset=utf-8", FileKind.TEXT),
        (b"\xef\xbb\xbfh\xc3\xa9llo \xe4\xb8\x96", "text/plain; charset=utf-8", FileKind.TEXT),
        (b"\x1b[31mred\x1b[0m\ttab\r\n", "text/plain; charset=utf-8", FileKind.TEXT),
        (b'{"error": "x", "log": []}', "application/json", FileKind.JSON),
        (b'  \n[{"a": 1}, 2', "application/json", FileKind.JSON),
        (b'{"html": "<script>alert(1)</script>"}', "application/json", FileKind.JSON),
        (HAR_HEAD, "application/har+json", FileKind.HAR),
        (b"\xef\xbb\xbf \r\n" + HAR_HEAD, "application/har+json", FileKind.HAR),
        (b'{"\\u006cog": {"entries": []}}', "application/har+json", FileKind.HAR),
    ],
)
def test_content_decides_the_type(head: bytes, content_type: str, kind: FileKind) -> None:
    sniffed = sniff(head, "upload.bin", "application/octet-stream")
    assert sniffed == Sniffed(content_type, kind)
    assert sniffed.must_scrub is (kind in (FileKind.TEXT, FileKind.JSON, FileKind.HAR))


def test_the_name_and_declared_type_do_not_make_a_type() -> None:
    assert sniff(PNG, "notes.txt", "text/plain").content_type == "image/png"
    assert sniff(b"just text", "photo.png", "image/png") == TEXT
    assert sniff(HAR_HEAD, "capture.json", "application/json") == HAR


def test_docker_json_logs_are_not_hars() -> None:
    line = b'{"log":"GET / 200 <html>\\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}'
    assert sniff(line, "container.json", None) == JSON
    assert sniff(line + b"\n" + line + b"\n" + line[:30], "container.log", None) == TEXT
    with pytest.raises(UnsupportedFileType, match="HAR"):
        sniff(line + b"\n" + line, "container.har", None)


def test_a_har_name_or_type_makes_a_json_object_a_har() -> None:
    assert sniff(b'{"version": 1, "log": {}}', "capture.HAR", None) == HAR
    assert sniff(b'{"version": 1}', "capture", "application/har+json") == HAR
    assert sniff(b'{"version": 1}', "capture.json", None) == JSON


@pytest.mark.parametrize(
    "head", [b"[1, 2]", PNG, b"plain text", b'{"log": {"entries": [}', b"{broken"]
)
def test_a_har_name_must_hold_a_har(head: bytes) -> None:
    with pytest.raises(UnsupportedFileType, match="HAR"):
        sniff(head, "capture.har", None)


def test_a_har_that_is_not_valid_json_is_refused_whatever_its_name() -> None:
    with pytest.raises(UnsupportedFileType, match="not valid JSON"):
        sniff(b'{"log": {"entries": [,]}}', "capture.txt", None)


def test_a_multibyte_character_cut_at_the_end_of_the_head_is_text() -> None:
    head = ("a" + "é" * (SNIFF_BYTES // 2)).encode()
    assert len(head) > SNIFF_BYTES
    assert sniff(head, "a.log", None) == TEXT  # cut after SNIFF_BYTES, inside a character
    assert sniff("log: 世".encode()[:-1], "a.log", None) == TEXT


def test_json_cut_inside_a_character_at_the_end_of_the_head_is_json() -> None:
    head = ('{"log": {"comment": "' + "é" * SNIFF_BYTES).encode()
    assert sniff(head, "a", None) == HAR
    assert sniff(('["' + "é" * SNIFF_BYTES).encode(), "a", None) == JSON


def test_only_the_head_is_looked_at() -> None:
    head = b"a" * SNIFF_BYTES + b"\x00\x01\x02 binary after the head"
    assert sniff(head, "a.log", None) == TEXT


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "Programs"),
        (b"\x7fELF\x02\x01\x01" + bytes(20), "Programs"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "Programs"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34", "Programs"),
        (b"\x1f\x8b\x08\x00" + bytes(10), "not supported"),
        (b"Rar!\x1a\x07\x00", "not supported"),
        (b"text with a NUL\x00 byte", "not supported"),
        (b"caf\xe9 latin-1", "not supported"),
        (b"\xff\xfeh\x00i\x00", "not supported"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "Web pages"),
        (b"  \n<html lang='en'>", "Web pages"),
        (b"<script>alert(document.cookie)</script>", "Web pages"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "Web pages"),
        (b"<?xml version='1.0'?><svg/>", "Web pages"),
        (b"<!-- comment --><b>x</b>", "Web pages"),
        (b"<p>hello</p>", "Web pages"),
        (b"log line 1\nlog line 2 <ScRiPt src=//evil.example/x.js></script>", "Web pages"),
        (b"some notes\n<!doctype html>\n", "Web pages"),
        (zip_with_first_entry("capture.har"), "not inside a ZIP"),
        (zip_with_first_entry("META-INF/MANIFEST.MF"), "Programs"),
        (zip_with_first_entry("AndroidManifest.xml"), "Programs"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(head: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFileType, match=reason) as refused:
        sniff(head, "upload", None)
    message = refused.value.message
    assert message == str(refused.value)
    assert "images (PNG, JPEG, GIF, WebP), PDF documents, ZIP archives" in message


@pytest.mark.parametrize(
    "filename",
    ["page.html", "page.HTM", "x.svg", "x.xhtml", "run.exe", "run.bat", "x.js", "C:\\a\\x.ps1"],
)
def test_names_that_would_render_or_run_are_refused_whatever_the_content(filename: str) -> None:
    for head in (b"plain text", PNG, HAR_HEAD):
        with pytest.raises(UnsupportedFileType, match="are not accepted"):
            sniff(head, filename, None)


@pytest.mark.parametrize(
    "declared", ["text/html", "text/html; charset=utf-8", "image/svg+xml", "TEXT/JAVASCRIPT"]
)
def test_declared_types_that_would_render_are_refused(declared: str) -> None:
    with pytest.raises(UnsupportedFileType, match="are not accepted"):
        sniff(b"plain text", "notes.txt", declared)


def test_text_that_mentions_markup_in_a_json_body_is_json() -> None:
    body = json.dumps({"log": {"entries": [{"response": {"content": {"text": "<html>"}}}]}})
    assert sniff(body.encode(), "x", None) == HAR


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\Desktop\\capture.har", "capture.har"),
        ('my "quoted" file.txt', "my _quoted_ file.txt"),
        ("line\r\nbreak\x00.log", "line_break_.log"),
        ("exe\u202etxt.exe", "exe_txt.exe"),  # a right-to-left override, used to fake extensions
        ("Ünïcödé 世界 файл.png", "Ünïcödé 世界 файл.png"),
        ("Cafe\u0301.txt", "Café.txt"),
        ("a;b<c>d:e|f?g*h.txt", "a_b_c_d_e_f_g_h.txt"),
        ("   ..hidden. ", "hidden"),
        ("", "attachment"),
        ("...", "attachment"),
        ("/", "attachment"),
        ('"', "attachment"),
        ("\u200b\u200b", "attachment"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("a    b", "a b"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_is_limited_and_keeps_the_extension() -> None:
    long = "x" * 500 + ".har"
    assert safe_filename(long) == "x" * 196 + ".har"
    assert len(safe_filename("é" * 300)) == 200
    assert safe_filename("a" * 300 + "." + "b" * 50) == ("a" * 300 + "." + "b" * 50)[:200]
