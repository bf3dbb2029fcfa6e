"""Limits on what a client may send, checked before a route reads the body.

A JSON (or form) body larger than `MAX_JSON_BYTES` is refused with 413 before it is parsed, whether its
length is announced (Content-Length) or not (chunked). Multipart bodies are accepted by the upload routes
only (`UPLOAD_ROUTES`; 415 elsewhere, so nothing is ever spooled to disk for a sign-in form), and one
announcing more than the total upload limit is refused with 413 before a byte of it is read; the upload
routes then read it as a stream within the same limits (`web.uploads`), counting what actually comes.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import FieldError, error_response

# The largest request form with many commodities and documents is a few tens of KiB.
MAX_JSON_BYTES = 1024 * 1024

# The routes that take files: the API's uploads and the dashboard's forms with a file input.
UPLOAD_ROUTES = re.compile(
    r"^(/requests/[^/]+/documents|/documents"
    r"|/ui/requests/new|/ui/requests/[^/]+/(documents|correct|actions/[^/]+))$"
)


class BodyLimits:
    """ASGI middleware: bodies over their limit get 413, multipart off the upload routes 415."""

    def __init__(self, app: ASGIApp, upload_limit: int, limit: int = MAX_JSON_BYTES) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        announced = int(length) if length is not None and length.isdigit() else None
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            if not UPLOAD_ROUTES.match(scope["path"]):
                refusal = "multipart bodies are taken by the upload routes only"
                await self._refuse(scope, receive, send, 415, refusal)
                return
            if announced is not None and announced > self.upload_limit:
                await self._too_large(scope, receive, send, self.upload_limit)
                return
            await self.app(scope, receive, send)  # read as a stream by the route, within the limits
            return
        if announced is not None and announced > self.limit:
            await self._too_large(scope, receive, send, self.limit)
            return
        # No length announced, or a small one: read the body up to the limit, then hand it on.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send, self.limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await self._refuse(scope, receive, send, 413, f"the body is larger than the limit of {limit} bytes")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        code = "body_too_large" if status == 413 else "unsupported_media_type"
        rule = "max_bytes" if status == 413 else "media_type"
        fields = [FieldError(field="body", rule=rule, message=message)]
        response = error_response(status, code, f"body: {message}", fields)
        await response(scope, receive, send)
