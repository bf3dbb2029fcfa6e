"""The `nopic` command."""

from __future__ import annotations

import asyncio

import typer
import uvicorn

from core.logging import configure_logging
from core.settings import get_settings

app = typer.Typer(help="NOP Import Certificate requests, on Temporal.", no_args_is_help=True)


@app.command()
def up() -> None:
    """Run the whole service on this machine (Temporal, PostgreSQL, worker, HTTP) until Ctrl-C."""
    from starter import stack

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    raise typer.Exit(asyncio.run(stack.run(settings)))


@app.command()
def api() -> None:
    """Serve the HTTP service alone (`nopic up` starts it for you)."""
    from starter.api import create_app

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    # log_config=None: uvicorn's loggers go through our structlog handler instead of its own.
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


@app.command()
def worker() -> None:
    """Run the worker alone (`nopic up` starts it for you)."""
    import worker as worker_module

    asyncio.run(worker_module.main())


if __name__ == "__main__":
    app()
