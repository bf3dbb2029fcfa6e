"""Passwords: drawn at random, hashed and checked with argon2id in a bounded pool beside the event loop."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from web.errors import ApiError

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 12

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a fraction of a second per login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordChecksBusy(ApiError):
    """Too many password checks at once; the caller should try again in a moment (503)."""

    def __init__(self) -> None:
        message = "Too many sign-ins at once: try again in a moment."
        super().__init__(503, "password_checks_busy", message, headers={"Retry-After": "1"})


class PasswordPool:
    """Hashing and checking passwords is CPU and memory work (argon2): done on threads of its own, beside
    the event loop, so a burst of sign-ins never stalls the service; past `max_waiting` waiting, a check is
    turned away at once rather than queued without bound."""

    def __init__(self, threads: int, max_waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password")
        self._max_waiting = max_waiting
        self._waiting = 0  # touched only from the event loop's thread

    async def run(self, work: Callable[[], T]) -> T:
        if self._waiting >= self._max_waiting:
            raise PasswordChecksBusy
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            self._waiting -= 1


_pool = PasswordPool(threads=2, max_waiting=32)


async def hash_password(password: str) -> str:
    return await _pool.run(lambda: _hasher.hash(password))


async def password_matches(stored: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await _pool.run(verify)


def new_password() -> str:
    # Four groups of five, easy to type from a terminal; about 100 bits.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
