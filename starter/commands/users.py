"""`nopic whoami` and `nopic users ...`: who the token belongs to, and the admins' user management."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from starter.commands.api import JsonOption, call, out, print_json, table

users_app = typer.Typer(help="Manage users (admins only).", no_args_is_help=True)


def whoami(as_json: JsonOption = False) -> None:
    """The user the token belongs to."""
    user = call("GET", "/me")
    if as_json:
        print_json(user)
    else:
        out.print(escape(f"{user['username']} ({user['display_name']}), {user['role']}"), highlight=False)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Lowercase letters, digits, '.', '_', '-'.")],
    role: Annotated[str, typer.Option(help="exporter, reviewer or admin.")],
    name: Annotated[str | None, typer.Option(help="The person's name (default: the username).")] = None,
    operation_id: Annotated[str | None, typer.Option(help="An exporter's NOP operation ID.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user; its password and API token are printed this once."""
    body = {
        "username": username,
        "display_name": name or username,
        "role": role,
        "operation_id": operation_id,
    }
    issued = call("POST", "/users", json=body)
    if as_json:
        print_json(issued)
        return
    user = issued["user"]
    out.print(
        f"created {user['username']} ({user['role']}). Shown once, pass them on safely:", highlight=False
    )
    out.print(f"  password: {issued['password']}", highlight=False)
    out.print(f"  token:    {issued['token']}", highlight=False)


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """Every user."""
    users = call("GET", "/users")
    if as_json:
        print_json(users)
        return
    table(
        None,
        ["username", "name", "role", "operation", "created", "revoked"],
        [
            [
                u["username"],
                u["display_name"],
                u["role"],
                u["operation_id"],
                u["created_at"][:10],
                (u["revoked_at"] or "")[:10],
            ]
            for u in users
        ],
    )


@users_app.command("revoke")
def users_revoke(username: str, as_json: JsonOption = False) -> None:
    """Revoke a user: its tokens and sessions stop working at once."""
    user = call("POST", f"/users/{username}/revoke")
    if as_json:
        print_json(user)
    else:
        out.print(f"revoked {user['username']}", highlight=False)


@users_app.command("reset-password")
def users_reset_password(username: str, as_json: JsonOption = False) -> None:
    """Reset a user's password: the new one is printed this once, the user's sessions end."""
    reset = call("POST", f"/users/{username}/password")
    if as_json:
        print_json(reset)
        return
    out.print(f"reset the password of {reset['user']['username']}. Shown once:", highlight=False)
    out.print(f"  password: {reset['password']}", highlight=False)


@users_app.command("new-token")
def users_new_token(username: str, as_json: JsonOption = False) -> None:
    """Issue a user a new API token, printed this once; its earlier tokens stop working."""
    issued = call("POST", f"/users/{username}/token")
    if as_json:
        print_json(issued)
        return
    out.print(
        f"new token for {issued['user']['username']}, valid until {issued['token_expires_at'][:10]}. "
        "Shown once:",
        highlight=False,
    )
    out.print(f"  token: {issued['token']}", highlight=False)
