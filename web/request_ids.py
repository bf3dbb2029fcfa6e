"""Request ids: 64 random bits after the day, each claimed in PostgreSQL before its workflow starts, so no
two submissions ever share one (the workflow id is `nopic-request-<request id>`)."""

from __future__ import annotations

import secrets
from datetime import datetime

import asyncpg

from web.auth import User

RANDOM_BYTES = 8  # 64 bits


def new_request_id(at: datetime) -> str:
    """Short enough to read out on the phone: the day, then 16 hexadecimal digits."""
    return f"R{at:%Y%m%d}-{secrets.token_hex(RANDOM_BYTES).upper()}"


async def claim_new_request_id(pool: asyncpg.Pool, user: User, at: datetime) -> str:
    """A fresh request id, claimed for `user`: a collision draws again."""
    while True:
        candidate = new_request_id(at)
        claimed = await pool.fetchval(
            "INSERT INTO request_ids (request_id, claimed_by) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING request_id",
            candidate,
            user.user_id,
        )
        if claimed is not None:
            return candidate
