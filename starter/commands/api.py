"""Talking to the HTTP API for the `nopic` commands, and printing what it answers.

The API token comes from NOPIC_TOKEN, else from the TOML file at NOPIC_CLI_CONFIG (default
`~/.config/nopic/cli.toml`, keys `url` and `token`). Output is a readable table; `--json` prints the API's
answer as it is, for scripts. Any refusal (a refused action, a bad field, no access) exits 1 with the reason.
"""

from __future__ import annotations

import json
import mimetypes
import tomllib
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from core.settings import get_settings

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer, for scripts.")]
RequestIdArg = Annotated[str, typer.Argument(help="The request id, e.g. R20261128-1A2B3C4D5E6F7A8B.")]
ActionIdOption = Annotated[
    str | None, typer.Option("--action-id", help="Your id for this action: repeating it changes nothing.")
]


def fail(message: str) -> NoReturn:
    err.print(Text("error: ", style="bold red") + Text(message), highlight=False)
    raise typer.Exit(1)


def connection() -> tuple[str, str | None]:
    settings = get_settings()
    url, token = settings.http_url, settings.token
    path = settings.cli_config.expanduser()
    if path.is_file():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            fail(f"{path}: not valid TOML ({exc})")
        url = settings.api_url or str(config.get("url", url))
        token = token or config.get("token")
    return url.rstrip("/"), token


def call(method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Call the API; the decoded JSON answer, or exit 1 with the API's own message."""
    url, token = connection()
    if not token:
        fail("no API token: set NOPIC_TOKEN (or `token` in the CLI config file)")
    try:
        answer = httpx.request(
            method,
            url + path,
            headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the nopic API at {url}: {exc}")
    if answer.is_success:
        return answer.json()
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        fail(f"{answer.status_code}: {answer.text[:500]}")
    lines = [error["message"]]
    lines += [
        f"  {f['field']}: {f['message']}" for f in error.get("fields", []) if f["field"] not in lines[0]
    ]
    fail("\n".join(lines))


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for position, column in enumerate(columns):
        table.add_column(column, no_wrap=position == 0)  # ids stay whole, to copy
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    out.print(table)


def print_state(state: dict[str, Any]) -> None:
    form = state["form"]
    late = " [bold red]LATE[/]" if state["late"] else ""
    out.print(f"[bold]{state['request_id']}[/]  status [bold]{state['status']}[/]{late}", highlight=False)
    out.print(
        f"exporter {escape(form['exporter']['name'])} ({form['exporter']['operation_id']})  →  "
        f"importer {escape(form['importer']['name'])} ({form['importer']['operation_id']})",
        highlight=False,
    )
    shipment = form["shipment"]
    out.print(
        f"ETD {shipment['etd']}  ETA {shipment['eta']}  customs deadline {state['customs_deadline']}  "
        f"lead time {state['lead_working_days']} working days",
        highlight=False,
    )
    for label, key in (("issuance blocked", "issuance_blocked"), ("outcome", "outcome")):
        if state.get(key):
            out.print(f"{label}: {escape(state[key])}", highlight=False)
    table(
        "Checklist",
        ["item", "required", "satisfied by"],
        [
            [i["description"], i["required"], (i["satisfied_by"] or "MISSING")[:16]]
            for i in state["checklist"]
        ],
    )
    table(
        "Certificates",
        ["#", "product", "HTS", "kg", "NOPIC", "status"],
        [
            [c["commodity_index"], c["product_name"], c["hts_code"], c["net_kg"], c["number"], c["status"]]
            for c in state["certificates"]
        ],
    )


def print_detail(detail: dict[str, Any]) -> None:
    print_state(detail["state"])
    table(
        "Audit trail",
        ["#", "when", "who", "action"],
        [
            [e["sequence"], e["occurred_at"][:16], f"{e['actor_name']} ({e['actor_role']})", e["action"]]
            for e in detail["audit"]
        ],
    )


def store(file: Path) -> dict[str, Any]:
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    stored: dict[str, Any] = call(
        "POST", "/documents", files={"file": (file.name, file.read_bytes(), media_type)}
    )
    return stored


def reference(file: Path, kind: str) -> dict[str, Any]:
    stored = store(file)
    return {"kind": kind, "file_id": stored["sha256"], "sha256": stored["sha256"]}


def print_answer(state: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(state)
    else:
        print_state(state)
