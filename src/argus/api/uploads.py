"""Reading an uploaded file while it streams in, within a byte budget.

FastAPI parses ``File``/``Form`` parameters (Starlette spools the whole multipart body to a
temporary file) before it runs a route's dependencies, so an anonymous 40 MB upload used to be
read in full before its 401. A route that takes the raw :class:`~starlette.requests.Request`
instead runs its authentication dependencies first and then calls :func:`read_upload`, which
feeds ``request.stream()`` to python-multipart's incremental parser as the chunks arrive and
stops with a 413 at the first byte beyond the budget, without reading the rest.

:class:`CloseUnreadBodyMiddleware` makes a refusal final: an answer sent before the request body
was read to its end carries ``Connection: close``, so the server closes the connection instead of
draining (reading and discarding) the rest of the body to keep it alive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Room for the multipart envelope (boundaries, part headers, small form fields) around a file.
MULTIPART_SLACK_BYTES = 64 * 1024
#: Largest value of a non-file form field (``partial=true``).
MAX_FIELD_BYTES = 1024


@dataclass
class UploadForm:
    """The file part (``data``, ``filename``) and the small text fields of a multipart body."""

    data: bytes | None = None
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _too_large(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=detail)


async def read_upload(request: Request, *, file_field: str, max_file_bytes: int) -> UploadForm:
    """Read a ``multipart/form-data`` body as it arrives: one file part of at most
    ``max_file_bytes`` and small text fields; the whole body may be ``MULTIPART_SLACK_BYTES``
    larger than the file. Raises 413 as soon as a limit is passed (a declared ``Content-Length``
    is checked before any byte is read), 415 for another content type, 422 for a malformed body
    or a missing file part."""
    max_total = max_file_bytes + MULTIPART_SLACK_BYTES
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="content-type: send multipart/form-data with a 'file' part",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_total:
        raise _too_large(
            f"request body: Content-Length {int(declared)} exceeds {max_total} bytes "
            f"(ARGUS_UPLOAD_MAX_BYTES plus {MULTIPART_SLACK_BYTES} for the form)"
        )

    form = UploadForm()
    file_buf = bytearray()
    header_field = bytearray()
    header_value = bytearray()
    part_headers: dict[bytes, bytes] = {}
    current: dict[str, object] = {}  # name, is_file, buf of the part being read
    file_overflow = False
    field_overflow: list[str] = []

    def on_part_begin() -> None:
        part_headers.clear()
        current.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        part_headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(part_headers.get(b"content-disposition"))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        is_file = name == file_field and form.data is None
        current.update(name=name, is_file=is_file, buf=file_buf if is_file else bytearray())
        if is_file:
            raw = disp.get(b"filename")
            form.filename = None if raw is None else raw.decode("utf-8", "replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal file_overflow
        buf = current.get("buf")
        if not isinstance(buf, bytearray):
            return
        if current["is_file"]:
            if len(buf) + (end - start) > max_file_bytes:
                file_overflow = True
                return
        elif len(buf) + (end - start) > MAX_FIELD_BYTES:
            field_overflow.append(str(current["name"]))
            return
        buf.extend(data[start:end])

    def on_part_end() -> None:
        buf = current.get("buf")
        if not isinstance(buf, bytearray):
            return
        if current["is_file"]:
            form.data = bytes(buf)
        elif current["name"] not in form.fields:
            form.fields[str(current["name"])] = buf.decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_total:
                raise _too_large(
                    f"request body: more than {max_total} bytes (ARGUS_UPLOAD_MAX_BYTES plus "
                    f"{MULTIPART_SLACK_BYTES} for the form); the rest was not read"
                )
            parser.write(chunk)
            if file_overflow:
                raise _too_large(f"{file_field}: larger than {max_file_bytes} bytes")
            if field_overflow:
                raise _too_large(f"{field_overflow[0]}: longer than {MAX_FIELD_BYTES} bytes")
        parser.finalize()
    except MultipartParseError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"request body: malformed multipart ({exc})",
        ) from None
    if form.data is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"{file_field}: missing (send the file as the form part '{file_field}')",
        )
    return form


class CloseUnreadBodyMiddleware:
    """An answer sent before the request body was read to its end closes the connection.

    Without it the server keeps the connection alive by reading and discarding the rest of the
    body: a refused 40 MB upload would still be received in full. Requests without a body
    (no ``Content-Length`` or a zero one, and no ``Transfer-Encoding``) pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def receive_tracked() -> Message:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message["headers"] = [*headers, (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive_tracked, send_closing)


def _has_body(scope: Scope) -> bool:
    for k, v in scope["headers"]:
        if k == b"transfer-encoding":
            return True
        if k == b"content-length":
            return v.strip() not in (b"", b"0")
    return False


async def read_bounded_body(request: Request, max_bytes: int, *, what: str = "body") -> bytes:
    """The raw request body, at most ``max_bytes``: a declared ``Content-Length`` over the
    budget is refused before any byte is read, and a streamed body at the first chunk past it
    (413 naming the limit). Call it after the route's authorization dependencies ran."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(f"{what}: at most {max_bytes} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > max_bytes:
            raise _too_large(f"{what}: at most {max_bytes} bytes")
    return bytes(raw)
