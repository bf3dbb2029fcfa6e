"""HTML forms to the API's bodies: the dashboard posts plain forms and the same models check them.

A plain form has no nesting, no lists and no booleans: fields are named `exporter.name`,
`commodities.0.net_kg`; an unticked checkbox is absent; a time is a `datetime-local` value (the browser's
date-time picker) and a time zone chosen beside it (`<name>_zone`), never typed as ISO text. Nothing here
decides what is valid: that is the models' (and the workflow's) job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from domain.request import AdditionalDocument, DocumentKind, NopicRequestForm
from web.uploads import IncomingFile, Upload

COMMODITY_ROWS = 3
UPLOAD_SLOTS = 6


class Form(Protocol):
    """A posted form: a plain one (`FormData`) or one with files (`web.uploads.Upload`)."""

    def get(self, key: str) -> Any: ...

    def multi_items(self) -> list[tuple[str, Any]]: ...


def text(form: Form, name: str) -> str | None:
    """A text field, stripped; None when empty or absent."""
    value = form.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


# The zones offered beside a time: the US ports' (arrival, clearance), then UTC; the certifier's is added.
US_PORT_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)


def time_zones(certifier_zone: str) -> list[str]:
    return list(dict.fromkeys([*US_PORT_ZONES, certifier_zone, "UTC"]))


def aware(form: Form, name: str) -> str | None:
    """A `datetime-local` value with the zone chosen beside it (`<name>_zone`, UTC when none came) as
    ISO 8601; what cannot be read is passed on as typed, for the model to name the field."""
    local = text(form, name)
    if local is None:
        return None
    if len(local) == 16:  # browsers omit the seconds
        local += ":00"
    zone = text(form, f"{name}_zone") or "UTC"
    try:
        return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).isoformat()
    except (ValueError, KeyError):  # an unknown zone is a KeyError (ZoneInfoNotFoundError)
        return f"{local} {zone}"


def local_and_zone(moment: datetime | None, zones: list[str]) -> tuple[str, str]:
    """A time as the picker shows it: its local date-time in the first offered zone that has its offset
    then (UTC when none does)."""
    if moment is None:
        return "", zones[0]
    for zone in [*zones, "UTC"]:
        local = moment.astimezone(ZoneInfo(zone))
        if local.utcoffset() == moment.utcoffset():
            return local.strftime("%Y-%m-%dT%H:%M"), zone
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M"), "UTC"


def _lines(value: str | None, separator: str = ",") -> list[str]:
    return [part.strip() for part in (value or "").split(separator) if part.strip()]


def submission_data(form: Form) -> dict[str, Any]:
    """The submission form as the JSON body of `POST /requests` (documents are added by the caller)."""
    commodities = []
    for row in range(COMMODITY_ROWS):
        prefix = f"commodities.{row}."
        fields = ("product_name", "hts_code", "net_kg", "lot_numbers", "supplier_name")
        if not any(text(form, prefix + f) for f in fields):
            continue  # an empty row is not a commodity
        commodity: dict[str, Any] = {
            "product_name": text(form, prefix + "product_name"),
            "hts_code": text(form, prefix + "hts_code"),
            "organic_standard": text(form, prefix + "organic_standard"),
            "net_kg": text(form, prefix + "net_kg"),
            "lot_numbers": _lines(text(form, prefix + "lot_numbers")),
            "suppliers": [],
        }
        supplier = text(form, prefix + "supplier_name")
        if supplier:
            commodity["suppliers"].append(
                {
                    "name": supplier,
                    "certified_by_certifier": form.get(prefix + "supplier_certified") == "on",
                    "transaction_certificate": text(form, prefix + "supplier_tc"),
                }
            )
        commodities.append(commodity)
    data: dict[str, Any] = {
        "exporter": {k: text(form, f"exporter.{k}") for k in ("name", "operation_id", "country", "email")},
        "importer": {k: text(form, f"importer.{k}") for k in ("name", "address", "operation_id", "email")},
        "shipment": {
            **{
                k: text(form, f"shipment.{k}")
                for k in ("export_country", "export_port", "us_port_of_entry", "transport_mode", "etd")
            },
            "eta": aware(form, "shipment.eta"),
            "expected_clearance": aware(form, "shipment.expected_clearance"),
        },
        "timeframe": {
            "first_day": text(form, "timeframe.first_day"),
            "last_day": text(form, "timeframe.last_day"),
        },
        "commodities": commodities,
        "declarations": {
            "packing_list_applicable": form.get("declarations.packing_list_applicable") == "on",
            "phytosanitary_certificate_applicable": form.get(
                "declarations.phytosanitary_certificate_applicable"
            )
            == "on",
            "additional_documents_required": [
                a.value for a in AdditionalDocument if form.get(f"declarations.additional.{a.value}") == "on"
            ],
        },
    }
    received_at = aware(form, "received_at")
    if received_at is not None:
        data["received_at"] = received_at
    return data


def _local(moment: datetime | None, name: str) -> dict[str, str]:
    if moment is None:
        return {}
    local, zone = local_and_zone(moment, list(US_PORT_ZONES))
    return {name: local, f"{name}_zone": zone}


def form_values(form: NopicRequestForm) -> dict[str, str] | None:
    """The request as the submission form's fields, to correct it; None when the form cannot show it
    whole (more commodities than rows, or a commodity with several suppliers): then the API or CLI."""
    if len(form.commodities) > COMMODITY_ROWS or any(len(c.suppliers) > 1 for c in form.commodities):
        return None
    values = {f"exporter.{k}": str(v) for k, v in form.exporter.model_dump().items()}
    values |= {f"importer.{k}": str(v) for k, v in form.importer.model_dump().items()}
    shipment = form.shipment
    values |= {
        "shipment.export_country": shipment.export_country,
        "shipment.export_port": shipment.export_port,
        "shipment.us_port_of_entry": shipment.us_port_of_entry,
        "shipment.transport_mode": shipment.transport_mode.value,
        "shipment.etd": shipment.etd.isoformat(),
        **_local(shipment.eta, "shipment.eta"),
        **_local(shipment.expected_clearance, "shipment.expected_clearance"),
        "timeframe.first_day": form.timeframe.first_day.isoformat(),
        "timeframe.last_day": form.timeframe.last_day.isoformat(),
    }
    for row, commodity in enumerate(form.commodities):
        prefix = f"commodities.{row}."
        values |= {
            prefix + "product_name": commodity.product_name,
            prefix + "hts_code": commodity.hts_code,
            prefix + "organic_standard": commodity.organic_standard.value,
            prefix + "net_kg": str(commodity.net_kg),
            prefix + "lot_numbers": ", ".join(commodity.lot_numbers),
        }
        for supplier in commodity.suppliers:
            values[prefix + "supplier_name"] = supplier.name
            values[prefix + "supplier_tc"] = supplier.transaction_certificate or ""
            if supplier.certified_by_certifier:
                values[prefix + "supplier_certified"] = "on"
    declarations = form.declarations
    for name in ("packing_list_applicable", "phytosanitary_certificate_applicable"):
        if getattr(declarations, name):
            values[f"declarations.{name}"] = "on"
    for additional in declarations.additional_documents_required:
        values[f"declarations.additional.{additional.value}"] = "on"
    return values


def uploads(form: Upload, slots: int = UPLOAD_SLOTS) -> list[tuple[IncomingFile, str, str | None]]:
    """(file, kind, supplier) for each upload slot `files.N` that holds a file."""
    chosen = []
    for slot in range(slots):
        file = form.file(f"files.{slot}")
        if file is not None:
            kind = text(form, f"kinds.{slot}") or DocumentKind.OTHER.value
            chosen.append((file, kind, text(form, f"suppliers.{slot}")))
    return chosen


def kilograms(form: Form) -> list[dict[str, str]]:
    """The `kg.<commodity index>` fields that hold a quantity, as the API's quantities."""
    return [
        {"commodity_index": key.removeprefix("kg."), "net_kg": value.strip()}
        for key, value in form.multi_items()
        if key.startswith("kg.") and isinstance(value, str) and value.strip()
    ]


def action_body(action: str, form: Form) -> dict[str, Any]:
    """The JSON body of one action from its dashboard form (file fields are handled by the caller)."""
    body: dict[str, Any]
    match action:
        case "approve":
            body = {"note": text(form, "note")}
        case "request-corrections":
            body = {"items": _lines(text(form, "items"), "\n"), "message": text(form, "message")}
        case "refuse":
            body = {"reason": text(form, "reason")}
        case "reject-transport-document":
            body = {"reason": text(form, "reason"), "shipment": text(form, "shipment")}
        case "transport-document":
            body = {
                "shipped_on": text(form, "shipped_on"),
                "quantities": kilograms(form) or None,
                "shipment": text(form, "shipment"),
            }
        case "report-quantities":
            body = {"quantities": kilograms(form)}
        case "withdraw":
            body = {"reason": text(form, "reason")}
        case "record-certificate":
            body = {"commodity_index": text(form, "commodity_index"), "number": text(form, "number")}
        case "confirm-operations":
            body = {"note": text(form, "note")}
        case "return-to-review":
            body = {"reason": text(form, "reason")}
        case "record-cancellation":
            body = {
                "commodity_index": text(form, "commodity_index"),
                "number": text(form, "number"),
                "note": text(form, "note"),
            }
        case "retry-cancellation":
            body = {"commodity_index": text(form, "commodity_index"), "number": text(form, "number")}
        case "update-eta":
            body = {
                "eta": aware(form, "eta"),
                "expected_clearance": aware(form, "expected_clearance"),
                "etd": text(form, "etd"),
                "clear_expected_clearance": form.get("clear_expected_clearance") == "on" or None,
            }
        case "resolve-corrections":
            body = {"note": text(form, "note")}
        case "accept-eta-move":
            body = {"note": text(form, "note")}
        case "decline-eta-move":
            body = {"reason": text(form, "reason")}
        case "record-shipment":
            body = {
                "shipped_on": text(form, "shipped_on"),
                "quantities": kilograms(form),
                "eta": aware(form, "eta"),
                "expected_clearance": aware(form, "expected_clearance"),
            }
        case "replace-certificate":
            lots = text(form, "lot_numbers")
            body = {
                "commodity_index": text(form, "commodity_index"),
                "reason": text(form, "reason"),
                "product_name": text(form, "product_name"),
                "net_kg": text(form, "net_kg"),
                "lot_numbers": _lines(lots) if lots is not None else None,
            }
        case "cancel-certificates":
            chosen = [v for k, v in form.multi_items() if k == "commodity_indexes" and isinstance(v, str)]
            body = {"reason": text(form, "reason"), "commodity_indexes": chosen or None}
        case _:
            body = {}
    body["action_id"] = text(form, "action_id")
    return {k: v for k, v in body.items() if v is not None}
