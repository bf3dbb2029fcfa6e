"""The state of one NOPIC request, as the workflow keeps it and as the `state` query returns it.

All of it is one serializable object, so continue-as-new hands it over in one piece.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.policy import Policy
from domain.request import (
    CommodityData,
    DocumentKind,
    DocumentReference,
    Kilograms,
    NopicRequestForm,
    RequestId,
    Shipment,
    Text,
)


class RequestStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_DOCUMENTS = "awaiting_documents"  # an item required now is still missing
    IN_REVIEW = "in_review"
    ISSUING = "issuing"
    AWAITING_TRANSPORT_DOCUMENT = "awaiting_transport_document"
    ACTIVE = "active"
    EXPIRED = "expired"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    # Nothing left in force, but NOPICs still to cancel in OID: the request ends (`ends_as`) once the last
    # cancellation is confirmed.
    CANCELLING = "cancelling"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


# The sets of statuses the service speaks of, each named once: the workflow, the action list
# (`domain.actions`) and the digest read these, so one name never stands for two different sets.
FINAL_STATUSES = frozenset(
    {RequestStatus.EXPIRED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN, RequestStatus.CANCELLED}
)
"""The request has ended; no action applies to it any more."""
UNDER_REVIEW = frozenset({RequestStatus.AWAITING_DOCUMENTS, RequestStatus.IN_REVIEW})
"""Checked in and waiting for the reviewer's decision: the review step of the procedure."""
BEFORE_APPROVAL = frozenset({RequestStatus.RECEIVED, *UNDER_REVIEW})
"""Not yet approved: received (not yet checked in) or under review."""
BEFORE_ISSUE = frozenset({*BEFORE_APPROVAL, RequestStatus.ISSUING})
"""No NOPIC issued yet, so the ETD is the request's deadline (NOPICs must exist before departure)."""
AWAITING_REVIEW = frozenset({RequestStatus.RECEIVED, RequestStatus.IN_REVIEW})
"""The reviewer's queue: nothing is asked of the exporter."""
CHECKED_IN = frozenset(RequestStatus) - FINAL_STATUSES - {RequestStatus.RECEIVED}
"""Received, checked in and not ended: a cancellation may still await confirmation."""
TAKES_DOCUMENTS = CHECKED_IN - {RequestStatus.CANCELLING}
"""Checked in, and not merely waiting for its cancellations to be confirmed: documents may still come."""
NOPICS_IN_FORCE = frozenset({RequestStatus.AWAITING_TRANSPORT_DOCUMENT, RequestStatus.ACTIVE})
"""The NOPICs are issued and neither cancelled nor expired."""


class Role(StrEnum):
    EXPORTER = "exporter"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    SYSTEM = "system"  # the workflow itself: timers, issuance, deadline


class Actor(BaseModel):
    """The person (or the service itself) behind an action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_id: Text
    name: Text
    role: Role


SYSTEM = Actor(person_id="nopic", name="NOPIC service", role=Role.SYSTEM)


class Requirement(StrEnum):
    """When a checklist item must be satisfied."""

    NOW = "now"  # before review can approve the request
    BEFORE_DEPARTURE = "before_departure"
    BEFORE_CUSTOMS_CLEARANCE = "before_customs_clearance"


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str = Field(description="Stable key, e.g. 'commercial_invoice' or 'supplier_guarantee:Finca Sol'.")
    description: str = Field(description="What is needed, in the certifier's words.")
    required: Requirement
    accepted_kinds: list[DocumentKind]
    supplier: str | None = None
    satisfied_by: str | None = Field(default=None, description="File id of the document that satisfies it.")

    @property
    def satisfied(self) -> bool:
        return self.satisfied_by is not None


class CertificateStatus(StrEnum):
    PENDING = "pending"  # not yet issued in OID
    ISSUED = "issued"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    # To be cancelled in OID: by staff in manual mode (a task, confirmed with `record-cancellation`), by the
    # OID gateway in api mode. Still valid in OID until then.
    CANCELLATION_PENDING = "cancellation_pending"


class Certificate(CommodityData):
    """One NOPIC: one per commodity of the request."""

    commodity_index: int = Field(ge=0)
    number: str | None = None
    status: CertificateStatus = CertificateStatus.PENDING
    issued_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    revision: int = Field(
        default=0,
        ge=0,
        description="0 for the commodity's first certificate; one more for each that replaced another after "
        "a correction of the request data (the replaced ones are kept in `superseded`).",
    )
    cancellation_requested_at: AwareDatetime | None = None
    oid_failure: str | None = Field(
        default=None,
        description="What OID answered when it refused to issue or cancel this NOPIC, until it succeeds.",
    )
    # Added with replacement after issue; a certificate of an older history has neither.
    replaces: str | None = Field(
        default=None, description="The number of the NOPIC this one replaces (`replace-certificate`)."
    )
    replaced_by: str | None = Field(
        default=None, description="The number of the NOPIC that replaces this one, once it is issued."
    )


class ShippedQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    commodity_index: int = Field(ge=0)
    net_kg: Kilograms


class ReportedQuantity(BaseModel):
    """The net kg the exporter reports as actually shipped of one commodity over the whole timeframe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commodity_index: int = Field(ge=0)
    net_kg: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=3)]


class ShipmentRecord(BaseModel):
    """A shipment actually made under the request's NOPICs: the first one, or a further one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    shipped_on: date
    quantities: list[ShippedQuantity]
    transport_document: DocumentReference
    recorded_at: AwareDatetime
    eta: AwareDatetime | None = Field(default=None, description="A further shipment's arrival in the US.")
    expected_clearance: AwareDatetime | None = Field(
        default=None, description="A further shipment's expected customs clearance; its ETA when not given."
    )
    rejected: str | None = Field(
        default=None, description="Why a reviewer rejected its transport document, until another came."
    )
    grace_until: AwareDatetime | None = Field(
        default=None, description="When its rejected transport document had no time left: the grace period."
    )
    reminded: bool = Field(default=False, description="The exporter was reminded of its rejected document.")
    lapsed: bool = Field(
        default=False, description="No compliant document came in time: its NOPICs were cancelled."
    )

    @property
    def customs_deadline(self) -> datetime | None:
        """A further shipment's own customs deadline, when its arrival was given."""
        return self.expected_clearance or self.eta

    @property
    def document_deadline(self) -> datetime | None:
        """Until when a compliant transport document may replace its rejected one."""
        if self.rejected is None or self.lapsed:
            return None
        instants = [t for t in (self.customs_deadline, self.grace_until) if t is not None]
        return max(instants) if instants else None


class HeldTransportDocument(BaseModel):
    """A definitive transport document received before the NOPICs were issued: kept, and accepted as the first
    shipment's once they are (its shipped-on date and quantities asked for then, when it came without)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    document: DocumentReference
    shipped_on: date | None = None
    quantities: list[ShippedQuantity] = Field(default_factory=list)
    received_at: AwareDatetime


class DeadlineMove(BaseModel):
    """An exporter's move of the customs deadline past the allowance, waiting for a reviewer's decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    requested_by: Actor
    requested_at: AwareDatetime
    shipment: Shipment = Field(description="The shipment as it would read with the move.")
    customs_deadline: AwareDatetime
    previous_deadline: AwareDatetime


class ReconciliationLine(BaseModel):
    """At the end of the timeframe: what was certified and what was shipped, per commodity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commodity_index: int
    product_name: str
    nopic_number: str | None
    certified_kg: Decimal
    shipped_kg: Decimal
    reported_kg: Decimal | None = Field(
        default=None, description="What the exporter reported as actually shipped, when asked before expiry."
    )


class ActionRecord(BaseModel):
    """One entry of the request's history: who did what, when, and what came of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sequence: int = Field(ge=1, description="The audit event '<request id>:<sequence>' of this entry.")
    action_id: str = Field(description="The person's action id, or 'system-<sequence>' for the service.")
    action: str
    actor: Actor
    at: AwareDatetime
    status: RequestStatus = Field(description="The request's status after the action.")
    detail: str | None = None


class OperationsCheckStatus(StrEnum):
    CHECKING = "checking"  # OID's operation data is being asked
    TO_CONFIRM = "to_confirm"  # a reviewer looks both operations up in OID and confirms
    UNAVAILABLE = "unavailable"  # OID did not answer in time: a reviewer may confirm by hand
    CERTIFIED = "certified"  # OID answered: both Certified
    CONFIRMED = "confirmed"  # a reviewer confirmed both Certified
    NOT_CERTIFIED = "not_certified"  # OID answered: one is not Certified; issuance stopped


class OperationsCheck(BaseModel):
    """Whether the exporter's and importer's operations are Certified, for the current approval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: OperationsCheckStatus
    since: AwareDatetime
    detail: str | None = Field(default=None, description="What OID answered, or why it could not be asked.")
    confirmed_by: Actor | None = None
    note: str | None = None

    @property
    def passed(self) -> bool:
        return self.status in (OperationsCheckStatus.CERTIFIED, OperationsCheckStatus.CONFIRMED)

    @property
    def awaits_reviewer(self) -> bool:
        return self.status in (OperationsCheckStatus.TO_CONFIRM, OperationsCheckStatus.UNAVAILABLE)


class RequestState(BaseModel):
    """Everything the workflow knows about one request; the `state` query returns it whole."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    form: NopicRequestForm = Field(description="The request's current data, corrections applied.")
    policy: Policy
    status: RequestStatus = RequestStatus.RECEIVED
    received_day: date
    lead_working_days: int
    late: bool
    checklist: list[ChecklistItem]
    certificates: list[Certificate]
    customs_deadline: AwareDatetime
    next_reminder: AwareDatetime | None = None
    reminders_sent: list[timedelta] = Field(
        default_factory=list, description="Offsets before the customs deadline already reminded."
    )
    corrections_requested: list[str] = Field(default_factory=list)
    corrections_message: str | None = None
    issuance_blocked: str | None = Field(
        default=None, description="Why issuance stopped (e.g. an uncertified importer), for the reviewer."
    )
    transport_document: DocumentReference | None = Field(
        default=None, description="The accepted definitive transport document of the first shipment."
    )
    shipments: list[ShipmentRecord] = Field(default_factory=list)
    reconciliation: list[ReconciliationLine] = Field(default_factory=list)
    outcome: str | None = Field(default=None, description="Why the request ended: reason or summary.")
    history: list[ActionRecord] = Field(default_factory=list)
    sequence: int = Field(default=0, description="Number of state changes recorded in the audit trail.")
    updated_at: datetime
    operations_check: OperationsCheck | None = Field(
        default=None, description="The check of both operations for the current approval; none before it."
    )
    superseded: list[Certificate] = Field(
        default_factory=list,
        description="NOPICs issued for data since corrected: to cancel in OID, then kept for the record.",
    )
    ends_as: RequestStatus | None = Field(
        default=None, description="While cancelling: the status the request ends in once nothing is left."
    )
    # Added later, each with the default a request started before it had.
    grace_until: AwareDatetime | None = Field(
        default=None,
        description="The grace period a rejected transport document of the first shipment opened: a "
        "compliant one may still come until then (or until the customs deadline, if later).",
    )
    grace_reminded: bool = False
    transport_document_rejection: str | None = Field(
        default=None, description="Why the first shipment's transport document was rejected, until one is."
    )
    departure_reminders_sent: list[timedelta] = Field(
        default_factory=list, description="Offsets before departure already reminded of items due then."
    )
    departure_checked: bool = Field(
        default=False, description="The ETD came: items due before departure still missing are flagged."
    )
    pending_deadline_move: DeadlineMove | None = None
    held_transport_document: HeldTransportDocument | None = None
    first_shipment: ShipmentRecord | None = Field(
        default=None, description="The first shipment, as its accepted definitive transport document says."
    )
    quantities_asked: bool = False
    reported_quantities: list[ReportedQuantity] | None = None
    documents_set_aside: list[DocumentReference] = Field(
        default_factory=list,
        description="Documents about a supplier or commodity a correction renamed or removed: they no longer "
        "count for the checklist, and stay readable with the audit trail.",
    )

    @property
    def every_certificate(self) -> list[Certificate]:
        """The certificates of the current data, then those superseded by a correction."""
        return [*self.certificates, *self.superseded]

    def has_action(self, action_id: str) -> bool:
        return any(entry.action_id == action_id for entry in self.history)

    def missing(self, *requirements: Requirement) -> list[ChecklistItem]:
        wanted = requirements or tuple(Requirement)
        return [item for item in self.checklist if not item.satisfied and item.required in wanted]

    def shipped_kg(self, commodity_index: int) -> Decimal:
        """Every shipment's kg of the commodity: the first one's and the further ones'."""
        shipments = [*([self.first_shipment] if self.first_shipment else []), *self.shipments]
        return sum(
            (q.net_kg for s in shipments for q in s.quantities if q.commodity_index == commodity_index),
            Decimal(0),
        )

    @property
    def departed_missing(self) -> list[ChecklistItem]:
        """Items due before departure still missing once the ETD came: flagged on the reviewers' queues."""
        return self.missing(Requirement.BEFORE_DEPARTURE) if self.departure_checked else []


class NopicRequestInput(BaseModel):
    """What starts (or continues) a `NopicRequest` workflow."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId
    form: NopicRequestForm
    policy: Policy = Field(default_factory=Policy)
    submitted_by: Actor = Field(default=SYSTEM, description="Who entered the request: exporter or reviewer.")
    carried_state: RequestState | None = Field(
        default=None, description="Set only by continue-as-new: the state to carry on with."
    )


def workflow_id(request_id: str) -> str:
    return f"nopic-request-{request_id}"
