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
