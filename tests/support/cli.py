"""The `nopic` CLI run against a test stack's HTTP API, as a person with their token."""

from __future__ import annotations

import asyncio

from click.testing import Result
from typer.testing import CliRunner

from core.settings import get_settings
from starter.cli import app
from tests.support.stack import ApiStack, Person


async def nopic(stack: ApiStack, person: Person | None, *args: str, columns: int = 200) -> Result:
    """Run `nopic ARGS` in a thread (the API it calls is served by this test's event loop), in a terminal
    `columns` wide."""
    env = {"NOPIC_API_URL": stack.url, "NOPIC_TOKEN": person.token if person else "", "COLUMNS": str(columns)}
    env["NOPIC_CLI_CONFIG"] = "/nonexistent/cli.toml"

    def run() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env=env)
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(run)
