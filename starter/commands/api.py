"""Talking to the HTTP API for the `nopic` commands, and printing what it answers.

The API token comes from NOPIC_TOKEN, else from the TOML file at NOPIC_CLI_CONFIG (default
`~/.config/nopic/cli.toml`, keys `url` and `token`). Output is a readable table; `--json` prints the API's
answer as it is, for scripts. Any refusal (a refused action, a bad field, no access) exits 1 with the reason.

A table that cannot fit the terminal without cutting a word (80 columns and a long list, say) is printed
as one small block per row instead: nothing is ever cut short with an ellipsis.
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
from rich.padding import Padding
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


def words(value: object) -> str:
    """A status, kind or action as words (`awaiting_transport_document`: awaiting transport document), so a
    narrow column wraps it between words."""
    return str(value).replace("_", " ")


# What a table's frame takes beside its cells: a border and a space either side of each cell, one more border.
_FRAME_PER_COLUMN, _FRAME = 3, 1


def column_widths(columns: list[str], cells: list[list[str]], width: int) -> list[int] | None:
    """Each column as wide as its longest word (an id, a NOPIC number stay whole, to copy), the room left
    given to the columns whose text would otherwise wrap; None when even that does not fit `width`."""
    texts = [[column, *(row[i] for row in cells)] for i, column in enumerate(columns)]
    widths = [max(len(word) for text in column for word in [*text.split(), ""]) for column in texts]
    wanted = [max(len(text) for text in column) for column in texts]
    room = width - _FRAME_PER_COLUMN * len(columns) - _FRAME - sum(widths)
    if room < 0:
        return None
    while room > 0 and any(w < want for w, want in zip(widths, wanted, strict=True)):
        for i, want in enumerate(wanted):  # a character at a time, fairly, to each column still wrapping
            if room and widths[i] < want:
                widths[i] += 1
                room -= 1
    return widths


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """Rows under their column names; one block per row when the columns cannot fit the terminal."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = column_widths(columns, cells, out.width)
    if widths is not None:
        table = Table(title=title, title_justify="left", header_style="bold")
        for column, width in zip(columns, widths, strict=True):
            table.add_column(column, width=width, overflow="fold")
        for row in cells:
            table.add_row(*(Text(v) for v in row))
        out.print(table)
        return
    if title:
        out.print(Text(title, style="italic"))
    for row in cells:
        out.print(Text(row[0], style="bold"))
        for column, value in zip(columns[1:], row[1:], strict=True):
            if value:
                out.print(Padding(Text(f"{column}: {value}"), (0, 0, 0, 2), expand=False))


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
    for line in waiting_for(state):
        out.print(Text(line), highlight=False)
    table(
        "Checklist",
        ["item", "required", "satisfied by"],
        [
            [i["description"], words(i["required"]), (i["satisfied_by"] or "MISSING")[:16]]
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
    print_shipments(state)


def waiting_for(state: dict[str, Any]) -> list[str]:
    """What the request waits for beyond its checklist: a grace period, a move for a reviewer, the items
    missing since departure, a transport document kept since before issue."""
    lines = []
    if state.get("grace_until") and state["status"] == "awaiting_transport_document":
        rejected = state.get("transport_document_rejection") or "see the audit trail"
        lines.append(f"grace period until {state['grace_until']}: rejected, {rejected}")
    if move := state.get("pending_deadline_move"):
        lines.append(
            f"move of the customs deadline to {move['customs_deadline']} asked by "
            f"{move['requested_by']['name']}: waits for a reviewer"
        )
    if state.get("departure_checked"):
        missing = [
            i["description"]
            for i in state["checklist"]
            if i["required"] == "before_departure" and not i["satisfied_by"]
        ]
        if missing:
            lines.append("departed with missing: " + ", ".join(missing))
    if held := state.get("held_transport_document"):
        lines.append(f"transport document kept since before issue: {held['document']['file_id'][:16]}")
    return lines


def print_shipments(state: dict[str, Any]) -> None:
    first = [("first", state["first_shipment"])] if state.get("first_shipment") else []
    further = [(f"#{i}", s) for i, s in enumerate(state.get("shipments", []))]
    if first or further:
        table(
            "Shipments",
            ["shipment", "shipped on", "kg", "document"],
            [
                [
                    which,
                    s["shipped_on"],
                    ", ".join(f"#{q['commodity_index']} {q['net_kg']}" for q in s["quantities"]),
                    s["transport_document"]["file_id"][:16]
                    + (f" REJECTED: {s['rejected']}" if s.get("rejected") else ""),
                ]
                for which, s in [*first, *further]
            ],
        )
    if state.get("reconciliation"):
        table(
            "Reconciliation",
            ["product", "NOPIC", "certified kg", "shipped kg", "reported kg"],
            [
                [r["product_name"], r["nopic_number"], r["certified_kg"], r["shipped_kg"], r["reported_kg"]]
                for r in state["reconciliation"]
            ],
        )


def print_detail(detail: dict[str, Any]) -> None:
    print_state(detail["state"])
    table(
        "Audit trail",
        ["#", "when", "who", "action"],
        [
            [
                e["sequence"],
                e["occurred_at"][:16],
                f"{e['actor_name']} ({e['actor_role']})",
                words(e["action"]),
            ]
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
