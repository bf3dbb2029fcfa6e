"""One `nopic` command per action of the list (`domain.actions`), each a POST of its body to the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from domain import messages
from domain.actions import BY_MESSAGE
from starter.commands.api import ActionIdOption, JsonOption, RequestIdArg, call, fail, print_answer, reference

COMMANDS: dict[type[messages.Action], Callable[..., None]] = {}


def _action(message: type[messages.Action]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The command of one action of the list (`domain.actions`): registered under its slug, its summary
    as help."""

    def command(function: Callable[..., None]) -> Callable[..., None]:
        COMMANDS[message] = function
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
    state = call("POST", f"/requests/{request_id}/actions/{slug}", json=body)
    print_answer(state, as_json)


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


@_action(messages.ResolveCorrections)
def resolve_corrections(
    request_id: RequestIdArg,
    note: Annotated[str, typer.Option(help="How they were answered (by email, say), for the audit trail.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.ResolveCorrections, {"note": note}, action_id, as_json)


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
        fail(f"{file}: not valid JSON ({exc})")
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


ShipmentOption = Annotated[
    int | None, typer.Option(min=0, help="A further shipment, by its index in the request (from 0).")
]


def _day(option: str, value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: write the day as YYYY-MM-DD")
    return value


@_action(messages.SubmitTransportDocument)
def transport_document(
    request_id: RequestIdArg,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The definitive transport document.")
    ],
    shipped_on: Annotated[
        str | None, typer.Option(help="The day the first shipment left, YYYY-MM-DD (needed once issued).")
    ] = None,
    quantity: Annotated[
        list[str] | None, typer.Option(help="COMMODITY_INDEX=KG of the first shipment, repeatable.")
    ] = None,
    shipment: ShipmentOption = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"document": reference(file, "transport_document_definitive")}
    if shipped_on:
        body["shipped_on"] = _day("--shipped-on", shipped_on)
    if quantity:
        body["quantities"] = _quantities(quantity)
    if shipment is not None:
        body["shipment"] = shipment
    _act(request_id, messages.SubmitTransportDocument, body, action_id, as_json)


@_action(messages.RejectTransportDocument)
def reject_transport_document(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why it is not compliant.")],
    shipment: ShipmentOption = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"reason": reason}
    if shipment is not None:
        body["shipment"] = shipment
    _act(request_id, messages.RejectTransportDocument, body, action_id, as_json)


@_action(messages.UpdateEta)
def update_eta(
    request_id: RequestIdArg,
    eta: Annotated[str, typer.Option(help="New ETA, ISO 8601 with offset, e.g. 2026-12-20T08:00:00-05:00.")],
    expected_clearance: Annotated[
        str | None, typer.Option(help="New expected clearance, same form; left out, the one before stays.")
    ] = None,
    clear_expected_clearance: Annotated[
        bool, typer.Option("--clear-expected-clearance", help="Drop the expected clearance: the ETA decides.")
    ] = False,
    etd: Annotated[
        str | None, typer.Option(help="New ETD within the timeframe, YYYY-MM-DD (before issue).")
    ] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"eta": eta}
    if expected_clearance:
        body["expected_clearance"] = expected_clearance
    if clear_expected_clearance:
        body["clear_expected_clearance"] = True
    if etd:
        body["etd"] = etd
    _act(request_id, messages.UpdateEta, body, action_id, as_json)


@_action(messages.AcceptDeadlineMove)
def accept_eta_move(
    request_id: RequestIdArg,
    note: Annotated[str | None, typer.Option(help="A note for the exporter and the audit trail.")] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.AcceptDeadlineMove, {"note": note} if note else {}, action_id, as_json)


@_action(messages.DeclineDeadlineMove)
def decline_eta_move(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why, for the exporter.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.DeclineDeadlineMove, {"reason": reason}, action_id, as_json)


def _quantities(values: list[str]) -> list[dict[str, Any]]:
    """`COMMODITY_INDEX=KG` options as the API's quantities; the API checks the kg themselves."""
    quantities = []
    for value in values:
        index, _, kg = value.partition("=")
        try:
            quantities.append({"commodity_index": int(index), "net_kg": str(Decimal(kg))})
        except (ValueError, InvalidOperation):
            fail(f"--quantity {value!r}: write it as COMMODITY_INDEX=KG, e.g. 0=1200.5")
    return quantities


@_action(messages.RecordShipment)
def record_shipment(
    request_id: RequestIdArg,
    shipped_on: Annotated[str, typer.Option(help="The day it shipped, YYYY-MM-DD.")],
    quantity: Annotated[list[str], typer.Option(help="COMMODITY_INDEX=KG, repeatable, e.g. 0=1200.")],
    document: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Its transport document.")],
    eta: Annotated[str | None, typer.Option(help="Its arrival in the US, ISO 8601 with offset.")] = None,
    expected_clearance: Annotated[
        str | None, typer.Option(help="Its expected customs clearance: the NOPICs do not expire before it.")
    ] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {
        "shipped_on": _day("--shipped-on", shipped_on),
        "quantities": _quantities(quantity),
        "transport_document": reference(document, "transport_document_definitive"),
    }
    if eta:
        body["eta"] = eta
    if expected_clearance:
        body["expected_clearance"] = expected_clearance
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


@_action(messages.ConfirmOperations)
def confirm_operations(
    request_id: RequestIdArg,
    note: Annotated[str, typer.Option(help="What you saw in OID's public search, e.g. both status dates.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.ConfirmOperations, {"note": note}, action_id, as_json)


@_action(messages.ReturnToReview)
def return_to_review(
    request_id: RequestIdArg,
    reason: Annotated[str, typer.Option(help="Why issuance stops.")],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    _act(request_id, messages.ReturnToReview, {"reason": reason}, action_id, as_json)


NumberOption = Annotated[
    str | None, typer.Option(help="Only when two NOPICs of the commodity await cancellation: which one.")
]


@_action(messages.RecordCancellation)
def record_cancellation(
    request_id: RequestIdArg,
    commodity: Annotated[int, typer.Option(min=0, help="The commodity's index in the request (from 0).")],
    note: Annotated[str, typer.Option(help="How it was cancelled in OID, e.g. by whom.")],
    number: NumberOption = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"commodity_index": commodity, "note": note}
    if number:
        body["number"] = number
    _act(request_id, messages.RecordCancellation, body, action_id, as_json)


@_action(messages.RetryCancellation)
def retry_cancellation(
    request_id: RequestIdArg,
    commodity: Annotated[int, typer.Option(min=0, help="The commodity's index in the request (from 0).")],
    number: NumberOption = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"commodity_index": commodity}
    if number:
        body["number"] = number
    _act(request_id, messages.RetryCancellation, body, action_id, as_json)


@_action(messages.ReportQuantities)
def report_quantities(
    request_id: RequestIdArg,
    quantity: Annotated[
        list[str], typer.Option(help="COMMODITY_INDEX=KG actually shipped over the timeframe, repeatable.")
    ],
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body = {"quantities": _quantities(quantity)}
    _act(request_id, messages.ReportQuantities, body, action_id, as_json)


@_action(messages.ReplaceCertificate)
def replace_certificate(
    request_id: RequestIdArg,
    commodity: Annotated[int, typer.Option(min=0, help="The commodity whose issued NOPIC is replaced.")],
    reason: Annotated[str, typer.Option(help="Why its data must change, for exporter and importer.")],
    product_name: Annotated[str | None, typer.Option(help="The product name as labeled.")] = None,
    net_kg: Annotated[str | None, typer.Option(help="Net kg for the whole timeframe.")] = None,
    lot: Annotated[list[str] | None, typer.Option(help="A lot number (repeatable): the new list.")] = None,
    action_id: ActionIdOption = None,
    as_json: JsonOption = False,
) -> None:
    body: dict[str, Any] = {"commodity_index": commodity, "reason": reason}
    if product_name is not None:
        body["product_name"] = product_name
    if net_kg is not None:
        body["net_kg"] = net_kg
    if lot:
        body["lot_numbers"] = lot
    _act(request_id, messages.ReplaceCertificate, body, action_id, as_json)
