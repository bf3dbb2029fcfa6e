"""The USDA Organic INTEGRITY Database (OID): the NOPICs of a request, through the OID gateway (api mode).

The port `OidGateway` is what the activities need from OID; adapters (the HTTP gateway to OID or to the
local sandbox) implement it. Its operation look-up serves the operations check when no public data key is
configured (`activities.oid_public`). Adapters raise the error classes below for answers that retrying cannot
change; any other exception (timeouts, 5xx) is retried by Temporal under the workflow's retry policy.
"""

from __future__ import annotations

import hashlib
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.nopic_number import check_nopic_number
from domain.request import (
    CommodityData,
    CountryCode,
    Exporter,
    Importer,
    NopicRequestForm,
    OperationId,
    RequestId,
    TransportMode,
)
from domain.state import Certificate


class OidError(ApplicationError):
    """An answer from OID that retrying cannot change. Subclasses name the case."""

    error_type = "OidError"

    def __init__(self, message: str) -> None:
        super().__init__(message, type=self.error_type, non_retryable=True)


class OperationNotFound(OidError):
    error_type = "OperationNotFound"


class NopicRejected(OidError):
    """OID refused to create the NOPIC (e.g. the importer's operation is not certified)."""

    error_type = "NopicRejectedByOid"


class NopicNotFound(OidError):
    error_type = "NopicNotFound"


class InvalidNopicNumber(OidError):
    """The gateway answered with something that is not a valid NOPIC number (e.g. a draft)."""

    error_type = "InvalidNopicNumber"


NON_RETRYABLE_ERRORS = [
    OidError.error_type,
    OperationNotFound.error_type,
    NopicRejected.error_type,
    NopicNotFound.error_type,
    InvalidNopicNumber.error_type,
]

CERTIFIED = "Certified"


class Operation(BaseModel):
    """An operation as OID lists it."""

    model_config = ConfigDict(frozen=True)

    operation_id: OperationId
    name: str
    status: str = Field(description="OID's status text, e.g. 'Certified', 'Surrendered', 'Suspended'.")
    certifier: str | None = None
    status_date: date | None = None

    @property
    def certified(self) -> bool:
        return self.status == CERTIFIED


class NopicData(CommodityData):
    """Everything one NOPIC carries: the commodity and the request it belongs to."""

    request_id: RequestId
    commodity_index: int = Field(ge=0)
    exporter: Exporter
    importer: Importer
    origin_country: CountryCode
    export_port: str
    us_port_of_entry: str
    transport_mode: TransportMode
    etd: date
    valid_from: date
    valid_until: date

    @property
    def idempotency_key(self) -> str:
        """One NOPIC per commodity of a request, however often the activity retries: the key of requests
        issued before `idempotency_key(data, revision)` named each NOPIC by its data too."""
        return f"{self.request_id}:{self.commodity_index}"

    @classmethod
    def of(cls, request_id: str, form: NopicRequestForm, certificate: Certificate) -> NopicData:
        """What OID records for one NOPIC: the commodity, both operations, the shipment and the timeframe."""
        return cls(
            request_id=request_id,
            commodity_index=certificate.commodity_index,
            **certificate.commodity_data(),
            exporter=form.exporter,
            importer=form.importer,
            origin_country=form.shipment.export_country,
            export_port=form.shipment.export_port,
            us_port_of_entry=form.shipment.us_port_of_entry,
            transport_mode=form.shipment.transport_mode,
            etd=form.shipment.etd,
            valid_from=form.timeframe.first_day,
            valid_until=form.timeframe.last_day,
        )


class NopicStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Nopic(BaseModel):
    """A NOPIC as OID holds it."""

    model_config = ConfigDict(frozen=True)

    number: str
    status: NopicStatus
    issued_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    data: NopicData


class LookupOperationInput(BaseModel):
    operation_id: OperationId


class IssueNopicInput(BaseModel):
    data: NopicData
    idempotency_key: str | None = Field(
        default=None,
        description="Names this NOPIC at the gateway; none: the data's own (request and commodity), as "
        "requests issued before keys carried the revision and a digest of the data.",
    )


class IssuedNopic(BaseModel):
    number: str
    issued_at: AwareDatetime


class CancelNopicInput(BaseModel):
    number: str
    reason: str


class CancelledNopic(BaseModel):
    number: str
    cancelled_at: AwareDatetime


class OidGateway(Protocol):
    async def create_nopic(self, idempotency_key: str, data: NopicData) -> Nopic:
        """Create and issue the NOPIC; the same key returns the same NOPIC. Raises NopicRejected."""
        ...

    async def cancel_nopic(self, number: str, reason: str) -> Nopic:
        """Cancel the NOPIC; cancelling a cancelled one returns it unchanged. Raises NopicNotFound."""
        ...


class OidActivities:
    def __init__(self, gateway: OidGateway) -> None:
        self._gateway = gateway

    @activity.defn
    async def issue_nopic(self, input: IssueNopicInput) -> IssuedNopic:
        key = input.idempotency_key or input.data.idempotency_key
        nopic = await self._gateway.create_nopic(key, input.data)
        problem = check_nopic_number(nopic.number)
        if problem is not None or nopic.status is not NopicStatus.ISSUED or nopic.issued_at is None:
            raise InvalidNopicNumber(
                f"OID answered NOPIC {nopic.number!r} in status {nopic.status}: {problem or 'not issued'}"
            )
        activity.logger.info("NOPIC issued", extra={"nopic": nopic.number, "key": key})
        return IssuedNopic(number=nopic.number, issued_at=nopic.issued_at)

    @activity.defn
    async def cancel_nopic(self, input: CancelNopicInput) -> CancelledNopic:
        nopic = await self._gateway.cancel_nopic(input.number, input.reason)
        if nopic.status is not NopicStatus.CANCELLED or nopic.cancelled_at is None:
            raise OidError(f"OID did not cancel NOPIC {nopic.number}: its status is {nopic.status}")
        activity.logger.info("NOPIC cancelled", extra={"nopic": nopic.number})
        return CancelledNopic(number=nopic.number, cancelled_at=nopic.cancelled_at)


def idempotency_key(data: NopicData, revision: int) -> str:
    """The key that names one NOPIC at the gateway: the commodity, the certificate's revision (one more per
    correction that replaced it) and a digest of its data. A retry sends the same key with the same data;
    changed data, or a NOPIC issued again after a cancellation, never reuses a key the gateway knows."""
    digest = hashlib.sha256(data.model_dump_json().encode()).hexdigest()[:16]
    return f"{data.request_id}:{data.commodity_index}:r{revision}:{digest}"
