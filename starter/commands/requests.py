"""`nopic submit`, `list`, `show` and `upload`: requests and their documents; `to-cancel`: the NOPICs to
cancel in OID."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from starter.commands.api import (
    JsonOption,
    RequestIdArg,
    call,
    fail,
    out,
    print_answer,
    print_detail,
    print_json,
    table,
    words,
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
        fail(f"{file}: not valid JSON ({exc})")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    answer = call("POST", "/requests", json=body, headers=headers)
    if as_json:
        print_json(answer)
        return
    late = "  LATE" if answer["late"] else ""
    out.print(
        f"submitted [bold]{answer['id']}[/]: {answer['status']}, lead time "
        f"{answer['lead_working_days']} working days{late}",
        highlight=False,
    )
    missing = [
        i["description"] for i in answer["checklist"] if not i["satisfied_by"] and i["required"] == "now"
    ]
    if missing:
        out.print(escape("still missing: " + "; ".join(missing)), highlight=False)


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
    page = call("GET", "/requests", params=params)
    if as_json:
        print_json(page)
        return
    table(
        f"{page['total']} requests" + (f" (from {offset + 1})" if offset else ""),
        ["id", "status", "exporter", "importer", "products", "ETD", "customs deadline", "late"],
        [
            [
                r["request_id"],
                words(r["status"]),
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


def to_cancel(as_json: JsonOption = False) -> None:
    """The NOPICs to cancel in OID: valid there until cancelled and confirmed (record-cancellation)."""
    rows = call("GET", "/certificates", params={"status": "cancellation_pending"})
    if as_json:
        print_json(rows)
        return
    table(
        f"{len(rows)} to cancel in OID",
        ["request", "commodity", "NOPIC", "product", "reason", "since", "OID refused"],
        [
            [
                r["request_id"],
                str(r["commodity_index"]),
                r["nopic_number"] or "",
                r["product_name"],
                r["cancel_reason"] or "",
                (r["cancellation_requested_at"] or "")[:16],
                r["oid_failure"] or "",
            ]
            for r in rows
        ],
    )


def show(request_id: RequestIdArg, as_json: JsonOption = False) -> None:
    """A request's live state, checklist, certificates and audit trail."""
    detail = call("GET", f"/requests/{request_id}")
    if as_json:
        print_json(detail)
    else:
        print_detail(detail)


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
    print_answer(call("POST", f"/requests/{request_id}/documents", files=parts, data=data), as_json)
