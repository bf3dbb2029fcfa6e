"""The HTTP contract between nopic and OID, as the sandbox serves it and `HttpOidGateway` calls it.

Every body is JSON; every error body is `ApiError` (a stable machine code and a sentence for people).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

OperationId = Annotated[str, Field(pattern=r"^[0-9]{10}$", description="NOP operation ID, 10 digits")]
NopicNumber = Annotated[str, Field(pattern=r"^[0-9]{3}-[0-9]{10}-[0-9]{6}$")]

API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
CERTIFIED = "Certified"


class Operation(BaseModel):
    """An operation as OID lists it: only one whose status is "Certified" may trade as organic."""

    model_config = ConfigDict(extra="forbid")

    operation_id: OperationId
    name: str = Field(min_length=1)
    status: str = Field(min_length=1, description='e.g. "Certified", "Suspended", "Revoked", "Surrendered"')
    certifier: str = Field(min_length=1)
    status_date: date | None = None


class Exporter(BaseModel):
    operation_id: OperationId
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    email: str


class Importer(BaseModel):
    operation_id: OperationId
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)
    email: str


class NopicCreate(BaseModel):
    """Create the NOPIC of one commodity; the `Idempotency-Key` header names it (request and commodity)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    commodity_index: int = Field(ge=0)
    exporter: Exporter
    importer: Importer
    product_name: str = Field(min_length=1)
    hts_code: str = Field(pattern=r"^[0-9]{10}$")
    organic_standard: str = Field(min_length=1)
    net_kg: Decimal = Field(gt=0)
    lot_numbers: list[str] = Field(default_factory=list)
    origin_country: str = Field(pattern=r"^[A-Z]{2}$")
    destination_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    export_port: str = Field(min_length=1)
    us_port_of_entry: str = Field(min_length=1)
    transport_mode: str = Field(min_length=1)
    etd: date
    valid_from: date
    valid_until: date

    @model_validator(mode="after")
    def _timeframe_in_order(self) -> NopicCreate:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


class Nopic(NopicCreate):
    number: NopicNumber
    status: Literal["issued", "cancelled"]
    certifier: str
    issued_at: AwareDatetime
    cancelled_at: AwareDatetime | None = None
    cancel_reason: str | None = None


class NopicCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1)


class Faults(BaseModel):
    """Fault injection on the /api routes (admin and health routes are never faulted)."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of calls answered with a 5xx")
    latency_ms: int = Field(default=0, ge=0, description="added to every call")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share of calls that hang")
    timeout_seconds: float = Field(default=30.0, ge=0, description="how long a hanging call hangs")
    refused_hts_codes: list[str] = Field(
        default_factory=list,
        description="NOPICs for these HTS codes are refused (422), as OID refuses a product the exporter "
        "is not certified for: one commodity of a request refused, the others issued",
    )


class ApiError(BaseModel):
    error: str
    detail: str
