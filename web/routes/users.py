"""`/users`: admins create, list, revoke users, reset passwords and issue new tokens; `/me`: who the caller
is, and a change of one's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from web import auth
from web.auth import (
    IssuedCredentials,
    IssuedPassword,
    IssuedToken,
    NewUser,
    PasswordChange,
    PasswordRefused,
    User,
    UserExists,
)
from web.deps import SESSION_COOKIE, Admin, AnyUser, AppSettings, ClientAddress, Db, Now, Throttle
from web.errors import ApiError, ErrorResponse, FieldError, invalid_fields

router = APIRouter(tags=["users"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "No valid API token or session."},
    403: {"model": ErrorResponse, "description": "Only an admin manages users."},
    422: {"model": ErrorResponse, "description": "A field breaks a rule; each is named."},
}

UsernamePath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]


@router.get("/me", response_model=User, summary="The signed-in user", responses=_RESPONSES)
async def me(user: AnyUser) -> User:
    return user


@router.post(
    "/me/password",
    response_model=User,
    summary="Change your own password: your other dashboard sessions end",
    responses={
        **_RESPONSES,
        403: {"model": ErrorResponse, "description": "The current password is wrong."},
        429: {"model": ErrorResponse, "description": "Too many wrong passwords: wait as the message says."},
    },
)
async def change_my_password(
    change: PasswordChange,
    request: Request,
    user: AnyUser,
    pool: Db,
    at: Now,
    throttle: Throttle,
    address: ClientAddress,
) -> User:
    await throttle.check(pool, user.username, address, at)
    try:
        changed = await auth.change_password(pool, user, change, request.cookies.get(SESSION_COOKIE))
    except PasswordRefused as exc:
        field, _, message = str(exc).partition(": ")
        raise invalid_fields([FieldError(field=f"body.{field}", rule="password", message=message)]) from exc
    if not changed:
        await throttle.failed(pool, user.username, address, at)
        raise ApiError(403, "wrong_password", "current_password: is not your current password.")
    return user


@router.get("/users", response_model=list[User], summary="Every user", responses=_RESPONSES)
async def list_users(_: Admin, pool: Db) -> list[User]:
    return await auth.list_users(pool)


@router.post(
    "/users",
    status_code=201,
    response_model=IssuedCredentials,
    summary="Create a user: its password and API token are shown this once",
    responses={**_RESPONSES, 409: {"model": ErrorResponse, "description": "The username is taken."}},
)
async def create_user(new: NewUser, _: Admin, pool: Db, config: AppSettings) -> IssuedCredentials:
    try:
        return await auth.create_user(pool, new, token_days=config.token_days)
    except UserExists as exc:
        raise ApiError(409, "username_taken", str(exc)) from exc


@router.post(
    "/users/{username}/revoke",
    response_model=User,
    summary="Revoke a user: its tokens and sessions stop working at once",
    responses={
        **_RESPONSES,
        404: {"model": ErrorResponse, "description": "No such user."},
        409: {"model": ErrorResponse, "description": "An admin cannot revoke itself."},
    },
)
async def revoke_user(username: UsernamePath, admin: Admin, pool: Db, at: Now) -> User:
    if username == admin.username:
        raise ApiError(409, "cannot_revoke_self", "You cannot revoke yourself; ask another admin.")
    user = await auth.revoke_user(pool, username, at)
    if user is None:
        raise ApiError(404, "user_not_found", f"There is no user {username!r}.")
    return user


_NO_SUCH_USER = {**_RESPONSES, 404: {"model": ErrorResponse, "description": "No such user."}}


@router.post(
    "/users/{username}/password",
    response_model=IssuedPassword,
    summary="Reset a user's password: a new one, shown this once; the user's sessions end",
    responses=_NO_SUCH_USER,
)
async def reset_password(username: UsernamePath, _: Admin, pool: Db) -> IssuedPassword:
    issued = await auth.reset_password(pool, username)
    if issued is None:
        raise ApiError(404, "user_not_found", f"There is no user {username!r}.")
    return issued


@router.post(
    "/users/{username}/token",
    response_model=IssuedToken,
    summary="Issue a user a new API token, shown this once; its earlier tokens stop working",
    responses=_NO_SUCH_USER,
)
async def rotate_token(
    username: UsernamePath, _: Admin, pool: Db, config: AppSettings, at: Now
) -> IssuedToken:
    issued = await auth.rotate_token(pool, username, config.token_days, at)
    if issued is None:
        raise ApiError(404, "user_not_found", f"There is no user {username!r}.")
    return issued
