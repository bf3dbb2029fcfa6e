"""The web dashboard: server-rendered pages under `/ui`, for reviewers, exporters and admins."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from core.settings import Settings
from web.dashboard.forms import local_and_zone, time_zones
from web.dashboard.pages import router
from web.dashboard.render import templates
from web.dashboard.session import LoginRequired, login_url


def when(value: datetime | date | None, zone: ZoneInfo | None = None) -> str:
    """A time as people read it, in the certifier's zone when one is given."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        local = value.astimezone(zone) if zone else value
        return local.strftime("%d %b %Y %H:%M %Z").replace("UTC-", "UTC−")
    return value.strftime("%d %b %Y")


templates.env.filters["when"] = when

Handler = Callable[[Request, Exception], Awaitable[Response]]


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Mount the pages and their stylesheet; errors under /ui answer as pages, elsewhere as JSON."""
    # Times on the pages are the certifier's local times.
    templates.env.globals["zone"] = ZoneInfo(settings.timezone)
    # Times typed in: a date-time picker and one of these zones beside it.
    zones = time_zones(settings.timezone)
    templates.env.globals["time_zones"] = zones
    templates.env.globals["local_and_zone"] = lambda moment: local_and_zone(moment, zones)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=303)

    async def login_required(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    async def error_page(request: Request, answer: Response) -> Response:
        """The API's error answer as a page: the same status and message, for a person."""
        body = json.loads(bytes(answer.body)) if isinstance(answer, JSONResponse) else {}
        message = body.get("error", {}).get("message", "Something went wrong.")
        context = {"status": answer.status_code, "message": message}
        page = templates.TemplateResponse(request, "error.html", context, status_code=answer.status_code)
        page.headers.update({k: v for k, v in answer.headers.items() if k.lower() == "retry-after"})
        return page

    app.add_exception_handler(LoginRequired, login_required)
    kinds = [kind for kind in app.exception_handlers if kind is not LoginRequired and isinstance(kind, type)]
    for kind in kinds:
        json_handler: Handler = app.exception_handlers[kind]  # type: ignore[assignment]

        async def by_path(request: Request, exc: Exception, json_handler: Handler = json_handler) -> Response:
            answer: Response = await json_handler(request, exc)
            if request.url.path.startswith("/ui") and answer.status_code >= 400:
                return await error_page(request, answer)
            return answer

        app.add_exception_handler(kind, by_path)
