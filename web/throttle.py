"""Failed sign-ins slow down whoever guesses: counted per username and per client address in PostgreSQL.

After `attempts` failures in a row for a username (four times as many for one client address, which many
people may share behind a proxy), sign-ins for it wait: `lockout` at first, doubling with each further
failure, up to an hour. While it waits, a sign-in is refused without looking at the password, and the
answer says how long to wait. A success clears the username's count; failures an hour old are forgotten.
Kept in PostgreSQL, so every API process and every restart sees the same counts.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import asyncpg

from core.settings import Settings
from web import auth
from web.auth import User
from web.errors import ApiError

FORGET_AFTER = timedelta(hours=1)
LONGEST_WAIT = timedelta(hours=1)
ADDRESS_FACTOR = 4

_FAILED = """
INSERT INTO sign_in_failures AS f (key, failures, last_failure_at) VALUES ($1, 1, $2)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN f.last_failure_at < $2 - $3::interval THEN 1 ELSE f.failures + 1 END,
    last_failure_at = $2
RETURNING failures
"""


class SignInsThrottled(ApiError):
    """Sign-ins for this username or address wait; `seconds` is how long (429, with Retry-After)."""

    def __init__(self, what: str, seconds: int) -> None:
        message = f"Too many failed sign-ins for this {what}: try again in {seconds} s."
        super().__init__(429, "sign_ins_throttled", message, headers={"Retry-After": str(seconds)})
        self.seconds = seconds


class SignInThrottle:
    def __init__(self, attempts: int, lockout: timedelta) -> None:
        self._attempts = attempts
        self._lockout = lockout

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        return cls(settings.login_attempts, timedelta(seconds=settings.login_lockout_seconds))

    @staticmethod
    def _keys(username: str, address: str) -> dict[str, str]:
        return {f"user:{username.strip().lower()}": "username", f"address:{address}": "address"}

    async def check(self, pool: asyncpg.Pool, username: str, address: str, now: datetime) -> None:
        """Raise `SignInsThrottled` while sign-ins for this username or address must wait."""
        keys = self._keys(username, address)
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT key, blocked_until FROM sign_in_failures WHERE key = ANY($1::text[]) "
                "AND blocked_until > $2 ORDER BY blocked_until DESC",
                list(keys),
                now,
            )
        if rows:
            wait = (rows[0]["blocked_until"] - now).total_seconds()
            raise SignInsThrottled(keys[rows[0]["key"]], max(1, math.ceil(wait)))

    async def failed(self, pool: asyncpg.Pool, username: str, address: str, now: datetime) -> None:
        """Count one failure against the username and the address; block them once over their limit."""
        async with pool.acquire() as conn, conn.transaction():
            # Keys nobody failed with for an hour and that no longer wait: gone, so the table stays small.
            await conn.execute(
                "DELETE FROM sign_in_failures WHERE last_failure_at < $1 "
                "AND (blocked_until IS NULL OR blocked_until < $2)",
                now - FORGET_AFTER,
                now,
            )
            for key, what in self._keys(username, address).items():
                failures: int = await conn.fetchval(_FAILED, key, now, FORGET_AFTER)
                allowed = self._attempts * (ADDRESS_FACTOR if what == "address" else 1)
                if failures >= allowed:
                    wait = min(self._lockout * 2 ** min(failures - allowed, 16), LONGEST_WAIT)
                    await conn.execute(
                        "UPDATE sign_in_failures SET blocked_until = $2 WHERE key = $1", key, now + wait
                    )

    async def succeeded(self, pool: asyncpg.Pool, username: str) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM sign_in_failures WHERE key = $1", f"user:{username.strip().lower()}"
            )


async def sign_in(
    pool: asyncpg.Pool, throttle: SignInThrottle, username: str, password: str, address: str, now: datetime
) -> User | None:
    """The user when the password is right; None when wrong (counted); `SignInsThrottled` while waiting."""
    await throttle.check(pool, username, address, now)
    user = await auth.check_password(pool, username, password)
    if user is None:
        await throttle.failed(pool, username, address, now)
    else:
        await throttle.succeeded(pool, username)
    return user
