"""Users, their API tokens and dashboard sessions, kept in PostgreSQL.

Secrets are shown once and never stored: passwords as argon2 hashes, API tokens and session ids as their
sha256 (they are long random strings, so a fast hash is enough to make a stolen table useless). API tokens
expire; an admin resets a password or issues a new token, people change their own password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import asyncpg
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from core.logging import get_logger
from domain.request import OperationId
from domain.state import Actor, Role
from web.passwords import (
    MIN_PASSWORD_LENGTH,
    UNKNOWN_USER_HASH,
    hash_password,
    new_password,
    password_matches,
)

log = get_logger(__name__)

_TOKEN_PREFIX = "nopic_"
FIRST_ADMIN = "admin"
DEFAULT_TOKEN_DAYS = 90


def _folded(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# Folded to lowercase before the pattern is checked: "Eve" and "eve" are one username.
Username = Annotated[str, BeforeValidator(_folded), StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]


class UserRole(StrEnum):
    EXPORTER = "exporter"  # submits, uploads, withdraws; sees only its own operation's requests
    REVIEWER = "reviewer"  # every review, issuance and deadline action; sees every request
    ADMIN = "admin"  # manages users


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    username: str
    display_name: str
    role: UserRole
    operation_id: str | None = Field(description="The NOP operation ID an exporter acts for.")
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None

    @property
    def actor(self) -> Actor:
        """The user as the workflow's actions and the audit trail name them."""
        return Actor(person_id=self.username, name=self.display_name, role=Role(self.role.value))


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username = Field(description="2 to 64 characters: lowercase letters, digits, '.', '_', '-'.")
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    role: UserRole
    operation_id: OperationId | None = Field(
        default=None, description="Required for an exporter, refused for other roles."
    )

    @model_validator(mode="after")
    def _operation_for_exporters_only(self) -> NewUser:
        if self.role is UserRole.EXPORTER and self.operation_id is None:
            raise ValueError("operation_id: an exporter is bound to its NOP operation ID (10 digits)")
        if self.role is not UserRole.EXPORTER and self.operation_id is not None:
            raise ValueError(f"operation_id: only an exporter has one, not a {self.role.value}")
        return self


class IssuedCredentials(BaseModel):
    """A new user's password and API token: shown once, never stored in clear."""

    user: User
    password: str
    token: str
    token_expires_at: AwareDatetime


class IssuedPassword(BaseModel):
    """A password an admin reset: shown once; the user's sessions ended."""

    user: User
    password: str


class IssuedToken(BaseModel):
    """A new API token: shown once; the user's earlier tokens stopped working."""

    user: User
    token: str
    token_expires_at: AwareDatetime


NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=200),
    Field(description=f"At least {MIN_PASSWORD_LENGTH} characters."),
]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(max_length=200)]
    new_password: NewPassword


class UserExists(ValueError):
    pass


class PasswordRefused(ValueError):
    """The password change breaks a rule; the message names the field."""


class TokenExpired(Exception):
    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"The API token expired at {expires_at.isoformat()}: ask an admin for a new one.")
        self.expires_at = expires_at


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_USER_COLUMNS = "user_id, username, display_name, role, operation_id, created_at, revoked_at"


def _user(row: asyncpg.Record) -> User:
    return User.model_validate(dict(row))


async def _issue_token(
    conn: asyncpg.pool.PoolConnectionProxy, user_id: int, token_days: int
) -> tuple[str, datetime]:
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at: datetime = await conn.fetchval(
        "INSERT INTO api_tokens (token_sha256, user_id, expires_at) "
        "VALUES ($1, $2, now() + make_interval(days => $3)) RETURNING expires_at",
        _sha256(token),
        user_id,
        token_days,
    )
    return token, expires_at


async def create_user(
    pool: asyncpg.Pool,
    new: NewUser,
    *,
    token_days: int = DEFAULT_TOKEN_DAYS,
    password: str | None = None,
) -> IssuedCredentials:
    """A new user with a password (drawn at random unless given) and an API token valid `token_days`."""
    password = password or new_password()
    password_hash = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO users (username, display_name, role, operation_id, password_hash) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {_USER_COLUMNS}",
                new.username,
                new.display_name,
                new.role.value,
                new.operation_id,
                password_hash,
            )
        except asyncpg.UniqueViolationError as exc:
            raise UserExists(f"username: {new.username!r} is already taken") from exc
        assert row is not None
        user = _user(row)
        token, expires_at = await _issue_token(conn, user.user_id, token_days)
    log.info("user created", username=user.username, role=user.role.value)
    return IssuedCredentials(user=user, password=password, token=token, token_expires_at=expires_at)


async def create_first_admin(
    pool: asyncpg.Pool, *, token_days: int = DEFAULT_TOKEN_DAYS, password: str | None = None
) -> IssuedCredentials | None:
    """On a service with no users yet, create the first admin; None when users exist already."""
    async with pool.acquire() as conn, conn.transaction():
        # Two processes starting at once must not both create one.
        await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"):
            return None
    return await create_user(
        pool,
        NewUser(username=FIRST_ADMIN, display_name="Administrator", role=UserRole.ADMIN),
        token_days=token_days,
        password=password,
    )


async def list_users(pool: asyncpg.Pool) -> list[User]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")
    return [_user(row) for row in rows]


async def revoke_user(pool: asyncpg.Pool, username: str, now: datetime) -> User | None:
    """Revoke a user: its tokens stop working and its sessions end at once. None when unknown."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE users SET revoked_at = coalesce(revoked_at, $2) WHERE username = $1 "
            f"RETURNING {_USER_COLUMNS}",
            username,
            now,
        )
        if row is None:
            return None
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            row["user_id"],
            now,
        )
        await conn.execute("DELETE FROM sessions WHERE user_id = $1", row["user_id"])
    log.info("user revoked", username=username)
    return _user(row)


async def user_for_token(pool: asyncpg.Pool, token: str, now: datetime) -> User | None:
    """The token's user; None when unknown or revoked; `TokenExpired` once past its expiry."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))}, t.expires_at "
            "FROM api_tokens t JOIN users u USING (user_id) "
            "WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND u.revoked_at IS NULL",
            _sha256(token),
        )
    if row is None:
        return None
    if row["expires_at"] <= now:
        raise TokenExpired(row["expires_at"])
    return User.model_validate({k: row[k] for k in User.model_fields})


async def check_password(pool: asyncpg.Pool, username: str, password: str) -> User | None:
    """The user, when the password is right and the user not revoked."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE username = $1",
            username.strip().lower(),
        )
    stored = row["password_hash"] if row else UNKNOWN_USER_HASH
    if not await password_matches(stored, password):
        return None
    if row is None or row["revoked_at"] is not None:
        return None
    return User.model_validate({k: row[k] for k in User.model_fields})


async def change_password(
    pool: asyncpg.Pool, user: User, change: PasswordChange, keep_session: str | None = None
) -> bool:
    """The user's own change: False when the current password is wrong. Its other sessions end."""
    if change.new_password.strip().lower() == user.username:
        raise PasswordRefused("new_password: must not be the username")
    if change.new_password == change.current_password:
        raise PasswordRefused("new_password: must differ from the current password")
    if await check_password(pool, user.username, change.current_password) is None:
        return False
    await _set_password(pool, user.user_id, change.new_password, keep_session)
    log.info("password changed", username=user.username)
    return True


async def reset_password(pool: asyncpg.Pool, username: str) -> IssuedPassword | None:
    """An admin's reset: a new password drawn at random, every session of the user ended. None if unknown."""
    user = await _find_user(pool, username)
    if user is None:
        return None
    password = new_password()
    await _set_password(pool, user.user_id, password, keep_session=None)
    log.info("password reset", username=user.username)
    return IssuedPassword(user=user, password=password)


async def rotate_token(
    pool: asyncpg.Pool, username: str, token_days: int, now: datetime
) -> IssuedToken | None:
    """A new API token for the user; its earlier tokens stop working at once. None if unknown."""
    user = await _find_user(pool, username)
    if user is None:
        return None
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            user.user_id,
            now,
        )
        token, expires_at = await _issue_token(conn, user.user_id, token_days)
    log.info("token rotated", username=user.username)
    return IssuedToken(user=user, token=token, token_expires_at=expires_at)


async def _find_user(pool: asyncpg.Pool, username: str) -> User | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE username = $1", username)
    return _user(row) if row else None


async def _set_password(pool: asyncpg.Pool, user_id: int, password: str, keep_session: str | None) -> None:
    password_hash = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash)
        # Whoever knew the old password is signed out everywhere, but the person changing it here.
        await conn.execute(
            "DELETE FROM sessions WHERE user_id = $1 AND session_sha256 IS DISTINCT FROM $2",
            user_id,
            _sha256(keep_session) if keep_session else None,
        )


class Session(BaseModel):
    user: User
    csrf_token: str


async def open_session(pool: asyncpg.Pool, user: User, now: datetime, lifetime: timedelta) -> tuple[str, str]:
    """A new dashboard session: (session id for the cookie, its CSRF token)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO sessions (session_sha256, user_id, csrf_token, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            _sha256(session_id),
            user.user_id,
            csrf,
            now,
            now + lifetime,
        )
    return session_id, csrf


async def session_for(pool: asyncpg.Pool, session_id: str, now: datetime) -> Session | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))}, s.csrf_token "
            "FROM sessions s JOIN users u USING (user_id) "
            "WHERE s.session_sha256 = $1 AND s.expires_at > $2 AND u.revoked_at IS NULL",
            _sha256(session_id),
            now,
        )
    if row is None:
        return None
    return Session(
        user=User.model_validate({k: row[k] for k in User.model_fields}), csrf_token=row["csrf_token"]
    )


async def close_session(pool: asyncpg.Pool, session_id: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM sessions WHERE session_sha256 = $1", _sha256(session_id))


def same_secret(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())
