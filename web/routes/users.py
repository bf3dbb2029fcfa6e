"""`/users`: admins create, list and revoke users; `/me`: who the caller is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from web import auth
from web.auth import IssuedCredentials, NewUser, User, UserExists
from web.deps import Admin, AnyUser, Db, Now
from web.errors import ApiError, ErrorResponse

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
async def create_user(new: NewUser, _: Admin, pool: Db) -> IssuedCredentials:
    try:
        return await auth.create_user(pool, new)
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
