"""Users, tokens and sessions in PostgreSQL, and the first admin that the first start creates."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from core.db import create_pool, migrate_url
from core.settings import Settings
from web import auth
from web.auth import NewUser, UserExists, UserRole
from web.bootstrap import ensure_first_admin


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_first_start_leaves_the_admins_credentials_in_a_private_file_never_in_a_log(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path)
    log = io.StringIO()  # not a terminal: a container's log, a redirected output
    created = await ensure_first_admin(database_url, settings, log)
    assert created is not None
    assert created.user.role is UserRole.ADMIN
    assert created.password not in log.getvalue() and created.token not in log.getvalue()
    assert str(settings.first_admin_file) in log.getvalue()
    kept = settings.first_admin_file.read_text()
    assert f"password: {created.password}" in kept and f"token: {created.token}" in kept
    assert stat.S_IMODE(settings.first_admin_file.stat().st_mode) == 0o600

    again = Terminal()
    assert await ensure_first_admin(database_url, settings, again) is None
    assert again.getvalue() == ""

    pool = await create_pool(database_url)
    try:
        assert await auth.check_password(pool, "admin", created.password) is not None
        assert await auth.check_password(pool, "admin", "not-it") is None
        assert (await auth.user_for_token(pool, created.token, datetime.now(UTC))) == created.user
        # Nothing secret is stored in clear.
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT password_hash FROM users WHERE username = 'admin'")
            tokens = await conn.fetch("SELECT token_sha256 FROM api_tokens")
        assert stored.startswith("$argon2id$") and created.password not in stored
        assert created.token not in {row["token_sha256"] for row in tokens}
    finally:
        await pool.close()


async def test_an_interactive_terminal_is_shown_them_and_an_operators_secret_is_the_password(
    empty_database_url: str, tmp_path: Path
) -> None:
    await migrate_url(empty_database_url)
    secret = tmp_path / "first_admin_password"
    secret.write_text("correct horse battery staple\n")
    settings = Settings(home=tmp_path / "home", first_admin_password_file=secret)
    terminal = Terminal()
    created = await ensure_first_admin(empty_database_url, settings, terminal)
    assert created is not None and created.password == "correct horse battery staple"
    assert f"NOPIC_TOKEN={created.token}" in terminal.getvalue()
    assert "correct horse" not in terminal.getvalue() + settings.first_admin_file.read_text()


async def test_tokens_expire_and_a_new_one_ends_the_old(db_pool: asyncpg.Pool) -> None:
    issued = await auth.create_user(
        db_pool, NewUser(username="tom", display_name="Tom", role=UserRole.REVIEWER), token_days=30
    )
    now = datetime.now(UTC)
    assert issued.token_expires_at - now > timedelta(days=29, hours=23)
    assert await auth.user_for_token(db_pool, issued.token, now + timedelta(days=29)) == issued.user
    with pytest.raises(auth.TokenExpired, match="ask an admin for a new one"):
        await auth.user_for_token(db_pool, issued.token, now + timedelta(days=30, minutes=1))

    rotated = await auth.rotate_token(db_pool, "tom", 7, now)
    assert rotated is not None and rotated.token != issued.token
    assert await auth.user_for_token(db_pool, issued.token, now) is None
    assert await auth.user_for_token(db_pool, rotated.token, now) == issued.user
    assert await auth.rotate_token(db_pool, "nobody", 7, now) is None


async def test_people_change_their_own_password_and_an_admin_resets_one(db_pool: asyncpg.Pool) -> None:
    una = NewUser(username="una", display_name="Una", role=UserRole.EXPORTER, operation_id="1000000003")
    issued = await auth.create_user(db_pool, una)
    user, now = issued.user, datetime.now(UTC)
    here, _ = await auth.open_session(db_pool, user, now, timedelta(hours=1))
    elsewhere, _ = await auth.open_session(db_pool, user, now, timedelta(hours=1))

    wrong = auth.PasswordChange(current_password="not mine", new_password="a much longer secret")
    assert not await auth.change_password(db_pool, user, wrong)
    with pytest.raises(ValidationError, match="at least 12 characters"):
        auth.PasswordChange(current_password=issued.password, new_password="short")
    with pytest.raises(auth.PasswordRefused, match="must differ from the current password"):
        same = auth.PasswordChange(current_password=issued.password, new_password=issued.password)
        await auth.change_password(db_pool, user, same)
    change = auth.PasswordChange(current_password=issued.password, new_password="a much longer secret")
    assert await auth.change_password(db_pool, user, change, keep_session=here)
    assert await auth.check_password(db_pool, "una", issued.password) is None
    assert await auth.check_password(db_pool, "una", "a much longer secret") == user
    assert await auth.session_for(db_pool, here, now) is not None, "the session that changed it stays"
    assert await auth.session_for(db_pool, elsewhere, now) is None

    reset = await auth.reset_password(db_pool, "una")
    assert reset is not None
    assert await auth.check_password(db_pool, "una", reset.password) == user
    assert await auth.check_password(db_pool, "una", "a much longer secret") is None
    assert await auth.session_for(db_pool, here, now) is None, "a reset ends every session"


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
    assert await auth.user_for_token(db_pool, issued.token, now) is None
    assert await auth.check_password(db_pool, "rita", issued.password) is None
