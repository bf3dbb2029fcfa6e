"""Security headers on every answer of the HTTP service, for a service reachable from the open internet.

A strict Content-Security-Policy (the dashboard needs no script and no inline style: only its own
stylesheet and its own forms), no framing by another site, no content sniffing, no referrer sent on, and
`no-store` on everything but the stylesheet (the pages and answers carry people's data, and the users page
new passwords). HSTS once the service is served over HTTPS (`NOPIC_COOKIE_SECURE`). A route may set a CSP of
its own: documents and NOPIC PDFs are sent as attachments with a sandboxing one, the API's interactive
documentation (Swagger UI, from its CDN) with the one it needs.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# For a stored document or a NOPIC PDF: never run anything it holds, even opened in the browser.
DOCUMENT_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load from their CDN and start with an inline script: their pages only.
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
CACHEABLE_PREFIX = "/ui/static/"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    policy = DOCS_POLICY if path in DOCS_PATHS else PAGE_POLICY
                    headers["Content-Security-Policy"] = policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                if not path.startswith(CACHEABLE_PREFIX):
                    headers["Cache-Control"] = "no-store"
                if self.https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_headers)


def attachment_headers(filename: str) -> dict[str, str]:
    """A stored document or a PDF: downloaded, never rendered as part of the site, nothing in it run."""
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Security-Policy": DOCUMENT_POLICY,
    }
