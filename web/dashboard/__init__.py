"""The web dashboard: server-rendered pages under `/ui`, for reviewers, exporters and admins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.settings import Settings
from starter.client import EngineUnavailable, RequestNotFound
from web.dashboard.forms import local_and_zone, time_zones
from web.dashboard.pages import router
from web.dashboard.render import templates
from web.dashboard.session import LoginRequired, login_url
from web.errors import ApiError


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

    async def error_page(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ApiError):
            status, message = exc.status, exc.message
        elif isinstance(exc, RequestNotFound):
            status, message = 404, f"There is no request {exc}."
        elif isinstance(exc, EngineUnavailable):
            status, message = 503, str(exc)
        else:
            assert isinstance(exc, StarletteHTTPException)
            status, message = exc.status_code, str(exc.detail)
        context = {"status": status, "message": message}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    app.add_exception_handler(LoginRequired, login_required)
    for kind in (ApiError, StarletteHTTPException, RequestNotFound, EngineUnavailable):
        json_handler: Handler = app.exception_handlers[kind]  # type: ignore[assignment]

        async def by_path(request: Request, exc: Exception, json_handler: Handler = json_handler) -> Response:
            if request.url.path.startswith("/ui"):
                return await error_page(request, exc)
            answer: Response = await json_handler(request, exc)
            return answer

        app.add_exception_handler(kind, by_path)
