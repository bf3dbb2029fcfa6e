"""Who is looking at the dashboard, and the CSRF check on every form it posts.

The dashboard signs in with a form and keeps the session in a cookie (HttpOnly, SameSite=Lax). Every form
carries the session's CSRF token in a hidden field; a POST without the right one changes nothing (a form with
files has it checked before its first file is written). The login form itself, posted before any session
exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData

from activities.documents import DocumentStore
from core.settings import Settings
from web import auth
from web.auth import Session, UserRole
from web.deps import SESSION_COOKIE, Db, Now, session_from_cookie
from web.uploads import Upload, UploadLimits, read_upload

LOGIN_CSRF_COOKIE = "nopic_login_csrf"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """Raised by a page that needs a session; the app answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_url(next_path: str) -> str:
    return f"/ui/login?next={quote(next_path, safe='/')}"


async def viewer(request: Request, pool: Db, at: Now) -> Session:
    session = await session_from_cookie(pool, request.cookies.get(SESSION_COOKIE), at)
    if session is None:
        raise LoginRequired(request.url.path)
    return session


Viewer = Annotated[Session, Depends(viewer)]


def require_role(session: Session, *roles: UserRole) -> None:
    if session.user.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise HTTPException(
            403, f"This page is for a {names}; you are signed in as a {session.user.role.value}."
        )


def _check_csrf(sent: object, session: Session) -> None:
    if not isinstance(sent, str) or not auth.same_secret(sent, session.csrf_token):
        raise HTTPException(403, "The form is out of date or did not come from this site: reload the page.")


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form (not multipart: `checked_upload` reads those), once its CSRF token is the session's."""
    form = await request.form()
    _check_csrf(form.get(CSRF_FIELD), session)
    return form


async def checked_upload(
    request: Request, session: Session, store: DocumentStore, config: Settings
) -> Upload:
    """A posted form with files (multipart), read as a stream: its CSRF token, which the page puts first,
    is checked before the first file is written. Use it as a context manager: unkept files are deleted."""
    limits = UploadLimits.from_settings(config)
    upload = await read_upload(
        request, limits, store.incoming, lambda sent: _check_csrf(sent.get(CSRF_FIELD), session)
    )
    try:
        _check_csrf(upload.get(CSRF_FIELD), session)
    except HTTPException:
        upload.discard()
        raise
    return upload


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)
