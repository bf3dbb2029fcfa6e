"""The admins' page: create users (password and token shown once), revoke them, reset a password, issue
a new API token (each shown once)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from web import auth
from web.auth import NewUser, UserExists
from web.dashboard import forms
from web.dashboard.render import (
    ADMIN,
    base,
    page,
    see_other,
)
from web.dashboard.session import (
    Viewer,
    checked_form,
    require_role,
)
from web.deps import AppSettings, Db, Now
from web.errors import field_errors

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/users")
async def users_page(request: Request, session: Viewer, pool: Db, at: Now) -> HTMLResponse:
    require_role(session, ADMIN)
    return await _users_page(request, session, pool, at)


async def _users_page(
    request: Request,
    session: Viewer,
    pool: Db,
    at: Now,
    *,
    status_code: int = 200,
    **shown: object,
) -> HTMLResponse:
    context = {"issued": None, "reset": None, "token": None, "error": None, "values": {}, **shown}
    context = base(session, at, users=await auth.list_users(pool), **context)
    return page(request, "users.html", context, status_code=status_code)


@router.post("/users")
async def create_user(
    request: Request, session: Viewer, pool: Db, config: AppSettings, at: Now
) -> HTMLResponse:
    require_role(session, ADMIN)
    form = await checked_form(request, session)
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    issued, error, status_code = None, None, 201
    try:
        new = NewUser.model_validate(
            {
                "username": forms.text(form, "username"),
                "display_name": forms.text(form, "display_name") or forms.text(form, "username"),
                "role": forms.text(form, "role"),
                "operation_id": forms.text(form, "operation_id"),
            }
        )
        issued = await auth.create_user(pool, new, token_days=config.token_days)
        values = {}
    except ValidationError as exc:
        error, status_code = "; ".join(f"{f.field}: {f.message}" for f in field_errors(exc.errors())), 422
    except UserExists as exc:
        error, status_code = str(exc), 409
    return await _users_page(
        request, session, pool, at, status_code=status_code, issued=issued, error=error, values=values
    )


@router.post("/users/{username}/revoke")
async def revoke_user(request: Request, username: str, session: Viewer, pool: Db, at: Now) -> Response:
    require_role(session, ADMIN)
    await checked_form(request, session)
    if username == session.user.username:
        raise HTTPException(409, "You cannot revoke yourself; ask another admin.")
    if await auth.revoke_user(pool, username, at) is None:
        raise HTTPException(404, f"There is no user {username!r}.")
    return see_other("/ui/users")


@router.post("/users/{username}/password")
async def reset_password(request: Request, username: str, session: Viewer, pool: Db, at: Now) -> HTMLResponse:
    require_role(session, ADMIN)
    await checked_form(request, session)
    reset = await auth.reset_password(pool, username)
    if reset is None:
        raise HTTPException(404, f"There is no user {username!r}.")
    return await _users_page(request, session, pool, at, reset=reset)


@router.post("/users/{username}/token")
async def rotate_token(
    request: Request, username: str, session: Viewer, pool: Db, config: AppSettings, at: Now
) -> HTMLResponse:
    require_role(session, ADMIN)
    await checked_form(request, session)
    token = await auth.rotate_token(pool, username, config.token_days, at)
    if token is None:
        raise HTTPException(404, f"There is no user {username!r}.")
    return await _users_page(request, session, pool, at, token=token)
