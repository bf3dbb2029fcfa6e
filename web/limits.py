"""Limits on what a client may send, checked before a route reads the body.

A JSON body larger than `MAX_JSON_BYTES` is refused with 413 before it is parsed, whether its length is
announced (Content-Length) or not (chunked). Uploads (multipart) are limited per file by the documents
routes (`max_upload_bytes`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import FieldError, error_response

# The largest request form with many commodities and documents is a few tens of KiB.
MAX_JSON_BYTES = 1024 * 1024


class JsonBodyLimit:
    """ASGI middleware: non-multipart bodies over the limit get 413 in the API's error shape."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if headers.get(b"content-type", b"").startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
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
                await self._refuse(scope, receive, send)
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

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the body is larger than the limit of {self.limit} bytes"
        fields = [FieldError(field="body", rule="max_bytes", message=message)]
        response = error_response(413, "body_too_large", f"body: {message}", fields)
        await response(scope, receive, send)
