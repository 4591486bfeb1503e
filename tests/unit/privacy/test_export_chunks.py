"""The export's byte stream: cut into fixed-size chunks, put back together in any order."""

import hashlib
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from zumik_contracts.privacy import ExportReference, PrivacyScope
from zumik_privacy_records.download import ExportUnavailable, _Assembler, file_header
from zumik_privacy_records.exports import ChunkWriter

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeChunks:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self.docs.append(doc)


async def write(chunks: FakeChunks, pieces: list[bytes], chunk_size: int) -> ChunkWriter:
    checks = 0

    async def before_store() -> None:
        nonlocal checks
        checks += 1

    writer = ChunkWriter(
        cast(Any, chunks),
        export_id="req-1",
        writer="w1",
        project_id="prj_1",
        chunk_size=chunk_size,
        expires_at=NOW,
        before_store=before_store,
    )
    for piece in pieces:
        await writer.write(piece)
    await writer.finish()
    assert checks == len(chunks.docs)  # the claim is checked before every chunk
    return writer


async def test_chunks_have_the_chunk_size_but_the_last() -> None:
    data = bytes(random.Random(1).randbytes(10_000))
    chunks = FakeChunks()

    writer = await write(chunks, [data[:1], data[1:7000], data[7000:]], chunk_size=4096)

    assert [len(d["data"]) for d in chunks.docs] == [4096, 4096, 10_000 - 8192]
    assert [d["seq"] for d in chunks.docs] == [0, 1, 2]
    assert b"".join(d["data"] for d in chunks.docs) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert (writer.size, writer.chunk_count) == (10_000, 3)
    assert {d["_id"] for d in chunks.docs} == {f"req-1:w1:{n:08d}" for n in range(3)}


async def test_an_exact_multiple_has_no_empty_tail_and_nothing_still_has_one_chunk() -> None:
    chunks = FakeChunks()
    await write(chunks, [b"x" * 8192], chunk_size=4096)
    assert [len(d["data"]) for d in chunks.docs] == [4096, 4096]

    empty = FakeChunks()
    writer = await write(empty, [], chunk_size=4096)
    assert [d["data"] for d in empty.docs] == [b""]
    assert writer.chunk_count == 1


def reference(data: bytes, chunk_size: int) -> ExportReference:
    return ExportReference(
        export_id="req-1",
        request_id="req-1",
        project_id="prj_1",
        scope=PrivacyScope(kind="project"),
        generated_at=NOW,
        expires_at=NOW,
        count=2,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chunk_size=chunk_size,
        chunk_count=-(-len(data) // chunk_size),
    )


def test_chunks_arriving_in_any_order_make_the_file(tmp_path: Path) -> None:
    data = b'[{"id": "spt_1"},{"id": "spt_2", "body": "' + b"z" * 9000 + b'"}]'
    ref = reference(data, 4096)
    pieces = [(n, data[n * 4096 : (n + 1) * 4096]) for n in range(ref.chunk_count)]
    random.Random(2).shuffle(pieces)
    path = tmp_path / "export.json"

    assemble(path, ref, pieces)

    written = path.read_bytes()
    assert written == file_header(ref) + data + b"}\n"
    assert written.startswith(b'{"object": "privacy_export", "export_id": "req-1"')


def assemble(path: Path, ref: ExportReference, pieces: list[tuple[int, bytes]]) -> None:
    with path.open("w+b") as file:
        assembler = _Assembler(file, ref)
        for seq, piece in pieces:
            assembler.place(seq, piece)
        assembler.finish()


@pytest.mark.parametrize("damage", ["missing", "short", "flipped", "duplicate"])
def test_a_damaged_export_is_refused(tmp_path: Path, damage: str) -> None:
    data = bytes(range(256)) * 40
    ref = reference(data, 4096)
    pieces = [(n, data[n * 4096 : (n + 1) * 4096]) for n in range(ref.chunk_count)]
    if damage == "missing":
        del pieces[1]
    if damage == "short":
        pieces[0] = (0, pieces[0][1][:-1])
    if damage == "flipped":
        pieces[1] = (1, b"\xff" + pieces[1][1][1:])
    if damage == "duplicate":
        pieces.append(pieces[0])

    with pytest.raises(ExportUnavailable):
        assemble(tmp_path / "x", ref, pieces)
