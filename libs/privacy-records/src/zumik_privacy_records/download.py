"""Turning a stored export into the export file, streamed, with its checksum verified.

The file is one JSON object: the export's metadata, then `"tickets": [...]`, the stored byte
stream exactly as the service wrote it (so the `sha256` in the metadata is the SHA-256 of the
bytes after `"tickets":` up to the closing `]`). Chunks are read a couple at a time and written at
their offsets, so memory holds two chunks whatever the export's size, and chunks may come back in
any order (no server-side sort of megabytes of chunks). The file is written under a temporary
name and renamed into place only once the checksum matched.
"""

import asyncio
import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

from pymongo.asynchronous.database import AsyncDatabase
from zumik_contracts.privacy import ExportReference
from zumik_store.mongo import Document

from zumik_privacy_records.claims import COMPLETED
from zumik_privacy_records.exports import EXPORT_CHUNKS, EXPORTS

CHUNKS_PER_READ = 2
_VERIFY_BLOCK = 1024 * 1024


class ExportUnavailable(Exception):
    """The export is gone (expired or erased), incomplete, or does not match its reference."""


def file_header(reference: ExportReference) -> bytes:
    """The file's opening: the metadata object, left open for `"tickets":`."""
    metadata: dict[str, Any] = {"object": "privacy_export", **reference.model_dump(mode="json")}
    text = json.dumps(metadata, ensure_ascii=False)
    return (text[:-1] + ', "tickets": ').encode()


class _Assembler:
    """Blocking file work, run in a thread so the event loop keeps serving the cursor."""

    def __init__(self, file: IO[bytes], reference: ExportReference) -> None:
        self._file = file
        self._reference = reference
        self._header = file_header(reference)
        self._file.write(self._header)
        self.seen: set[int] = set()

    def place(self, seq: int, data: bytes) -> None:
        reference = self._reference
        if not 0 <= seq < reference.chunk_count or seq in self.seen:
            raise ExportUnavailable(f"unexpected chunk {seq} of the export")
        expected = min(reference.chunk_size, reference.bytes - seq * reference.chunk_size)
        if len(data) != expected:
            raise ExportUnavailable(f"chunk {seq} of the export has the wrong size")
        self._file.seek(len(self._header) + seq * reference.chunk_size)
        self._file.write(data)
        self.seen.add(seq)

    def finish(self) -> None:
        reference = self._reference
        if len(self.seen) != reference.chunk_count:
            raise ExportUnavailable("the export is missing chunks")
        self._file.seek(len(self._header) + reference.bytes)
        self._file.write(b"}\n")
        self._file.truncate()
        self._file.flush()
        digest = hashlib.sha256()
        self._file.seek(len(self._header))
        remaining = reference.bytes
        while remaining:
            block = self._file.read(min(_VERIFY_BLOCK, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
        if digest.hexdigest() != reference.sha256:
            raise ExportUnavailable("the downloaded export does not match its sha256")
        os.fsync(self._file.fileno())


async def download_export(
    db: AsyncDatabase[Document], reference: ExportReference, path: Path
) -> None:
    """Write the export to `path`, replacing it only once the whole file checked out."""
    manifest = await db[EXPORTS].find_one({"_id": reference.export_id})
    if manifest is None:
        raise ExportUnavailable("the export no longer exists (expired or erased)")
    if manifest.get("state") != COMPLETED or manifest.get("sha256") != reference.sha256:
        raise ExportUnavailable("the stored export does not match the service's reference")
    partial = path.with_name(f".{path.name}.{reference.export_id}.part")
    try:
        await _write(db, reference, str(manifest["writer"]), partial)
        await asyncio.to_thread(os.replace, partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(partial.unlink)


async def _write(
    db: AsyncDatabase[Document], reference: ExportReference, writer: str, partial: Path
) -> None:
    file = await asyncio.to_thread(_private_file, partial)
    try:
        assembler = await asyncio.to_thread(_Assembler, file, reference)
        chunks = (
            db[EXPORT_CHUNKS]
            .find({"export_id": reference.export_id, "writer": writer}, {"seq": 1, "data": 1})
            .batch_size(CHUNKS_PER_READ)
        )
        async for chunk in chunks:
            await asyncio.to_thread(assembler.place, int(chunk["seq"]), bytes(chunk["data"]))
        await asyncio.to_thread(assembler.finish)
    finally:
        await asyncio.to_thread(file.close)


def _private_file(path: Path) -> IO[bytes]:
    """A new file only its owner can read: an export is personal data."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    return os.fdopen(fd, "w+b")
