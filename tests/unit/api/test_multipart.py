"""The streaming form reader: parts and their bytes as they arrive, however the body is cut."""

from collections.abc import AsyncIterator

import pytest
from zumik_api.http.errors import ApiError
from zumik_api.http.multipart import MAX_PARTS, MultipartReader

CONTENT_TYPE = "multipart/form-data; boundary=XyZ"
BODY = (
    b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nsupport_attachment\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="caf\xc3\xa9.har"\r\n'
    b"Content-Type: application/json\r\n\r\n"
    + b'{"log": {"entries": []}} --XyZ\r\n-XyZ'  # the boundary's text inside the data
    + b"\r\n--XyZ--\r\n"
)


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def read_all(body: bytes, size: int) -> list[tuple[str, str | None, str | None, bytes]]:
    reader = MultipartReader(pieces(body, size), CONTENT_TYPE)
    found = []
    while (part := await reader.next_part()) is not None:
        data = b"".join([piece async for piece in reader.part_data()])
        found.append((part.name, part.filename, part.content_type, data))
    return found


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
async def test_parts_come_whole_however_the_body_is_cut(size: int) -> None:
    assert await read_all(BODY, size) == [
        ("purpose", None, None, b"support_attachment"),
        (
            "file",
            "café.har",
            "application/json",
            b'{"log": {"entries": []}} --XyZ\r\n-XyZ',
        ),
    ]


async def test_a_file_part_streams_before_the_body_ends() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        for _ in range(3):
            yield b"x" * 1000
        raise AssertionError("read further than the test did")

    reader = MultipartReader(body(), CONTENT_TYPE)
    part = await reader.next_part()
    assert part is not None
    stream = reader.part_data()
    received = 0
    while received < 2000:
        received += len(await anext(stream))
    assert received >= 2000


async def test_unread_data_is_skipped_to_the_next_part() -> None:
    reader = MultipartReader(pieces(BODY, 5), CONTENT_TYPE)
    assert (await reader.next_part()) is not None
    second = await reader.next_part()
    assert second is not None
    assert second.name == "file"
    assert await reader.next_part() is None


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("application/json", b"{}", "invalid_content_type"),
        ("multipart/form-data", BODY, "invalid_content_type"),  # no boundary
        (CONTENT_TYPE, BODY[:80], "invalid_multipart"),  # cut short
        (CONTENT_TYPE, b"", "invalid_multipart"),
        (
            CONTENT_TYPE,
            b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n",
            "invalid_multipart",
        ),
        (
            CONTENT_TYPE,
            b"".join(
                b'--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'
                for _ in range(MAX_PARTS + 1)
            )
            + b"--XyZ--\r\n",
            "invalid_multipart",
        ),
    ],
)
async def test_malformed_forms_are_400(content_type: str, body: bytes, code: str) -> None:
    async def read() -> None:
        reader = MultipartReader(pieces(body, 16), content_type)
        while await reader.next_part() is not None:
            async for _ in reader.part_data():
                pass

    with pytest.raises(ApiError) as raised:
        await read()
    assert raised.value.status_code == 400
    assert raised.value.detail.code == code


async def test_a_field_value_is_bounded() -> None:
    body = b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n' + b"p" * 2000
    reader = MultipartReader(pieces(body + b"\r\n--XyZ--\r\n", 100), CONTENT_TYPE)
    assert await reader.next_part() is not None
    with pytest.raises(ApiError) as raised:
        await reader.read_field("purpose")
    assert raised.value.detail.param == "purpose"
