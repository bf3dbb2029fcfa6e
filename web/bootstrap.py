"""The first admin: created by the first `nopic up` on an empty database, its credentials shown once.

Nothing is hard-coded: the password and the API token are drawn at random, stored only as hashes, and
written to the terminal that started the service (stderr, beside the log, not in it).
"""

from __future__ import annotations

import sys
from typing import TextIO

from core.db import create_pool
from web.auth import IssuedCredentials, create_first_admin


async def ensure_first_admin(database_url: str, out: TextIO = sys.stderr) -> IssuedCredentials | None:
    """Create the first admin if the service has no user yet, and show its credentials on `out`."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        created = await create_first_admin(pool)
    finally:
        await pool.close()
    if created is not None:
        out.write(banner(created))
        out.flush()
    return created


def banner(credentials: IssuedCredentials) -> str:
    rule = "=" * 72
    return (
        f"\n{rule}\n"
        "  First start: an admin was created. These credentials are shown ONCE.\n"
        f"  Dashboard login   username: {credentials.user.username}\n"
        f"                    password: {credentials.password}\n"
        f"  API / CLI token   export NOPIC_TOKEN={credentials.token}\n"
        f"{rule}\n\n"
    )
