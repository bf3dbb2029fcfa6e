"""The exporter's NOPIC Request Form, validated strictly: every refusal names the field and the rule.

The models are pure (no I/O, no clock): the workflow decodes them inside its sandbox. The one check that
needs the clock, "received at is not in the future", runs where the form enters the service
(`parse_request_form`), never inside the workflow.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

_COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)


def _operation_id(value: str) -> str:
    if not re.fullmatch(r"\d{10}", value):
        raise ValueError("a NOP operation ID is exactly 10 digits")
    return value


def _hts_code(value: str) -> str:
    if not re.fullmatch(r"\d{10}", value):
        raise ValueError("an HTS code is exactly 10 digits, written without dots (e.g. 0901210035)")
    return value


def _country_code(value: str) -> str:
    if value not in _COUNTRY_CODES:
        raise ValueError("a country is an ISO 3166 alpha-2 code in capitals (e.g. BE, PE, US)")
    return value


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("a sha256 is 64 lowercase hexadecimal characters")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
OperationId = Annotated[str, AfterValidator(_operation_id)]
HtsCode = Annotated[str, AfterValidator(_hts_code)]
CountryCode = Annotated[str, AfterValidator(_country_code)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Kilograms = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)]
RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Model(BaseModel):
    """Strict about unknown fields: a misspelt field name is refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Exporter(Model):
    name: Text
    operation_id: OperationId
    country: CountryCode
    email: EmailStr


class Importer(Model):
    """The one US importer of record for the whole request; it must itself be NOP-certified."""

    name: Text
    address: Text
    operation_id: OperationId
    email: EmailStr


class TransportMode(StrEnum):
    SEA = "sea"
    AIR = "air"
    ROAD = "road"
    RAIL = "rail"


class Shipment(Model):
    export_country: CountryCode
    export_port: Text
    us_port_of_entry: Text
    transport_mode: TransportMode
    etd: date = Field(description="Earliest estimated time of departure from the country of export.")
    eta: AwareDatetime = Field(description="Estimated arrival at the US port.")
    expected_clearance: AwareDatetime | None = Field(
        default=None, description="Expected customs clearance; the ETA when not given."
    )

    @model_validator(mode="after")
    def _eta_after_etd(self) -> Shipment:
        if self.eta.date() < self.etd:
            raise ValueError("eta: the estimated arrival is before the estimated departure (etd)")
        if self.expected_clearance is not None and self.expected_clearance < self.eta:
            raise ValueError("expected_clearance: customs clearance cannot come before the arrival (eta)")
        return self

    @property
    def customs_deadline(self) -> datetime:
        """The definitive transport document is due before this instant."""
        return self.expected_clearance or self.eta


class Timeframe(Model):
    """The first and last day the NOPICs must cover: one shipment or several."""

    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _not_inverted(self) -> Timeframe:
        if self.last_day < self.first_day:
            raise ValueError("last_day: the timeframe ends before it starts (first_day)")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first_day <= day <= self.last_day


class OrganicStandard(StrEnum):
    HUNDRED_PERCENT_ORGANIC = "100% organic"
    ORGANIC = "organic"


class Supplier(Model):
    name: Text
    certified_by_certifier: bool = Field(
        description="Certified by this certifier: then its purchase invoice stands in for a TC."
    )
    transaction_certificate: Text | None = None


class CommodityData(Model):
    """What one NOPIC certifies of a commodity: the form's commodity, its certificate and OID's NOPIC all
    carry these fields, under these names."""

    product_name: Text = Field(description="The product name exactly as labeled.")
    hts_code: HtsCode
    organic_standard: OrganicStandard
    net_kg: Kilograms = Field(description="Net quantity in kg for the whole timeframe.")
    lot_numbers: list[Text] = Field(default_factory=list)

    def commodity_data(self) -> dict[str, Any]:
        """These fields alone, to build another model that carries them."""
        return {name: getattr(self, name) for name in CommodityData.model_fields}


class Commodity(CommodityData):
    suppliers: list[Supplier] = Field(default_factory=list)


class AdditionalDocument(StrEnum):
    """Documents the certifier may have required beforehand for this operation."""

    SAMPLING_REPORT = "sampling_report"
    ANALYSIS_RESULTS = "analysis_results"
    LABEL = "label"
    OTHER = "other"


class Declarations(Model):
    """What the exporter declares about the documents that apply to this request."""

    packing_list_applicable: bool
    phytosanitary_certificate_applicable: bool
    additional_documents_required: list[AdditionalDocument] = Field(default_factory=list)

    @field_validator("additional_documents_required")
    @classmethod
    def _no_repeats(cls, value: list[AdditionalDocument]) -> list[AdditionalDocument]:
        if len(set(value)) != len(value):
            raise ValueError("each additional document is listed once")
        return value


class DocumentKind(StrEnum):
    COMMERCIAL_INVOICE = "commercial_invoice"
    PACKING_LIST = "packing_list"
    TRACEABILITY_DECLARATION = "traceability_declaration"
    TRANSACTION_CERTIFICATE = "transaction_certificate"
    PURCHASE_INVOICE = "purchase_invoice"
    PHYTOSANITARY_CERTIFICATE = "phytosanitary_certificate"
    TRANSPORT_DOCUMENT_DRAFT = "transport_document_draft"
    BOOKING_RESERVATION = "booking_reservation"
    TRANSPORT_DOCUMENT_ORIGINAL = "transport_document_original"
    TRANSPORT_DOCUMENT_DEFINITIVE = "transport_document_definitive"
    SAMPLING_REPORT = "sampling_report"
    ANALYSIS_RESULTS = "analysis_results"
    LABEL = "label"
    OTHER = "other"


class DocumentReference(Model):
    """A supporting document already in the document store, and what it concerns."""

    kind: DocumentKind
    file_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    sha256: Sha256
    supplier: Text | None = Field(default=None, description="The supplier's name, as in the form.")
    commodity_index: int | None = Field(default=None, ge=0, description="Index in the form's commodities.")


class NopicRequestForm(Model):
    """What the exporter's NOPIC Request Form carries."""

    exporter: Exporter
    importer: Importer
    shipment: Shipment
    timeframe: Timeframe
    commodities: list[Commodity] = Field(min_length=1)
    declarations: Declarations
    documents: list[DocumentReference] = Field(default_factory=list)
    received_at: AwareDatetime = Field(description="When the certifier received the request.")

    @model_validator(mode="after")
    def _consistent(self) -> NopicRequestForm:
        if self.shipment.etd < self.received_at.date():
            raise ValueError("shipment.etd: the estimated departure is before the day of receipt")
        if self.shipment.etd not in self.timeframe:
            raise ValueError("shipment.etd: the estimated departure lies outside the timeframe")
        for position, document in enumerate(self.documents):
            check_document_reference(self, document, f"documents.{position}")
        return self

    @field_validator("received_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = info.context.get("now") if isinstance(info.context, dict) else None
        if isinstance(now, datetime) and value > now:
            raise ValueError("the time of receipt cannot be in the future")
        return value

    @property
    def supplier_names(self) -> list[str]:
        """Every supplier once, in the order the form names them."""
        return list(dict.fromkeys(s.name for c in self.commodities for s in c.suppliers))

    def supplier(self, name: str) -> Supplier:
        return next(s for c in self.commodities for s in c.suppliers if s.name == name)


def check_document_reference(form: NopicRequestForm, document: DocumentReference, where: str) -> None:
    """A document may only point at a supplier or commodity the form names."""
    if document.supplier is not None and document.supplier not in form.supplier_names:
        raise ValueError(f"{where}.supplier: no supplier named {document.supplier!r} in the request")
    if document.commodity_index is not None and document.commodity_index >= len(form.commodities):
        raise ValueError(f"{where}.commodity_index: the request has {len(form.commodities)} commodities")


def parse_request_form(data: Any, now: datetime) -> NopicRequestForm:
    """Validate a form where it enters the service, with the clock: received_at may not be in the future."""
    return NopicRequestForm.model_validate(data, context={"now": now})
