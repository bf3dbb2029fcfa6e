"""Failed sign-ins throttled per username and per client address; password checks beside the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from web import auth, passwords
from web.auth import NewUser, UserRole
from web.throttle import SignInsThrottled, SignInThrottle, sign_in

THROTTLE = SignInThrottle(attempts=5, lockout=timedelta(seconds=60))


async def test_five_wrong_passwords_make_the_username_wait_even_with_the_right_one(
    db_pool: asyncpg.Pool,
) -> None:
    rita = NewUser(username="rita", display_name="Rita", role=UserRole.REVIEWER)
    issued = await auth.create_user(db_pool, rita)
    now = datetime.now(UTC)
    for attempt in range(5):
        assert await sign_in(db_pool, THROTTLE, "rita", f"guess-{attempt}", "10.0.0.1", now) is None
    with pytest.raises(SignInsThrottled, match=r"for this username: try again in 59 s") as waited:
        await sign_in(db_pool, THROTTLE, "RITA", issued.password, "10.0.0.2", now + timedelta(seconds=1))
    assert (waited.value.status, waited.value.headers) == (429, {"Retry-After": "59"})

    later = now + timedelta(seconds=61)
    assert await sign_in(db_pool, THROTTLE, "rita", "one more guess", "10.0.0.1", later) is None
    with pytest.raises(SignInsThrottled, match="try again in 120 s"):  # each further failure doubles it
        await sign_in(db_pool, THROTTLE, "rita", issued.password, "10.0.0.1", later)

    after = later + timedelta(seconds=121)
    assert await sign_in(db_pool, THROTTLE, "rita", issued.password, "10.0.0.1", after) == issued.user
    for attempt in range(4):  # the success cleared the count: four more failures are just failures
        assert await sign_in(db_pool, THROTTLE, "rita", f"again-{attempt}", "10.0.0.1", after) is None
    await THROTTLE.check(db_pool, "rita", "10.0.0.1", after)


async def test_one_address_guessing_many_usernames_is_made_to_wait(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    for attempt in range(20):
        assert await sign_in(db_pool, THROTTLE, f"user{attempt}", "guess", "192.0.2.9", now) is None
    with pytest.raises(SignInsThrottled, match="for this address: try again in 60 s"):
        await THROTTLE.check(db_pool, "someone-else", "192.0.2.9", now)
    await THROTTLE.check(db_pool, "someone-else", "192.0.2.10", now)  # another address is not held up


async def test_password_work_runs_on_a_bounded_pool_beside_the_event_loop() -> None:
    pool = passwords.PasswordPool(threads=1, max_waiting=2)

    def slow_check() -> str:
        time.sleep(0.3)  # as argon2 does, on the pool's own thread
        return threading.current_thread().name

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    checks = [asyncio.create_task(pool.run(slow_check)) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(passwords.PasswordChecksBusy):
        await pool.run(slow_check)  # a third one waiting is turned away at once, not queued
    threads = await asyncio.gather(*checks)
    ticking.cancel()
    assert all(name.startswith("password") for name in threads)
    assert ticks > 20, "the event loop went on while the checks ran"

    stored = await passwords.hash_password("the right one")
    assert await passwords.password_matches(stored, "the right one")
    assert not await passwords.password_matches(stored, "a guess")
