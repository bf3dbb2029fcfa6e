"""The first admin: created by the first start (`nopic up`, `nopic migrate`) on an empty database.

Its credentials never go into a log. The password is the operator's (`NOPIC_FIRST_ADMIN_PASSWORD_FILE`, a
secret it provides) or drawn at random; the password and the API token are stored only as hashes and left
in `<home>/first-admin.txt`, readable by the service's user only, to read once and delete. Only an
interactive terminal (`make run`) is also shown them; anything else (a container's log, a redirected
output) is told where the file is, never what is in it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from core.db import create_pool
from core.files import write_atomically
from core.settings import Settings
from web.auth import IssuedCredentials, create_first_admin
from web.passwords import MIN_PASSWORD_LENGTH


class FirstAdminPasswordRefused(RuntimeError):
    """The operator's password file cannot be used; the message says why."""


def operators_password(path: Path) -> str:
    try:
        password = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        message = f"NOPIC_FIRST_ADMIN_PASSWORD_FILE: cannot read {path}: {exc}"
        raise FirstAdminPasswordRefused(message) from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FirstAdminPasswordRefused(
            f"NOPIC_FIRST_ADMIN_PASSWORD_FILE: the password in {path} is shorter than "
            f"{MIN_PASSWORD_LENGTH} characters"
        )
    return password


async def ensure_first_admin(
    database_url: str, settings: Settings, out: TextIO = sys.stderr
) -> IssuedCredentials | None:
    """Create the first admin if the service has no user yet; leave its credentials in the file."""
    given = settings.first_admin_password_file
    password = operators_password(given) if given is not None else None
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        created = await create_first_admin(pool, token_days=settings.token_days, password=password)
    finally:
        await pool.close()
    if created is None:
        return None
    where = settings.first_admin_file
    write_atomically(where, credentials_file(created, given).encode())  # mkstemp's mode: owner only
    out.write(banner(created, given, where) if out.isatty() else pointer(where))
    out.flush()
    return created


def credentials_file(credentials: IssuedCredentials, given: Path | None) -> str:
    password = f"(the one in {given})" if given is not None else credentials.password
    return (
        "# The first admin of nopic. Sign in, keep these somewhere safe, then delete this file.\n"
        f"username: {credentials.user.username}\n"
        f"password: {password}\n"
        f"token: {credentials.token}\n"
        f"token expires: {credentials.token_expires_at.isoformat()}\n"
    )


def pointer(where: Path) -> str:
    return (
        "First start: an admin was created. Its password and API token are in "
        f"{where} (readable by this service's user only): read them, sign in, then delete the file.\n"
    )


def banner(credentials: IssuedCredentials, given: Path | None, where: Path) -> str:
    rule = "=" * 72
    password = f"the one in {given}" if given is not None else credentials.password
    return (
        f"\n{rule}\n"
        "  First start: an admin was created. These credentials are shown ONCE.\n"
        f"  Dashboard login   username: {credentials.user.username}\n"
        f"                    password: {password}\n"
        f"  API / CLI token   export NOPIC_TOKEN={credentials.token}\n"
        f"  Also in {where}: delete it once you have kept them.\n"
        f"{rule}\n\n"
    )
