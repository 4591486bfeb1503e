"""A `multipart/form-data` body read as it arrives, one part after another.

Starlette's own form parsing spools each file to a temporary file before the route runs; here a
file part's bytes go on to whoever reads `part_data()` as they come off the socket, so an upload
is never held whole, in memory or on disk. The push parser of python-multipart cuts the stream;
what it finds in one received piece of the body (at most the piece itself) waits in a queue until
it is read.
"""

import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from zumik_api.http.errors import ApiError

MAX_PARTS = 8
MAX_HEADER_BYTES = 8 * 1024
MAX_FIELD_BYTES = 1024


def invalid_form(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", "invalid_multipart", message, param)


@dataclass
class FormPart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass
class _Headers:
    fields: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)


Event = tuple[str, object]


class MultipartReader:
    def __init__(self, body: AsyncIterator[bytes], content_type: str | None) -> None:
        media_type, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if media_type != b"multipart/form-data" or not boundary:
            raise ApiError(
                400,
                "invalid_request_error",
                "invalid_content_type",
                "Upload a file as multipart/form-data, with the fields `file` (the file) and "
                "`purpose` (`support_attachment`).",
            )
        self._body = body
        self._events: collections.deque[Event] = collections.deque()
        self._headers = _Headers()
        self._parts = 0
        self._in_part = False
        self._done = False
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_size=MAX_HEADER_BYTES,
        )

    # -- what the route reads ------------------------------------------------------------------

    async def next_part(self) -> FormPart | None:
        """The next part's name and file headers (skipping what is left of the current part's
        data); None once the body ended."""
        while True:
            event = await self._next_event()
            if event is None:
                return None
            if event[0] == "end":
                self._in_part = False
            elif event[0] == "part":
                self._in_part = True
                part = event[1]
                assert isinstance(part, FormPart)
                return part

    async def part_data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, as they arrive."""
        while self._in_part:
            event = await self._next_event()
            if event is None or event[0] == "end":
                self._in_part = False
                return
            if event[0] == "data":
                data = event[1]
                assert isinstance(data, bytes)
                yield data

    async def read_field(self, name: str) -> str:
        """The current part's whole value, as UTF-8 text of at most `MAX_FIELD_BYTES`."""
        value = bytearray()
        async for data in self.part_data():
            value += data
            if len(value) > MAX_FIELD_BYTES:
                raise invalid_form(f"The field `{name}` is too long.", name)
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise invalid_form(f"The field `{name}` is not UTF-8 text.", name) from None

    # -- feeding the parser --------------------------------------------------------------------

    async def _next_event(self) -> Event | None:
        while not self._events:
            if self._done:
                return None
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._done = True
                if self._in_part or not self._ended:
                    raise invalid_form(
                        "The multipart body ended before its closing boundary."
                    ) from None
                return None
            try:
                self._parser.write(chunk)
            except MultipartParseError:
                raise invalid_form("The multipart body is malformed.") from None
        return self._events.popleft()

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise invalid_form(f"The form has more than {MAX_PARTS} fields.")
        self._headers = _Headers()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._headers.name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._headers.value += data[start:end]

    def _on_header_end(self) -> None:
        headers = self._headers
        headers.fields.append((bytes(headers.name).lower(), bytes(headers.value)))
        headers.name.clear()
        headers.value.clear()

    def _on_headers_finished(self) -> None:
        fields = dict(self._headers.fields)
        disposition, options = parse_options_header(fields.get(b"content-disposition", b""))
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise invalid_form("A part of the form has no `Content-Disposition: form-data` name.")
        filename = options.get(b"filename")
        content_type = fields.get(b"content-type")
        self._events.append(
            (
                "part",
                FormPart(
                    name=_text(name),
                    filename=None if filename is None else _text(filename),
                    content_type=None if content_type is None else _text(content_type),
                ),
            )
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append(("end", None))

    def _on_end(self) -> None:
        self._ended = True


def _text(value: bytes) -> str:
    """A header parameter: browsers send UTF-8 (older clients Latin-1)."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")
