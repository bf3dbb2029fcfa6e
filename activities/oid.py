"""The USDA Organic INTEGRITY Database (OID): operations lookup and the NOPICs of a request.

The port `OidGateway` is what the activities need from OID; adapters (the HTTP gateway to OID or to the
local sandbox) implement it. Adapters raise the error classes below for answers that retrying cannot
change; any other exception (timeouts, 5xx) is retried by Temporal under the workflow's retry policy.
"""

from __future__ import annotations

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
    OperationId,
    RequestId,
    TransportMode,
)


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
        """One NOPIC per commodity of a request, however often the activity retries."""
        return f"{self.request_id}:{self.commodity_index}"


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


class IssuedNopic(BaseModel):
    number: str
    issued_at: AwareDatetime


class GetNopicInput(BaseModel):
    number: str


class CancelNopicInput(BaseModel):
    number: str
    reason: str


class CancelledNopic(BaseModel):
    number: str
    cancelled_at: AwareDatetime


class OidGateway(Protocol):
    async def lookup_operation(self, operation_id: str) -> Operation:
        """The operation with this NOP operation ID; raises OperationNotFound."""
        ...

    async def create_nopic(self, idempotency_key: str, data: NopicData) -> Nopic:
        """Create and issue the NOPIC; the same key returns the same NOPIC. Raises NopicRejected."""
        ...

    async def get_nopic(self, number: str) -> Nopic:
        """Raises NopicNotFound."""
        ...

    async def cancel_nopic(self, number: str, reason: str) -> Nopic:
        """Cancel the NOPIC; cancelling a cancelled one returns it unchanged. Raises NopicNotFound."""
        ...


class OidActivities:
    def __init__(self, gateway: OidGateway) -> None:
        self._gateway = gateway

    @activity.defn
    async def lookup_operation(self, input: LookupOperationInput) -> Operation:
        return await self._gateway.lookup_operation(input.operation_id)

    @activity.defn
    async def issue_nopic(self, input: IssueNopicInput) -> IssuedNopic:
        nopic = await self._gateway.create_nopic(input.data.idempotency_key, input.data)
        problem = check_nopic_number(nopic.number)
        if problem is not None or nopic.status is not NopicStatus.ISSUED or nopic.issued_at is None:
            raise InvalidNopicNumber(
                f"OID answered NOPIC {nopic.number!r} in status {nopic.status}: {problem or 'not issued'}"
            )
        activity.logger.info("NOPIC issued", extra={"nopic": nopic.number, "key": input.data.idempotency_key})
        return IssuedNopic(number=nopic.number, issued_at=nopic.issued_at)

    @activity.defn
    async def get_nopic(self, input: GetNopicInput) -> Nopic:
        return await self._gateway.get_nopic(input.number)

    @activity.defn
    async def cancel_nopic(self, input: CancelNopicInput) -> CancelledNopic:
        nopic = await self._gateway.cancel_nopic(input.number, input.reason)
        if nopic.status is not NopicStatus.CANCELLED or nopic.cancelled_at is None:
            raise OidError(f"OID did not cancel NOPIC {nopic.number}: its status is {nopic.status}")
        activity.logger.info("NOPIC cancelled", extra={"nopic": nopic.number})
        return CancelledNopic(number=nopic.number, cancelled_at=nopic.cancelled_at)
