"""Bounded memory: a 25 MB upload scrubbed in 64 KiB chunks stays within a few MB of Python
memory, however large the file. The throughput is printed (`pytest -s`) for the record."""

import base64
import json
import random
import time
import tracemalloc
from collections.abc import Callable

import pytest
from zumik_files.scrub import IJSON_BACKEND, REDACTED, HarScrubber, Scrubber, TextScrubber

SIZE = 25 * 1024 * 1024
CHUNK = 64 * 1024
PEAK_LIMIT = 4 * 1024 * 1024
API_KEY = "zsk_" + "k" * 43


def _headers(rng: random.Random, count: int) -> list[dict[str, str]]:
    common = [
        ("accept", "application/json, text/plain, */*"),
        ("accept-language", "fr-FR,fr;q=0.9,en;q=0.8"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0"),
        ("sec-fetch-mode", "cors"),
        ("x-request-id", f"req_{rng.getrandbits(48):012x}"),
        ("date", "Wed, 01 May 2024 10:00:00 GMT"),
        ("content-type", "application/json"),
        ("etag", f'W/"{rng.getrandbits(48):x}"'),
    ]
    return [{"name": name, "value": value} for name, value in (common * 2)[:count]]


def _entry(rng: random.Random, index: int) -> dict[str, object]:
    """A browser's entry: API calls, scripts, images and pages, as in a real capture."""
    kind = rng.random()
    content: dict[str, object]
    if kind < 0.55:
        text = json.dumps(
            {"items": [{"id": i, "title": f"Ticket {i}", "score": 1.5} for i in range(40)]}
        )
        content = {"size": len(text), "mimeType": "application/json", "text": text}
    elif kind < 0.8:
        text = f"function f{index}(a,b){{return a?b:0}}\n" * rng.randint(200, 1500)
        content = {"size": len(text), "mimeType": "text/javascript", "text": text}
    elif kind < 0.92:
        raw = rng.randbytes(rng.randint(2_000, 30_000))
        text = base64.b64encode(raw).decode()
        content = {"size": len(raw), "mimeType": "image/png", "text": text, "encoding": "base64"}
    else:
        text = "<html><body>" + "<p>Bonjour</p>" * rng.randint(100, 2000) + "</body></html>"
        content = {"size": len(text), "mimeType": "text/html", "text": text}
    return {
        "startedDateTime": "2024-05-01T10:00:00.000Z",
        "time": 12.5,
        "request": {
            "method": "GET",
            "url": f"https://app.example.com/api/items/{index}?page=2&access_token=tok{index}",
            "httpVersion": "HTTP/2",
            "headers": [
                *_headers(rng, 12),
                {"name": "authorization", "value": f"Bearer {API_KEY}"},
                {"name": "cookie", "value": f"sid=s{index}"},
            ],
            "cookies": [{"name": "sid", "value": f"s{index}"}],
            "queryString": [
                {"name": "page", "value": "2"},
                {"name": "access_token", "value": f"tok{index}"},
            ],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "HTTP/2",
            "headers": _headers(rng, 8),
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": content["size"],
        },
        "cache": {},
        "timings": {"blocked": 0.5, "dns": -1, "send": 0.1, "wait": 10.2, "receive": 1.7},
    }


@pytest.fixture(scope="module")
def large_har() -> bytes:
    rng = random.Random(25)
    parts = [b'{"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [']
    size, index = len(parts[0]), 0
    while size < SIZE:
        part = (b"," if index else b"") + json.dumps(_entry(rng, index)).encode()
        parts.append(part)
        size, index = size + len(part), index + 1
    parts.append(b"]}}")
    return b"".join(parts)


def _scrub(scrubber: Scrubber, data: bytes, sink: Callable[[bytes], None]) -> None:
    for start in range(0, len(data), CHUNK):
        sink(scrubber.feed(data[start : start + CHUNK]))
    sink(scrubber.close())


def _measure(make: Callable[[], Scrubber], data: bytes) -> tuple[int, float, Scrubber]:
    """Peak traced memory (the upload itself is not counted: it arrives in chunks), and
    throughput in MB/s, from a second run without tracing."""
    written = 0
    tail = b""

    def sink(piece: bytes) -> None:  # as the store's writer: counts, keeps only a tail
        nonlocal written, tail
        written += len(piece)
        tail = (tail + piece)[-64:]

    tracemalloc.start()
    try:
        _scrub(make(), data, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    scrubber = make()
    started = time.perf_counter()
    _scrub(scrubber, data, lambda piece: None)
    throughput = len(data) / (time.perf_counter() - started) / 1e6
    assert written > 0.8 * len(data)
    return peak, throughput, scrubber


def test_a_25_mb_har_is_scrubbed_in_bounded_memory(large_har: bytes) -> None:
    peak, throughput, scrubber = _measure(HarScrubber, large_har)
    print(
        f"\nHAR {len(large_har) / 1e6:.1f} MB, ijson backend {IJSON_BACKEND}: "
        f"peak {peak / 1e6:.2f} MB traced, {throughput:.1f} MB/s"
    )
    assert peak < PEAK_LIMIT
    entries = large_har.count(b'"startedDateTime"')
    assert scrubber.redactions["headers"] == 2 * entries
    assert scrubber.redactions["query_params"] == 2 * entries


def test_a_25_mb_text_is_scrubbed_in_bounded_memory(large_har: bytes) -> None:
    peak, throughput, scrubber = _measure(TextScrubber, large_har)
    print(f"\ntext {len(large_har) / 1e6:.1f} MB: peak {peak / 1e6:.2f} MB, {throughput:.1f} MB/s")
    assert peak < PEAK_LIMIT
    assert scrubber.redactions["api_keys"] == large_har.count(API_KEY.encode())


def test_the_scrubbed_large_har_still_parses(large_har: bytes) -> None:
    out: list[bytes] = []
    _scrub(
        HarScrubber(),
        large_har[: 2 * 1024 * 1024].rsplit(b',{"startedDateTime"', 1)[0] + b"]}}",
        out.append,
    )
    parsed = json.loads(b"".join(out))
    first = parsed["log"]["entries"][0]["request"]
    assert first["headers"][-2] == {"name": "authorization", "value": REDACTED}
    assert "access_token=[REDACTED]" in first["url"]
