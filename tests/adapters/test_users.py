"""Users, tokens and sessions in PostgreSQL, and the first admin that the first start creates."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import ValidationError

from core.db import create_pool
from web import auth
from web.auth import NewUser, UserExists, UserRole
from web.bootstrap import ensure_first_admin


async def test_the_first_start_creates_one_admin_and_shows_its_credentials_once(database_url: str) -> None:
    shown = io.StringIO()
    created = await ensure_first_admin(database_url, shown)
    assert created is not None
    assert created.user.role is UserRole.ADMIN
    assert created.password in shown.getvalue()
    assert f"NOPIC_TOKEN={created.token}" in shown.getvalue()

    again = io.StringIO()
    assert await ensure_first_admin(database_url, again) is None
    assert again.getvalue() == ""

    pool = await create_pool(database_url)
    try:
        assert await auth.check_password(pool, "admin", created.password) is not None
        assert await auth.check_password(pool, "admin", "not-it") is None
        assert (await auth.user_for_token(pool, created.token)) == created.user
        # Nothing secret is stored in clear.
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'admin'")
            tokens = await conn.fetch("SELECT token_sha256 FROM api_tokens")
        assert stored.startswith("$argon2id$") and created.password not in stored
        assert created.token not in {row["token_sha256"] for row in tokens}
    finally:
        await pool.close()


async def test_an_exporter_is_bound_to_one_operation_and_usernames_are_unique(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(ValidationError, match="operation_id"):
        NewUser(username="eve", display_name="Eve", role=UserRole.EXPORTER)
    with pytest.raises(ValidationError, match="only an exporter"):
        NewUser(username="rob", display_name="Rob", role=UserRole.REVIEWER, operation_id="1000000001")
    await auth.create_user(
        db_pool, NewUser(username="Eve", display_name="Eve", role="exporter", operation_id="1000000001")
    )
    with pytest.raises(UserExists):
        await auth.create_user(db_pool, NewUser(username="eve", display_name="Eve 2", role=UserRole.REVIEWER))


async def test_sessions_expire_and_end_when_the_user_is_revoked(db_pool: asyncpg.Pool) -> None:
    issued = await auth.create_user(
        db_pool, NewUser(username="rita", display_name="Rita", role=UserRole.REVIEWER)
    )
    now = datetime.now(UTC)
    session_id, csrf = await auth.open_session(db_pool, issued.user, now, timedelta(hours=1))
    session = await auth.session_for(db_pool, session_id, now + timedelta(minutes=59))
    assert session is not None and session.csrf_token == csrf
    assert await auth.session_for(db_pool, session_id, now + timedelta(minutes=61)) is None

    await auth.revoke_user(db_pool, "rita", now)
    assert await auth.session_for(db_pool, session_id, now) is None
    assert await auth.user_for_token(db_pool, issued.token) is None
    assert await auth.check_password(db_pool, "rita", issued.password) is None
