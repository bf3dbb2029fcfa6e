"""The `nopic` commands that work on requests and users: each one a call to the HTTP API.

The API token comes from NOPIC_TOKEN, else from the TOML file at NOPIC_CLI_CONFIG (default
`~/.config/nopic/cli.toml`, keys `url` and `token`). Output is a readable table; `--json` prints the API's
answer as it is, for scripts. Any refusal (a refused action, a bad field, no access) exits 1 with the reason.
"""

from __future__ import annotations

import json
import mimetypes
import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from core.settings import get_settings
from domain import messages
from domain.actions import ACTIONS, BY_MESSAGE

users_app = typer.Typer(help="Manage users (admins only).", no_args_is_help=True)

_out = Console()
_err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer, for scripts.")]
RequestIdArg = Annotated[str, typer.Argument(help="The request id, e.g. R20261128-1A2B3C4D.")]
ActionIdOption = Annotated[
    str | None, typer.Option("--action-id", help="Your id for this action: repeating it changes nothing.")
]


def _fail(message: str) -> NoReturn:
    _err.print(Text("error: ", style="bold red") + Text(message), highlight=False)
    raise typer.Exit(1)


def _connection() -> tuple[str, str | None]:
    settings = get_settings()
    url, token = settings.http_url, settings.token
    path = settings.cli_config.expanduser()
    if path.is_file():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            _fail(f"{path}: not valid TOML ({exc})")
        url = settings.api_url or str(config.get("url", url))
        token = token or config.get("token")
    return url.rstrip("/"), token


def _call(method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Call the API; the decoded JSON answer, or exit 1 with the API's own message."""
    url, token = _connection()
    if not token:
        _fail("no API token: set NOPIC_TOKEN (or `token` in the CLI config file)")
    try:
        answer = httpx.request(
            method,
            url + path,
            headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the nopic API at {url}: {exc}")
    if answer.is_success:
        return answer.json()
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        _fail(f"{answer.status_code}: {answer.text[:500]}")
    lines = [error["message"]]
    lines += [
        f"  {f['field']}: {f['message']}" for f in error.get("fields", []) if f["field"] not in lines[0]
    ]
    _fail("\n".join(lines))


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for position, column in enumerate(columns):
        table.add_column(column, no_wrap=position == 0)  # ids stay whole, to copy
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    _out.print(table)


def _print_state(state: dict[str, Any]) -> None:
    form = state["form"]
    late = " [bold red]LATE[/]" if state["late"] else ""
    _out.print(f"[bold]{state['request_id']}[/]  status [bold]{state['status']}[/]{late}", highlight=False)
    _out.print(
        f"exporter {escape(form['exporter']['name'])} ({form['exporter']['operation_id']})  →  "
        f"importer {escape(form['importer']['name'])} ({form['importer']['operation_id']})",
        highlight=False,
    )
    shipment = form["shipment"]
    _out.print(
        f"ETD {shipment['etd']}  ETA {shipment['eta']}  customs deadline {state['customs_deadline']}  "
        f"lead time {state['lead_working_days']} working days",
        highlight=False,
    )
    for label, key in (("issuance blocked", "issuance_blocked"), ("outcome", "outcome")):
        if state.get(key):
            _out.print(f"{label}: {escape(state[key])}", highlight=False)
    _table(
        "Checklist",
        ["item", "required", "satisfied by"],
        [
            [i["description"], i["required"], (i["satisfied_by"] or "MISSING")[:16]]
            for i in state["checklist"]
        ],
    )
    _table(
        "Certificates",
        ["#", "product", "HTS", "kg", "NOPIC", "status"],
        [
            [c["commodity_index"], c["product_name"], c["hts_code"], c["net_kg"], c["number"], c["status"]]
            for c in state["certificates"]
        ],
    )


def _print_detail(detail: dict[str, Any]) -> None:
    _print_state(detail["state"])
    _table(
        "Audit trail",
        ["#", "when", "who", "action"],
        [
            [e["sequence"], e["occurred_at"][:16], f"{e['actor_name']} ({e['actor_role']})", e["action"]]
            for e in detail["audit"]
        ],
    )


def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The request as JSON.")],
    idempotency_key: Annotated[
        str | None, typer.Option(help="Retrying with the same key returns the same request.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a NOPIC request from a JSON file (see examples/request.json)."""
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        _fail(f"{file}: not valid JSON ({exc})")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    answer = _call("POST", "/requests", json=body, headers=headers)
    if as_json:
        _print_json(answer)
        return
    late = "  LATE" if answer["late"] else ""
    _out.print(
        f"submitted [bold]{answer['id']}[/]: {answer['status']}, lead time "
        f"{answer['lead_working_days']} working days{late}",
        highlight=False,
    )
    missing = [
        i["description"] for i in answer["checklist"] if not i["satisfied_by"] and i["required"] == "now"
    ]
    if missing:
        _out.print(escape("still missing: " + "; ".join(missing)), highlight=False)


def list_requests(
    status: Annotated[list[str] | None, typer.Option(help="Only this status (repeatable).")] = None,
    late: Annotated[bool, typer.Option("--late", help="Only late requests.")] = False,
    exporter: Annotated[str | None, typer.Option(help="Exporter operation ID.")] = None,
    importer: Annotated[str | None, typer.Option(help="Importer operation ID.")] = None,
    product: Annotated[str | None, typer.Option(help="Text in a product name.")] = None,
    sort: Annotated[str, typer.Option(help="customs_deadline, etd, received_at, updated_at, ...")] = (
        "customs_deadline"
    ),
    descending: Annotated[bool, typer.Option("--desc", help="Largest first.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List requests, soonest customs deadline first."""
    params: dict[str, Any] = {"sort": sort, "descending": descending, "limit": limit, "offset": offset}
    params |= {k: v for k, v in {"exporter": exporter, "importer": importer, "product": product}.items() if v}
    if status:
        params["status"] = status
    if late:
        params["late"] = True
    page = _call("GET", "/requests", params=params)
    if as_json:
        _print_json(page)
        return
    _table(
        f"{page['total']} requests" + (f" (from {offset + 1})" if offset else ""),
        ["id", "status", "exporter", "importer", "products", "ETD", "customs deadline", "late"],
        [
            [
                r["request_id"],
                r["status"],
                r["exporter_name"],
                r["importer_name"],
                ", ".join(r["product_names"]),
                r["etd"],
                (r["customs_deadline"] or "")[:16],
                "LATE" if r["late"] else "",
            ]
            for r in page["items"]
        ],
    )


def show(request_id: RequestIdArg, as_json: JsonOption = False) -> None:
    """A request's live state, checklist, certificates and audit trail."""
    detail = _call("GET", f"/requests/{request_id}")
    if as_json:
        _print_json(detail)
    else:
        _print_detail(detail)


def _store(file: Path) -> dict[str, Any]:
    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    stored: dict[str, Any] = _call(
        "POST", "/documents", files={"file": (file.name, file.read_bytes(), media_type)}
    )
    return stored


def _reference(file: Path, kind: str) -> dict[str, Any]:
    stored = _store(file)
    return {"kind": kind, "file_id": stored["sha256"], "sha256": stored["sha256"]}


def upload(
    request_id: RequestIdArg,
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="PDF, PNG or JPEG files.")],
    kind: Annotated[list[str], typer.Option(help="The kind of each file, in order (repeat it per file).")],
    supplier: Annotated[
        list[str] | None, typer.Option(help="The supplier of each file, in order ('' for none).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Upload supporting documents to a request (a definitive transport document is delivered as such)."""
    parts = [
        ("files", (f.name, f.read_bytes(), mimetypes.guess_type(f.name)[0] or "application/octet-stream"))
        for f in files
    ]
    data: dict[str, Any] = {"kind": kind}
    if supplier:
        data["supplier"] = supplier
    _act_answer(_call("POST", f"/requests/{request_id}/documents", files=parts, data=data), as_json)


def _act_answer(state: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(state)
    else:
        _print_state(state)


_COMMANDS: dict[type[messages.Action], Callable[..., None]] = {}


def _action(message: type[messages.Action]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The command of one action of the list (`domain.actions`): registered under its slug, its summary
    as help."""

    def command(function: Callable[..., None]) -> Callable[..., None]:
        _COMMANDS[message] = function
        return function

    return command


def _act(
    request_id: str,
    message: type[messages.Action],
    body: dict[str, Any],
    action_id: str | None,
    as_json: bool,
) -> None:
    if action_id:
        body["action_id"] = action_id
    slug = BY_MESSAGE[message].slug
    state = _call("POST", f"/requests/{request_id}/actions/{slug}", json=body)
    _act_answer(state, as_json)


@_action(messages.Approve)
def approve(
    request_id: RequestIdArg,
    note: Annotated[str | None, typer.Option(help="A note for the audit trail.")] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.Approve, {"note": note} if note else {}, action_id, as_json)


@_action(messages.RequestCorrections)
def request_corrections(
    request_id: RequestIdArg,
    item: Annotated[list[str], typer.Option(help="What must be corrected or added (repeatable).")],
    message: Annotated[str, typer.Option(help="The message sent to the exporter.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.RequestCorrections, {"items": item, "message": message}, action_id, as_json)


@_action(messages.CorrectRequestData)
def correct_request_data(
    request_id: RequestIdArg,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The corrected request as JSON.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    try:
        form = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        _fail(f"{file}: not valid JSON ({exc})")
    _act(request_id, messages.CorrectRequestData, {"form": form}, action_id, as_json)


@_action(messages.Refuse)
def refuse(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why, for the exporter.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.Refuse, {"reason": reason}, action_id, as_json)


@_action(messages.Withdraw)
def withdraw(
    request_id: RequestIdArg,
    reason: Annotated[str | None, typer.Option(help="Why (optional).")] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.Withdraw, {"reason": reason} if reason else {}, action_id, as_json)


@_action(messages.RecordCertificateNumber)
def record_certificate(
    request_id: RequestIdArg,
    commodity: Annotated[int, typer.Option(min=0, help="The commodity's index in the request (from 0).")],
    number: Annotated[str, typer.Option(help="The NOPIC number from OID, NNN-NNNNNNNNNN-NNNNNN.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(
        request_id,
        messages.RecordCertificateNumber,
        {"commodity_index": commodity, "number": number},
        action_id,
        as_json,
    )


@_action(messages.SubmitTransportDocument)
def transport_document(
    request_id: RequestIdArg,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The definitive transport document.")
    ],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body = {"document": _reference(file, "transport_document_definitive")}
    _act(request_id, messages.SubmitTransportDocument, body, action_id, as_json)


@_action(messages.RejectTransportDocument)
def reject_transport_document(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why it is not compliant.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.RejectTransportDocument, {"reason": reason}, action_id, as_json)


@_action(messages.UpdateEta)
def update_eta(
    request_id: RequestIdArg,
    eta: Annotated[str, typer.Option(help="New ETA, ISO 8601 with offset, e.g. 2026-12-20T08:00:00-05:00.")],
    expected_clearance: Annotated[str | None, typer.Option(help="New expected clearance, same form.")] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"eta": eta}
    if expected_clearance:
        body["expected_clearance"] = expected_clearance
    _act(request_id, messages.UpdateEta, body, action_id, as_json)


def _quantities(values: list[str]) -> list[dict[str, Any]]:
    quantities = []
    for value in values:
        index, _, kg = value.partition("=")
        try:
            quantities.append({"commodity_index": int(index), "net_kg": str(Decimal(kg))})
        except (ValueError, InvalidOperation):
            _fail(f"--quantity {value!r}: write it as COMMODITY_INDEX=KG, e.g. 0=1200.5")
    return quantities


@_action(messages.RecordShipment)
def record_shipment(
    request_id: RequestIdArg,
    shipped_on: Annotated[str, typer.Option(help="The day it shipped, YYYY-MM-DD.")],
    quantity: Annotated[list[str], typer.Option(help="COMMODITY_INDEX=KG, repeatable, e.g. 0=1200.")],
    document: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Its transport document.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    try:
        date.fromisoformat(shipped_on)
    except ValueError:
        _fail(f"--shipped-on {shipped_on!r}: write the day as YYYY-MM-DD")
    body = {
        "shipped_on": shipped_on,
        "quantities": _quantities(quantity),
        "transport_document": _reference(document, "transport_document_definitive"),
    }
    _act(request_id, messages.RecordShipment, body, action_id, as_json)


@_action(messages.CancelCertificates)
def cancel_certificates(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why, for exporter and importer.")],
    commodity: Annotated[
        list[int] | None, typer.Option(help="Only this commodity's certificate (repeatable); default all.")
    ] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"reason": reason}
    if commodity:
        body["commodity_indexes"] = commodity
    _act(request_id, messages.CancelCertificates, body, action_id, as_json)


def whoami(as_json: JsonOption = False) -> None:
    """The user the token belongs to."""
    user = _call("GET", "/me")
    if as_json:
        _print_json(user)
    else:
        _out.print(escape(f"{user['username']} ({user['display_name']}), {user['role']}"), highlight=False)


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
    issued = _call("POST", "/users", json=body)
    if as_json:
        _print_json(issued)
        return
    user = issued["user"]
    _out.print(
        f"created {user['username']} ({user['role']}). Shown once, pass them on safely:", highlight=False
    )
    _out.print(f"  password: {issued['password']}", highlight=False)
    _out.print(f"  token:    {issued['token']}", highlight=False)


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """Every user."""
    users = _call("GET", "/users")
    if as_json:
        _print_json(users)
        return
    _table(
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
    user = _call("POST", f"/users/{username}/revoke")
    if as_json:
        _print_json(user)
    else:
        _out.print(f"revoked {user['username']}", highlight=False)


def register(app: typer.Typer) -> None:
    for command in (submit, show):
        app.command()(command)
    app.command("list")(list_requests)
    for spec in ACTIONS:
        # Documents are uploaded as files, then handed over: `nopic upload`, the one command named otherwise.
        if spec.message is messages.SubmitDocuments:
            app.command("upload", help=spec.summary)(upload)
        else:
            app.command(spec.slug, help=spec.summary)(_COMMANDS[spec.message])
    app.command()(whoami)
    app.add_typer(users_app, name="users")
