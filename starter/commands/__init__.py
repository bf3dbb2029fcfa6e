"""The `nopic` commands that work on requests and users, each one a call to the HTTP API: `api` (reaching
it and printing its answers), `requests` (submit, list, show, upload), `actions` (one per action of the list
in `domain.actions`, and `to-cancel`), `users`."""

from __future__ import annotations

import typer

from domain import messages
from domain.actions import ACTIONS
from starter.commands.actions import COMMANDS
from starter.commands.requests import list_requests, show, submit, to_cancel, upload
from starter.commands.users import users_app, whoami


def register(app: typer.Typer) -> None:
    for command in (submit, show):
        app.command()(command)
    app.command("list")(list_requests)
    app.command("to-cancel")(to_cancel)
    for spec in ACTIONS:
        # Documents are uploaded as files, then handed over: `nopic upload`, the one command named otherwise.
        if spec.message is messages.SubmitDocuments:
            app.command("upload", help=spec.summary)(upload)
        else:
            app.command(spec.slug, help=spec.summary)(COMMANDS[spec.message])
    app.command()(whoami)
    app.add_typer(users_app, name="users")
