"""Everyone's own account: change one's password (the other sessions end, this one stays)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from web import auth
from web.auth import PasswordChange, PasswordRefused
from web.dashboard import forms
from web.dashboard.render import base, page
from web.dashboard.session import Viewer, checked_form
from web.deps import SESSION_COOKIE, ClientAddress, Db, Now, Throttle
from web.errors import field_errors
from web.throttle import SignInsThrottled

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/account")
async def account_page(request: Request, session: Viewer, at: Now) -> HTMLResponse:
    return page(request, "account.html", base(session, at, error=None, changed=False))


@router.post("/account/password")
async def change_password(
    request: Request, session: Viewer, pool: Db, at: Now, throttle: Throttle, address: ClientAddress
) -> HTMLResponse:
    form = await checked_form(request, session)
    user = session.user
    error, status_code, headers = None, 200, {}
    try:
        change = PasswordChange(
            current_password=forms.text(form, "current_password") or "",
            new_password=forms.text(form, "new_password") or "",
        )
        if change.new_password != (forms.text(form, "repeat_password") or ""):
            raise PasswordRefused("repeat_password: is not the same as the new password")
        await throttle.check(pool, user.username, address, at)
        if not await auth.change_password(pool, user, change, request.cookies.get(SESSION_COOKIE)):
            await throttle.failed(pool, user.username, address, at)
            error, status_code = "current password: is not your current password.", 403
    except ValidationError as exc:
        error = "; ".join(f"{f.field.replace('_', ' ')}: {f.message}" for f in field_errors(exc.errors()))
        status_code = 422
    except PasswordRefused as exc:
        error, status_code = str(exc).replace("_", " "), 422
    except SignInsThrottled as exc:
        error, status_code, headers = exc.message, exc.status, exc.headers
    context = base(session, at, error=error, changed=error is None)
    response = page(request, "account.html", context, status_code=status_code)
    response.headers.update(headers)
    return response
