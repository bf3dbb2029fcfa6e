"""Multipart uploads read as a stream, each file written as it arrives next to its final place.

Only the upload routes accept multipart bodies (`web.limits` refuses the others, and any body over the
total limit, before a byte is read), and they read one only after the caller is authenticated: a route
declares no File or Form parameter (FastAPI would parse those before any dependency runs), it calls
`read_upload` once its user is known. Each file goes straight into `<documents>/.incoming/` (same file
system as the store, so keeping it is a rename), hashed on the way, never held whole in memory and never
in the system's temporary directory. Limits: the total body, the number of files, each file's size, the
number and size of the other fields; past one, reading stops and what was written is deleted. A dashboard
form's CSRF token comes before its files, and is checked before the first file is written (`before_files`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from core.settings import Settings
from web.errors import ApiError, FieldError

HEAD_BYTES = 16  # enough for the store to recognise PDF, PNG and JPEG by their first bytes
MAX_FIELDS = 200
MAX_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class UploadLimits:
    request_bytes: int
    files: int
    file_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(settings.max_upload_request_bytes, settings.max_upload_files, settings.max_upload_bytes)


def too_large(field: str, what: str, limit: int, unit: str = "bytes") -> ApiError:
    message = f"{what} more than the limit of {limit} {unit}"
    fields = [FieldError(field=field, rule=f"max_{unit}", message=message)]
    return ApiError(413, "upload_too_large", f"{field}: {message}", fields)


def malformed(message: str) -> ApiError:
    fields = [FieldError(field="body", rule="multipart", message=message)]
    return ApiError(422, "invalid_upload", f"body: {message}", fields)


@dataclass
class IncomingFile:
    """One uploaded file, written whole under the incoming folder, not yet in the document store."""

    field: str
    filename: str
    path: Path
    size: int = 0
    head: bytes = b""
    sha256: str = ""


@dataclass
class Upload:
    """The fields and files of one multipart body; the files not taken by the store are deleted on exit."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[IncomingFile] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def file(self, name: str) -> IncomingFile | None:
        return next((f for f in self.files if f.field == name), None)

    def files_of(self, name: str) -> list[IncomingFile]:
        return [f for f in self.files if f.field == name]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self.fields)

    def discard(self) -> None:
        for incoming in self.files:
            incoming.path.unlink(missing_ok=True)

    async def __aenter__(self) -> Upload:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.discard)


class _Reader:
    """python-multipart's callbacks, collecting fields and streaming file parts to their files."""

    def __init__(self, limits: UploadLimits, incoming: Path, before_files: Callable[[Upload], None] | None):
        self.limits = limits
        self.incoming = incoming
        self.before_files = before_files
        self.upload = Upload()
        self._name = b""
        self._value = b""
        self._disposition = b""
        self._field: str | None = None
        self._data = bytearray()
        self._file: IncomingFile | None = None
        self._skipping = False  # a file input left empty: its (empty) part is not a file
        self._hash = hashlib.sha256()
        self.pending: list[tuple[IncomingFile, bytes]] = []
        self._handles: dict[Path, int] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": lambda data, start, end: self._add("_name", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)
        if len(self._name) + len(self._value) > MAX_FIELD_BYTES:
            raise malformed("a part's headers are too long")

    def _part_begin(self) -> None:
        self._disposition, self._field, self._file, self._skipping = b"", None, None, False
        self._data = bytearray()

    def _header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise malformed('every part needs a Content-Disposition with a "name"')
        self._field = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.upload.fields) >= MAX_FIELDS:
                raise malformed(f"more than {MAX_FIELDS} fields")
            return
        filename = options[b"filename"].decode("utf-8", "replace")
        if not filename:
            self._skipping = True
            return
        if len(self.upload.files) >= self.limits.files:
            raise too_large("files", "holds", self.limits.files, "files")
        if self.before_files is not None and not self.upload.files:
            self.before_files(self.upload)
        self._file = IncomingFile(
            field=self._field, filename=filename, path=self.incoming / f"upload-{secrets.token_hex(16)}"
        )
        self._hash = hashlib.sha256()
        self.upload.files.append(self._file)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._skipping:
            return
        if self._file is None:
            if len(self._data) + len(chunk) > MAX_FIELD_BYTES:
                raise malformed(f"the field {self._field!r} is longer than {MAX_FIELD_BYTES} bytes")
            self._data.extend(chunk)
            return
        self._file.size += len(chunk)
        if self._file.size > self.limits.file_bytes:
            field = self._file.field
            if field == "files":  # the API's list of files: which one, by its position
                field = f"files.{len(self.upload.files_of('files')) - 1}"
            raise too_large(field, "is", self.limits.file_bytes)
        if len(self._file.head) < HEAD_BYTES:
            self._file.head += chunk[: HEAD_BYTES - len(self._file.head)]
        self._hash.update(chunk)
        self.pending.append((self._file, bytes(chunk)))

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.sha256 = self._hash.hexdigest()
        elif self._field is not None and not self._skipping:
            self.upload.fields.append((self._field, self._data.decode("utf-8", "replace")))

    def write_pending(self) -> None:
        """Append the data received so far to its files (on a thread: it is disk I/O)."""
        for incoming, chunk in self.pending:
            handle = self._handles.get(incoming.path)
            if handle is None:
                self.incoming.mkdir(parents=True, exist_ok=True)
                handle = os.open(incoming.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                self._handles[incoming.path] = handle
            os.write(handle, chunk)
        self.pending.clear()

    def close(self, sync: bool) -> None:
        for handle in self._handles.values():
            if sync:
                os.fsync(handle)
            os.close(handle)
        self._handles.clear()


async def read_upload(
    request: Request,
    limits: UploadLimits,
    incoming: Path,
    before_files: Callable[[Upload], None] | None = None,
) -> Upload:
    """Read the request's multipart body within `limits`; files under `incoming`. Use it as a context
    manager (`async with await read_upload(...) as upload:`) so unkept files are deleted."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise ApiError(415, "multipart_expected", "body: must be multipart/form-data with a boundary")
    reader = _Reader(limits, incoming, before_files)
    parser = MultipartParser(options[b"boundary"], reader.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limits.request_bytes:
                raise too_large("body", "is", limits.request_bytes)
            parser.write(chunk)
            if reader.pending:
                await asyncio.to_thread(reader.write_pending)
        parser.finalize()
        await asyncio.to_thread(reader.write_pending)
        await asyncio.to_thread(reader.close, True)
    except BaseException as error:
        await asyncio.to_thread(reader.close, False)
        await asyncio.to_thread(reader.upload.discard)
        if isinstance(error, FormParserError):
            raise malformed(f"is not valid multipart data ({error})") from error
        raise
    # A file whose part never ended (a body cut short) has no hash: it is not a file.
    unfinished = [f for f in reader.upload.files if not f.sha256]
    if unfinished:
        reader.upload.discard()
        raise malformed("ends in the middle of a file")
    return reader.upload
