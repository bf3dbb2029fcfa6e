"""Signing in and out, and each role's home page."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from web import auth
from web.dashboard.render import (
    ADMIN,
    EXPORTER,
    REVIEWER,
    page,
    see_other,
)
from web.dashboard.session import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    Viewer,
    checked_form,
    new_login_csrf,
)
from web.deps import SESSION_COOKIE, AppSettings, ClientAddress, Db, Now, Throttle, session_lifetime
from web.throttle import SignInsThrottled, sign_in

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, config: AppSettings, next: str = "/ui") -> HTMLResponse:
    token = new_login_csrf()
    response = page(request, "login.html", {"csrf": token, "next": _local(next), "error": None})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=config.cookie_secure,
        path="/ui/login",
    )
    return response


def _local(path: str) -> str:
    """Only a path on this site: a login link must not send the person elsewhere afterwards."""
    # "//host" and "/\\host" are read by browsers as another site.
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/ui"


@router.post("/login")
async def login(
    request: Request,
    pool: Db,
    config: AppSettings,
    at: Now,
    throttle: Throttle,
    address: ClientAddress,
) -> Response:
    form = await request.form()
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)
    next_path = _local(str(form.get("next") or "/ui"))
    if not (isinstance(sent, str) and expected and auth.same_secret(sent, expected)):
        raise HTTPException(403, "The login form is out of date: reload the page and sign in again.")
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    try:
        user = await sign_in(pool, throttle, username, password, address, at)
    except SignInsThrottled as exc:
        context = {"csrf": expected, "next": next_path, "error": exc.message}
        throttled = page(request, "login.html", context, status_code=exc.status)
        throttled.headers.update(exc.headers)
        return throttled
    if user is None:
        context = {"csrf": expected, "next": next_path, "error": "Unknown username or wrong password."}
        return page(request, "login.html", context, status_code=401)
    session_id, _ = await auth.open_session(pool, user, at, session_lifetime(config))
    response = see_other(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(session_lifetime(config).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=config.cookie_secure,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: Viewer, pool: Db) -> Response:
    await checked_form(request, session)
    await auth.close_session(pool, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("")
async def home(session: Viewer) -> Response:
    return see_other(
        {REVIEWER: "/ui/queues", EXPORTER: "/ui/requests", ADMIN: "/ui/users"}[session.user.role]
    )
