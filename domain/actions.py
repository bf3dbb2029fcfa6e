"""Every action a person takes on a request, listed once: what each is called where, who may take it, when.

For each action: its message (`domain.messages`), the workflow's update (and signal, where any Temporal
client may send it), its slug in the API and the CLI, the roles allowed, the statuses it is possible in,
and the line that sums it up. The workflow refuses an action by these roles and statuses
(`domain.rules`); the API, the dashboard and the CLI can build their routes, forms and commands from
the same list, so that none of them keeps its own idea of who may do what, and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain import messages
from domain.state import (
    CHECKED_IN,
    NOPICS_IN_FORCE,
    TAKES_DOCUMENTS,
    UNDER_REVIEW,
    RequestStatus,
    Role,
)

REVIEWER = frozenset({Role.REVIEWER})
EXPORTER_OR_REVIEWER = frozenset({Role.EXPORTER, Role.REVIEWER})
DEADLINE_MOVABLE = UNDER_REVIEW | {RequestStatus.ISSUING, RequestStatus.AWAITING_TRANSPORT_DOCUMENT}
"""Until the first shipment's transport document is in, its customs deadline is what the request waits for."""


@dataclass(frozen=True)
class ActionSpec:
    message: type[messages.Action]
    update: str
    """The workflow's update handler for the message: the caller hears at once whether it was refused."""
    slug: str
    """`/requests/{id}/actions/<slug>` in the API and the CLI's command (but `nopic upload` for documents)."""
    roles: frozenset[Role]
    statuses: frozenset[RequestStatus]
    summary: str
    signal: str | None = None
    """A signal handler for the same message, so the `temporal` CLI or web UI can deliver it unanswered."""
    own_route: bool = False
    """The API reaches it through a route of its own, not `/requests/{id}/actions/<slug>` with the message's
    fields as body: see `submit-documents` and `correct-request-data` below."""


# In the API's order. The two with routes of their own come last.
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        messages.Approve,
        update="approve",
        slug="approve",
        roles=REVIEWER,
        statuses=UNDER_REVIEW,
        summary="Approve the request: issuance starts",
    ),
    ActionSpec(
        messages.RequestCorrections,
        update="request_corrections",
        slug="request-corrections",
        roles=REVIEWER,
        statuses=UNDER_REVIEW,
        summary="Ask the exporter for corrections",
    ),
    ActionSpec(
        messages.Refuse,
        update="refuse",
        slug="refuse",
        roles=REVIEWER,
        # While issuing too: NOPICs already issued are then cancelled in OID.
        statuses=UNDER_REVIEW | {RequestStatus.ISSUING},
        summary="Refuse the request, with a reason",
    ),
    ActionSpec(
        messages.Withdraw,
        update="withdraw",
        slug="withdraw",
        roles=EXPORTER_OR_REVIEWER,
        statuses=UNDER_REVIEW | {RequestStatus.ISSUING},
        summary="Withdraw the request before issue",
    ),
    ActionSpec(
        messages.RecordCertificateNumber,
        update="record_certificate_number",
        slug="record-certificate",
        roles=REVIEWER,
        # While the NOPICs are in force too: a replacement's number (`replace-certificate`).
        statuses=frozenset({RequestStatus.ISSUING}) | NOPICS_IN_FORCE,
        summary="Record the number of a NOPIC made in OID by hand, or correct it while issuing (manual mode)",
    ),
    ActionSpec(
        messages.SubmitTransportDocument,
        update="transport_document",
        signal="transport_document_received",
        slug="transport-document",
        roles=EXPORTER_OR_REVIEWER,
        # Before issue it is kept, and accepted once the NOPICs are issued; while active, it replaces a
        # further shipment's rejected one.
        statuses=TAKES_DOCUMENTS,
        summary="Deliver the definitive transport document of the first shipment, or a further one's anew",
    ),
    ActionSpec(
        messages.RejectTransportDocument,
        update="reject_transport_document",
        slug="reject-transport-document",
        roles=REVIEWER,
        statuses=NOPICS_IN_FORCE,
        summary="Reject the transport document as non-compliant",
    ),
    ActionSpec(
        messages.UpdateEta,
        update="update_eta",
        signal="eta_changed",
        slug="update-eta",
        roles=EXPORTER_OR_REVIEWER,
        # Until the transport document is in: the customs deadline it sets is what the request waits for.
        statuses=DEADLINE_MOVABLE,
        summary="Move the ETA and expected clearance (and the ETD, before issue)",
    ),
    ActionSpec(
        messages.RecordShipment,
        update="record_shipment",
        slug="record-shipment",
        roles=EXPORTER_OR_REVIEWER,
        statuses=frozenset({RequestStatus.ACTIVE}),
        summary="Record a further shipment",
    ),
    ActionSpec(
        messages.CancelCertificates,
        update="cancel_certificates",
        slug="cancel-certificates",
        roles=REVIEWER,
        statuses=NOPICS_IN_FORCE,
        summary="Cancel one certificate or all of them, with a reason",
    ),
    ActionSpec(
        messages.ConfirmOperations,
        update="confirm_operations",
        slug="confirm-operations",
        roles=REVIEWER,
        statuses=frozenset({RequestStatus.ISSUING}),
        summary="Confirm by hand that the exporter and importer operations are Certified in OID, the "
        "products in the exporter's scope",
    ),
    ActionSpec(
        messages.ReturnToReview,
        update="return_to_review",
        slug="return-to-review",
        roles=REVIEWER,
        statuses=frozenset({RequestStatus.ISSUING}),
        summary="Send an issuing request back to review, with a reason",
    ),
    ActionSpec(
        messages.RecordCancellation,
        update="record_cancellation",
        slug="record-cancellation",
        roles=REVIEWER,
        # Wherever a cancellation may await confirmation: after a correction, while in force, cancelling.
        statuses=CHECKED_IN,
        summary="Confirm that a NOPIC awaiting cancellation was cancelled in OID",
    ),
    ActionSpec(
        messages.RetryCancellation,
        update="retry_cancellation",
        slug="retry-cancellation",
        roles=REVIEWER,
        statuses=CHECKED_IN,
        summary="Ask the OID gateway again to cancel a NOPIC it failed to cancel (api issuance)",
    ),
    ActionSpec(
        messages.ResolveCorrections,
        update="resolve_corrections",
        slug="resolve-corrections",
        roles=REVIEWER,
        statuses=UNDER_REVIEW,
        summary="Resolve the open corrections (answered otherwise, e.g. by email), with a note",
    ),
    ActionSpec(
        messages.AcceptDeadlineMove,
        update="accept_deadline_move",
        slug="accept-eta-move",
        roles=REVIEWER,
        statuses=DEADLINE_MOVABLE,
        summary="Accept the exporter's move of the customs deadline past the allowance",
    ),
    ActionSpec(
        messages.DeclineDeadlineMove,
        update="decline_deadline_move",
        slug="decline-eta-move",
        roles=REVIEWER,
        statuses=DEADLINE_MOVABLE,
        summary="Decline the exporter's move of the customs deadline, with a reason",
    ),
    ActionSpec(
        messages.ReportQuantities,
        update="report_quantities",
        slug="report-quantities",
        roles=EXPORTER_OR_REVIEWER,
        statuses=frozenset({RequestStatus.ACTIVE}),
        summary="Report the net kg actually shipped per commodity over the timeframe",
    ),
    ActionSpec(
        messages.ReplaceCertificate,
        update="replace_certificate",
        slug="replace-certificate",
        roles=REVIEWER,
        statuses=NOPICS_IN_FORCE,
        summary="Replace an issued NOPIC whose data must change: a new one issued, the old one cancelled",
    ),
    # Its body is the whole request form, checked as a new submission is, so its route is its own.
    ActionSpec(
        messages.CorrectRequestData,
        update="correct_request_data",
        slug="correct-request-data",
        roles=EXPORTER_OR_REVIEWER,
        statuses=UNDER_REVIEW,
        summary="Send corrected request data (before issue)",
        own_route=True,
    ),
    # The files are uploaded (`POST /requests/{id}/documents`), stored, then handed over as references.
    ActionSpec(
        messages.SubmitDocuments,
        update="submit_documents",
        slug="submit-documents",
        roles=EXPORTER_OR_REVIEWER,
        statuses=TAKES_DOCUMENTS,
        summary="Upload supporting documents",
        own_route=True,
    ),
)

BY_MESSAGE: Mapping[type[messages.Action], ActionSpec] = {spec.message: spec for spec in ACTIONS}
BY_SLUG: Mapping[str, ActionSpec] = {spec.slug: spec for spec in ACTIONS}


def spec_of(action: messages.Action) -> ActionSpec:
    """The entry of the list for this action's message."""
    return BY_MESSAGE[type(action)]
