"""The `nopic` command."""

from __future__ import annotations

import asyncio
from enum import StrEnum

import httpx
import typer
import uvicorn

from core.logging import configure_logging
from core.settings import get_settings
from starter import commands

app = typer.Typer(help="NOP Import Certificate requests, on Temporal.", no_args_is_help=True)


@app.command()
def up() -> None:
    """Run the whole service on this machine (Temporal, PostgreSQL, worker, HTTP) until Ctrl-C."""
    from devstack import supervisor

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    raise typer.Exit(asyncio.run(supervisor.run(settings)))


@app.command()
def api() -> None:
    """Serve the HTTP service alone (`nopic up` starts it for you)."""
    from activities.seal import ensure_seal
    from web.main import create_app

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    ensure_seal(settings)  # made on first start unless the operator gave one (NOPIC_SEAL_KEY_FILE)
    # log_config=None: uvicorn's loggers go through our structlog handler instead of its own.
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


@app.command()
def worker() -> None:
    """Run the worker alone (`nopic up` starts it for you)."""
    import worker as worker_module

    asyncio.run(worker_module.main())


@app.command()
def migrate() -> None:
    """Apply the database's pending schema migrations, then exit (the API and worker need them applied).

    On a service with no user yet it also creates the first admin and leaves its credentials in
    <home>/first-admin.txt, readable by the service only (never in a log), as the first `nopic up` does.
    Without a seal of the operator's own (NOPIC_SEAL_KEY_FILE), it makes a self-signed one under
    <home>/seal/ the first time.
    """
    from activities.seal import ensure_seal
    from core.db import migrate_url, resolve_database_url
    from core.logging import get_logger
    from web.bootstrap import ensure_first_admin

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)

    async def run() -> None:
        url, embedded = await resolve_database_url(settings)
        try:
            applied = await migrate_url(url)
            get_logger("nopic.migrate").info("schema up to date", applied=[m.path.name for m in applied])
            await ensure_first_admin(url, settings)
            ensure_seal(settings)
        finally:
            if embedded is not None:
                embedded.cleanup()

    asyncio.run(run())


records_app = typer.Typer(help="The records of closed requests.", no_args_is_help=True)
app.add_typer(records_app, name="records")


@records_app.command("keep-closed")
def keep_closed() -> None:
    """Keep the record of each request that closed under an earlier version, while Temporal still has it.

    Run once after upgrading to the version that keeps records: from then on every closing change keeps
    its request's record itself. Needs Temporal and PostgreSQL, as `nopic migrate` does.
    """
    from core.db import create_pool, resolve_database_url
    from core.temporal import connect
    from starter.records import keep_closed_requests

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)

    async def run() -> int:
        url, embedded = await resolve_database_url(settings)
        pool = await create_pool(url)
        try:
            client = await connect(settings)
            return await keep_closed_requests(
                client, pool, settings.temporal_task_queue, settings.records_retention_years
            )
        finally:
            await pool.close()
            if embedded is not None:
                embedded.cleanup()

    typer.echo(f"kept the records of {asyncio.run(run())} closed requests")


@app.command("oid-sandbox")
def oid_sandbox() -> None:
    """Serve the OID sandbox, the local stand-in for USDA OID, alone (`nopic up` starts it for you)."""
    from devstack.oid_sandbox.__main__ import main

    main()


@app.command("smtp-sink")
def smtp_sink() -> None:
    """Serve the SMTP sink alone: every mail kept as a file under <home>/outbox (`nopic up` starts it)."""
    from devstack.smtp_sink import main

    asyncio.run(main())


class Probed(StrEnum):
    api = "api"
    worker = "worker"
    oid_sandbox = "oid-sandbox"


@app.command()
def probe(process: Probed) -> None:
    """Exit 0 if the process on this host is ready, 1 if not: a container health check."""
    settings = get_settings()
    path = "/health/ready"
    if process is Probed.api:
        host, port = settings.http_host, settings.http_port
    elif process is Probed.worker:
        if settings.worker_health_port is None:
            typer.echo("NOPIC_WORKER_HEALTH_PORT is not set, so the worker serves no probes", err=True)
            raise typer.Exit(1)
        host, port = settings.worker_host, settings.worker_health_port
    else:
        # The sandbox depends on nothing: answering at all is being ready.
        host, port, path = settings.oid_sandbox_host, settings.oid_sandbox_port, "/health"
    if host in ("0.0.0.0", "::"):  # listening everywhere: ask over loopback
        host = "127.0.0.1"
    url = f"http://{host}:{port}{path}"
    try:
        answer = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        typer.echo(f"{url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{url}: {answer.status_code} {answer.text}")
    raise typer.Exit(0 if answer.status_code == 200 else 1)


commands.register(app)

if __name__ == "__main__":
    app()
