"""The audit trail and the read model: every state change of a request, recorded exactly once.

The port `RecordsStore` is implemented by the PostgreSQL adapter: in one transaction it inserts the audit
event (ON CONFLICT (event_id) DO NOTHING, so a retried activity never writes it twice), upserts the
request's read-model row and its certificates, and, once the request has closed, its whole state: the
record the API and dashboard serve after Temporal's retention has deleted the workflow.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity

from core.logging import get_logger
from domain.schedule import attention, grace_running
from domain.state import Actor, Certificate, RequestState, RequestStatus

log = get_logger(__name__)


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(description="'<request id>:<sequence>': the same event on every retry and replay.")
    request_id: str
    sequence: int = Field(ge=1)
    actor: Actor
    action: str = Field(description="What happened, e.g. 'received', 'approve', 'nopic_issued'.")
    payload: dict[str, Any] = Field(default_factory=dict, description="The action's data, as JSON.")
    at: AwareDatetime


class RequestSummary(BaseModel):
    """The request's read-model row, for dashboards and lists."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    status: RequestStatus
    exporter_operation_id: str
    exporter_name: str
    importer_operation_id: str
    importer_name: str
    etd: date
    customs_deadline: AwareDatetime
    late: bool
    lead_working_days: int
    commodity_count: int
    product_names: list[str]
    received_at: AwareDatetime
    updated_at: AwareDatetime
    attention: list[str] = Field(
        default_factory=list, description="What the reviewers' queues flag it for (`domain.schedule`)."
    )
    grace_until: AwareDatetime | None = Field(default=None, description="The end of a grace period running.")

    @classmethod
    def of(cls, state: RequestState) -> RequestSummary:
        form = state.form
        return cls(
            request_id=state.request_id,
            status=state.status,
            exporter_operation_id=form.exporter.operation_id,
            exporter_name=form.exporter.name,
            importer_operation_id=form.importer.operation_id,
            importer_name=form.importer.name,
            etd=form.shipment.etd,
            customs_deadline=state.customs_deadline,
            late=state.late,
            lead_working_days=state.lead_working_days,
            commodity_count=len(form.commodities),
            product_names=[c.product_name for c in form.commodities],
            received_at=form.received_at,
            updated_at=state.updated_at,
            attention=[flag.value for flag in attention(state)],
            grace_until=grace_running(state),
        )


class RecordChangeInput(BaseModel):
    event: AuditEvent
    summary: RequestSummary
    certificates: list[Certificate]
    closed_state: RequestState | None = Field(
        default=None,
        description="The whole state, once the request has closed: kept as its record, whatever Temporal "
        "still holds.",
    )


class RecordedChange(BaseModel):
    event_id: str
    inserted: bool = Field(
        description="False when the event was already recorded: the same (a retry), or other (rewritten)."
    )
    event: AuditEvent | None = Field(
        default=None,
        description="The event recorded: a local activity's input is not kept in the workflow's history, "
        "its result is, so the history still says which change each record wrote.",
    )


class RecordsStore(Protocol):
    async def record_change(self, change: RecordChangeInput) -> RecordedChange:
        """Audit event (exactly once), read-model row and certificates, in one transaction."""
        ...


class ClosedRequestPdfs(Protocol):
    async def keep_all(self, state: RequestState) -> None:
        """Seal and keep the PDF of each NOPIC of a closed request (`activities.certificate_pdfs`)."""
        ...


class RecordsActivities:
    def __init__(self, store: RecordsStore, pdfs: ClosedRequestPdfs | None = None) -> None:
        self._store = store
        self._pdfs = pdfs

    @activity.defn
    async def record_change(self, input: RecordChangeInput) -> RecordedChange:
        recorded = (await self._store.record_change(input)).model_copy(update={"event": input.event})
        if input.closed_state is not None and self._pdfs is not None:
            try:
                await self._pdfs.keep_all(input.closed_state)
            except Exception as error:  # the record is written; a PDF not kept now is kept when first asked
                log.exception("records.pdfs_not_kept", request_id=input.summary.request_id, error=str(error))
        return recorded
