"""Attachments (issue 14): upload and download throughput through the API against the store's own
GridFS write and read speed, and the API process's peak memory for a 25 MB upload against a 1 MB
one.

- **Throughput.** A 25 MiB file that sniffs as a ZIP (stored as it is: no scrubbing) goes up as a
  chunked `multipart/form-data` stream made on the fly, and comes down streamed, through a real
  `zumik-api` process on a loopback port. The baseline is PyMongo's `AsyncGridFSBucket` on the
  same server and database: `upload_from_stream` of the same bytes (it buffers them and inserts
  every chunk at once, the fastest it writes) and `open_download_stream` read chunk by chunk.
  Three alternating rounds; the medians and their ratios are the figures. A 25 MiB HAR capture
  (scrubbed as it streams) is timed too, for what scrubbing costs.
- **Memory.** Each size gets a fresh API process; after a small warm-up upload, its resident set
  is read (`VmRSS`), then the upload is made and its peak (`VmHWM`) read. The target compares the
  peaks; the growth above the warmed-up process says what the upload itself took.

`python -m benchmarks files` runs it with the others' wiring; `python -m benchmarks.files` runs it
alone and prints its section.
"""

import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from gridfs import AsyncGridFSBucket
from zumik_accounts.projects import Projects
from zumik_files.store import CHUNK_SIZE
from zumik_store import mongo

from benchmarks.report import Section

MIB = 1024 * 1024
SIZE = 25 * MIB
SMALL = 1 * MIB
ROUNDS = 3
PIECE = 64 * 1024
LOOPBACK = "127.0.0.1"
TITLE = "Attachments (issue 14)"
_SCRUBBED_ENV = (
    "RESEND_API_KEY",
    "RESEND_BASE_URL",
    "OPS_WEBHOOK_URL",
    "OPS_WEBHOOK_SECRET",
    "SUPPORT_TEAM_EMAIL",
    "NOTIFY_FROM_EMAIL",
)


class Services(Protocol):
    @property
    def mongodb_url(self) -> str: ...
    @property
    def amqp_url(self) -> str: ...
    @property
    def log_dir(self) -> Path: ...


@dataclass(frozen=True)
class LocalServices:
    mongodb_url: str
    amqp_url: str
    log_dir: Path


# -- content, made as it is sent -------------------------------------------------------------


_ZIP_HEADER = b"PK\x03\x04\x14\x00" + b"\x00" * 20 + b"\x08\x00\x00\x00" + b"data.bin"
_BLOCK = bytes(range(256)) * (PIECE // 256)


async def zip_bytes(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = (_ZIP_HEADER if sent == 0 else _BLOCK)[: size - sent]
        sent += len(piece)
        yield piece


def har_bytes(size: int) -> bytes:
    """A HAR of about `size` bytes: entries with credentials and a large response body each."""
    entries: list[dict[str, object]] = []
    body = "x" * 200_000
    while len(json.dumps({"log": {"entries": entries}})) < size - 250_000:
        entries.append(
            {
                "request": {
                    "method": "GET",
                    "url": f"https://api.example.com/v1/items?access_token=at-{secrets.token_hex(8)}",
                    "headers": [
                        {"name": "Authorization", "value": f"Bearer tok-{secrets.token_hex(16)}"},
                        {"name": "Accept", "value": "application/json"},
                    ],
                    "cookies": [{"name": "session", "value": secrets.token_hex(16)}],
                    "queryString": [],
                },
                "response": {
                    "status": 200,
                    "headers": [],
                    "cookies": [],
                    "content": {"mimeType": "text/plain", "text": body},
                },
            }
        )
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


def multipart(filename: str, content: AsyncIterator[bytes]) -> tuple[AsyncIterator[bytes], str]:
    boundary = secrets.token_hex(12)

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            f"support_attachment\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        async for piece in content:
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    return body(), f"multipart/form-data; boundary={boundary}"


async def pieces_of(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]


# -- the API process -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _script(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else ["uv", "run", "--no-sync", name]


@dataclass
class Api:
    process: asyncio.subprocess.Process
    base_url: str

    def memory_kib(self, field: str) -> int:
        """`VmRSS` or `VmHWM` of the process, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for process {self.process.pid}")


@contextlib.asynccontextmanager
async def api_process(services: Services, mongodb_url: str) -> AsyncIterator[Api]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(
        {
            "MONGODB_URL": mongodb_url,
            "AMQP_URL": services.amqp_url,
            "API_HOST": LOOPBACK,
            "API_PORT": str(port),
            "SLA_SCHEDULER_ENABLED": "false",
        }
    )
    log_path = services.log_dir / "files-api.log"
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            *_script("zumik-api"),
            env=env,
            cwd=services.log_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    api = Api(process, f"http://{LOOPBACK}:{port}")
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=5) as client:
            deadline = time.monotonic() + 90
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"zumik-api exited; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"zumik-api not ready in 90 s; see {log_path}")
                await asyncio.sleep(0.25)
        yield api
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def upload(
    client: httpx.AsyncClient, key: str, filename: str, content: AsyncIterator[bytes]
) -> dict[str, object]:
    body, content_type = multipart(filename, content)
    response = await client.post(
        "/v2/support/files",
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
        content=body,
        timeout=300,
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text[:300]}")
    answer: dict[str, object] = response.json()
    return answer


async def download(client: httpx.AsyncClient, key: str, file_id: object) -> int:
    size = 0
    async with client.stream(
        "GET",
        f"/v2/support/files/{file_id}/content",
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    ) as response:
        response.raise_for_status()
        async for piece in response.aiter_raw():
            size += len(piece)
    return size


# -- the measurements ------------------------------------------------------------------------


def _database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def _rate(size: int, seconds: float) -> float:
    return size / MIB / seconds


@dataclass
class Rounds:
    gridfs_write: list[float]
    api_upload: list[float]
    gridfs_read: list[float]
    api_download: list[float]
    har_upload: list[float]


async def measure_throughput(services: Services, url: str, key: str) -> Rounds:
    client_db = mongo.connect(url, timeout_seconds=60)
    db = mongo.database(client_db)
    bucket = AsyncGridFSBucket(db, bucket_name="bench_raw", chunk_size_bytes=CHUNK_SIZE)
    data = b"".join([piece async for piece in zip_bytes(SIZE)])
    har = har_bytes(SIZE)
    rounds = Rounds([], [], [], [], [])
    try:
        async with (
            api_process(services, url) as api,
            httpx.AsyncClient(base_url=api.base_url) as client,
        ):
            for number in range(ROUNDS):
                raw_id = f"raw_{number}"
                started = time.perf_counter()
                await bucket.upload_from_stream_with_id(raw_id, "raw.zip", data)
                rounds.gridfs_write.append(_rate(SIZE, time.perf_counter() - started))

                started = time.perf_counter()
                file = await upload(client, key, "bench.zip", zip_bytes(SIZE))
                rounds.api_upload.append(_rate(SIZE, time.perf_counter() - started))

                started = time.perf_counter()
                stream = await bucket.open_download_stream(raw_id)
                read = 0
                while chunk := await stream.readchunk():
                    read += len(chunk)
                rounds.gridfs_read.append(_rate(read, time.perf_counter() - started))

                started = time.perf_counter()
                got = await download(client, key, file["id"])
                rounds.api_download.append(_rate(got, time.perf_counter() - started))
                if got != SIZE or read != SIZE:
                    raise RuntimeError(f"read {read} and downloaded {got} of {SIZE} bytes")

                started = time.perf_counter()
                await upload(client, key, "bench.har", pieces_of(har))
                rounds.har_upload.append(_rate(len(har), time.perf_counter() - started))
    finally:
        await client_db.close()
    return rounds


@dataclass(frozen=True)
class Memory:
    size: int
    before_kib: int
    peak_kib: int


async def measure_memory(services: Services, url: str, key: str, size: int) -> Memory:
    """A fresh API process, warmed up by a small upload: its RSS, then its peak after `size`."""
    async with (
        api_process(services, url) as api,
        httpx.AsyncClient(base_url=api.base_url) as client,
    ):
        await upload(client, key, "warm.zip", zip_bytes(64 * 1024))
        await asyncio.sleep(0.5)
        before = api.memory_kib("VmRSS")
        await upload(client, key, "measured.zip", zip_bytes(size))
        return Memory(size, before, api.memory_kib("VmHWM"))


async def measure_download_memory(services: Services, url: str, key: str) -> Memory:
    async with (
        api_process(services, url) as api,
        httpx.AsyncClient(base_url=api.base_url) as client,
    ):
        file = await upload(client, key, "warm.zip", zip_bytes(64 * 1024))
        await download(client, key, file["id"])
        big = await upload(client, key, "big.zip", zip_bytes(SIZE))
        await asyncio.sleep(0.5)
        before = api.memory_kib("VmRSS")
        # The peak so far includes the upload: reset it where the kernel allows.
        with contextlib.suppress(OSError):
            Path(f"/proc/{api.process.pid}/clear_refs").write_text("5")  # noqa: ASYNC240
        await download(client, key, big["id"])
        return Memory(SIZE, before, api.memory_kib("VmHWM"))


async def run(services: Services) -> Section:
    section = Section("files", TITLE)
    name = f"zumik_bench_files_{secrets.token_hex(3)}"
    url = _database_url(services.mongodb_url, name)
    client = mongo.connect(url)
    db = mongo.database(client)
    try:
        projects = Projects(db)
        project = await projects.create("Bench attachments", "enterprise")
        key = (await projects.new_api_key(project.id)).api_key
        rounds = await measure_throughput(services, url, key)
        small = await measure_memory(services, url, key, SMALL)
        large = await measure_memory(services, url, key, SIZE)
        down = await measure_download_memory(services, url, key)
    finally:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
        await client.close()
    _report(section, rounds, small, large, down)
    return section


def _report(section: Section, rounds: Rounds, small: Memory, large: Memory, down: Memory) -> None:
    def row(label: str, values: list[float]) -> list[str]:
        return [label, f"{statistics.median(values):.1f}", ", ".join(f"{v:.1f}" for v in values)]

    section.table(
        "Throughput, 25 MiB (MiB/s; median of 3 alternating rounds)",
        ["operation", "median", "rounds"],
        [
            row("GridFS write (AsyncGridFSBucket.upload_from_stream)", rounds.gridfs_write),
            row("API upload (ZIP: sniffed, stored as it is)", rounds.api_upload),
            row("GridFS read (open_download_stream, readchunk)", rounds.gridfs_read),
            row("API download", rounds.api_download),
            row("API upload (HAR: scrubbed as it streams)", rounds.har_upload),
        ],
    )
    up = statistics.median(rounds.api_upload) / statistics.median(rounds.gridfs_write)
    read = statistics.median(rounds.api_download) / statistics.median(rounds.gridfs_read)

    def mib(kib: int) -> str:
        return f"{kib / 1024:.1f}"

    section.table(
        "API process memory (MiB; a fresh process per row, warmed up by a 64 KiB upload)",
        ["operation", "RSS before", "peak RSS", "growth"],
        [
            [
                f"upload {m.size // MIB} MiB",
                mib(m.before_kib),
                mib(m.peak_kib),
                mib(m.peak_kib - m.before_kib),
            ]
            for m in (small, large)
        ]
        + [
            [
                "download 25 MiB",
                mib(down.before_kib),
                mib(down.peak_kib),
                mib(down.peak_kib - down.before_kib),
            ]
        ],
    )
    section.verdict(
        "upload throughput >= 0.5 x GridFS write",
        up >= 0.5,
        f"{up:.2f} ({statistics.median(rounds.api_upload):.1f} vs "
        f"{statistics.median(rounds.gridfs_write):.1f} MiB/s)",
    )
    section.verdict(
        "download throughput >= 0.5 x GridFS read",
        read >= 0.5,
        f"{read:.2f} ({statistics.median(rounds.api_download):.1f} vs "
        f"{statistics.median(rounds.gridfs_read):.1f} MiB/s)",
    )
    ratio = large.peak_kib / small.peak_kib
    section.verdict(
        "peak RSS of a 25 MiB upload <= 2 x a 1 MiB upload's",
        ratio <= 2,
        f"{ratio:.2f} ({mib(large.peak_kib)} vs {mib(small.peak_kib)} MiB; growth during the "
        f"upload {mib(large.peak_kib - large.before_kib)} vs "
        f"{mib(small.peak_kib - small.before_kib)} MiB)",
    )
    section.note(
        f"Chunks of {CHUNK_SIZE // 1024} KiB. The API holds one chunk being filled and one being "
        "inserted while it uploads, and asks for 4 chunks per round trip while it downloads: "
        "its memory does not follow the file's size. PyMongo's AsyncGridIn would buffer up to "
        "48 MB before inserting, and AsyncGridOut takes 101 chunks in its first batch on FerretDB "
        "(a whole 25 MiB file), so the store writes and reads GridFS's layout itself "
        "(libs/files/src/zumik_files/store.py)."
    )


def main() -> None:
    services = LocalServices(
        mongodb_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"),
        amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        log_dir=Path(tempfile.mkdtemp(prefix="zumik_bench_files_")),
    )
    started = time.monotonic()
    section = asyncio.run(run(services))
    section.seconds = time.monotonic() - started
    from benchmarks.report import text_section

    print(text_section(section))


if __name__ == "__main__":
    main()
