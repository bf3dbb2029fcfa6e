"""One request's page: its data, checklist, certificates, audit trail, its messages not delivered, and each
action possible now."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from activities.records_pg import audit_trail
from domain import messages
from domain.actions import ACTIONS, BY_MESSAGE, BY_SLUG
from domain.cancellation import open_cancellations
from domain.policy import IssuanceMode
from domain.request import DocumentKind
from domain.schedule import grace_running
from domain.state import UNDER_REVIEW, Certificate, CertificateStatus, RequestState, RequestStatus, Role
from starter.client import ActionRefused
from web.auth import Session, UserRole
from web.dashboard import forms
from web.dashboard.pages.new_request import store_slots
from web.dashboard.render import (
    EXPORTER,
    REVIEWER,
    base,
    page,
    see_other,
)
from web.dashboard.session import (
    Viewer,
    checked_form,
    checked_upload,
    require_role,
)
from web.dashboard.timeline import timeline
from web.deps import AppSettings, Db, Documents, Now, Requests
from web.errors import ApiError, field_errors
from web.routes.actions import body_model, take_action, user_roles
from web.routes.documents import deliver_documents, request_documents, store_uploads
from web.routes.requests import undelivered_for
from web.uploads import Upload
from web.visibility import visible_state

router = APIRouter(prefix="/ui", include_in_schema=False)


def pending_of(state: RequestState) -> list[Certificate]:
    """The certificates still without a number: while issuing, or a replacement (`replace-certificate`)."""
    return [c for c in state.certificates if c.status is CertificateStatus.PENDING]


def available_actions(state: RequestState, role: UserRole) -> list[str]:
    """The actions the list (`domain.actions`) allows this role now, in its order; the workflow still has
    the last word on each. Left out where they could only be refused: numbers typed by hand outside manual
    issuance, a rejection with no transport document to reject, a confirmation of the operations that no
    check awaits, a cancellation to confirm or retry where none awaits it, and a decision on a move of the
    customs deadline when none waits."""
    manual = state.policy.issuance_mode is IssuanceMode.MANUAL
    check = state.operations_check
    to_cancel = open_cancellations(state)
    possible = {
        # While the NOPICs are in force, only a replacement's number is recorded.
        messages.RecordCertificateNumber: manual
        and (state.status is RequestStatus.ISSUING or any(c.replaces for c in pending_of(state))),
        messages.RejectTransportDocument: bool(rejectable(state)),
        messages.ConfirmOperations: check is not None and check.awaits_reviewer,
        messages.RecordCancellation: any(manual or c.oid_failure for c in to_cancel),
        messages.RetryCancellation: not manual and any(c.oid_failure for c in to_cancel),
        messages.AcceptDeadlineMove: state.pending_deadline_move is not None,
        messages.DeclineDeadlineMove: state.pending_deadline_move is not None,
    }
    offered = []
    for spec in ACTIONS:
        if spec.own_route or Role(role.value) not in spec.roles or state.status not in spec.statuses:
            continue
        if possible.get(spec.message, True):
            offered.append(spec.slug)
    return offered


async def _request_page(
    request: Request,
    session: Session,
    state: RequestState,
    pool: Db,
    requests: Requests,
    store: Documents,
    at: datetime,
    *,
    refused: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    documents = request_documents(state)
    kept = await requests.kept(state.request_id)
    stored = await asyncio.gather(*(store.get(d.sha256) for d in documents))
    names = {
        d.sha256: (s.original_name if s else d.sha256[:12]) for d, s in zip(documents, stored, strict=True)
    }
    context = base(
        session,
        at,
        state=state,
        audit=await audit_trail(pool, state.request_id),
        undelivered=await undelivered_for(pool, session.user, state.request_id),
        picture=timeline(state, at),
        actions=available_actions(state, session.user.role),
        refused=refused or {},
        done=done,
        done_messages=DONE,
        documents=documents,
        names=names,
        pending=pending_of(state),
        recorded=[
            c
            for c in state.certificates
            if c.status is CertificateStatus.ISSUED and state.status is RequestStatus.ISSUING
        ],
        to_cancel=open_cancellations(state),
        rejectable=rejectable(state),
        grace_until=grace_running(state),
        shipments=[
            *([("first", state.first_shipment)] if state.first_shipment else []),
            *((f"further #{i}", s) for i, s in enumerate(state.shipments)),
        ],
        rejected_shipments=[
            (i, s) for i, s in enumerate(state.shipments) if s.rejected is not None and not s.lapsed
        ],
        correctable=state.status in BY_MESSAGE[messages.CorrectRequestData].statuses
        and forms.form_values(state.form) is not None,
        under_review=state.status in UNDER_REVIEW,
        kinds=list(DocumentKind),
        slots=range(forms.UPLOAD_SLOTS),
        zone=state.policy.zone,
        kept=kept,
    )
    return page(request, "request.html", context, status_code=status_code)


@router.get("/requests/{request_id}")
async def request_page(
    request: Request,
    request_id: str,
    session: Viewer,
    pool: Db,
    requests: Requests,
    store: Documents,
    at: Now,
    done: str | None = None,
) -> HTMLResponse:
    require_role(session, REVIEWER, EXPORTER)
    state = await visible_state(requests, session.user, request_id)
    return await _request_page(request, session, state, pool, requests, store, at, done=done)


@router.post("/requests/{request_id}/actions/{action}")
async def act(
    request: Request,
    request_id: str,
    action: str,
    session: Viewer,
    pool: Db,
    requests: Requests,
    store: Documents,
    config: AppSettings,
    at: Now,
) -> Response:
    require_role(session, REVIEWER, EXPORTER)
    spec = BY_SLUG.get(action)
    if spec is None or spec.own_route:
        raise HTTPException(404, f"There is no action {action!r}.")
    if session.user.role not in user_roles(spec):
        raise HTTPException(403, f"A {session.user.role.value} may not {action.replace('-', ' ')}.")
    state = await visible_state(requests, session.user, request_id)
    multipart = request.headers.get("content-type", "").startswith("multipart/")
    reading = checked_upload(request, session, store, config) if multipart else _plain(request, session)
    async with await reading as form:
        data = forms.action_body(action, form)
        try:
            file = form.file("document")
            held = state.held_transport_document
            if action == "transport-document" and not data.get("shipment") and held is not None:
                # The document kept since before issue, its day and kg given now, unless another is chosen.
                data["document"] = held.document.model_dump(mode="json")
            if file is not None:
                kind = DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE
                operation = state.form.exporter.operation_id
                [reference] = await store_uploads(
                    store, session.user, [(file, kind, None)], operation, "document"
                )
                field = "document" if action == "transport-document" else "transport_document"
                data[field] = reference.model_dump(mode="json")
            body = body_model(spec.message).model_validate(data)
            await take_action(requests, pool, session.user, request_id, spec, body, at, store)
        except ValidationError as exc:
            reason = "; ".join(f"{f.field}: {f.message}" for f in field_errors(exc.errors()))
        except ApiError as exc:
            reason = exc.message
        except ActionRefused as exc:
            reason = exc.reason
        else:
            return see_other(f"/ui/requests/{request_id}?done={action}")
    return await _request_page(
        request, session, state, pool, requests, store, at, refused={action: reason}, status_code=409
    )


async def _plain(request: Request, session: Session) -> Upload:
    """An action's form without a file input, as an upload with no files."""
    form = await checked_form(request, session)
    return Upload(fields=[(k, v) for k, v in form.multi_items() if isinstance(v, str)])


@router.post("/requests/{request_id}/documents")
async def upload_documents(
    request: Request,
    request_id: str,
    session: Viewer,
    pool: Db,
    requests: Requests,
    store: Documents,
    config: AppSettings,
    at: Now,
) -> Response:
    require_role(session, REVIEWER, EXPORTER)
    state = await visible_state(requests, session.user, request_id)
    async with await checked_upload(request, session, store, config) as form:
        try:
            operation = state.form.exporter.operation_id
            references = await store_slots(store, session, form, operation)
            if not references:
                raise ApiError(422, "no_file", "Choose at least one file to upload.")
            await deliver_documents(requests, session.user, request_id, references, at)
        except ApiError as exc:
            reason = exc.message
        except ValidationError as exc:
            reason = "; ".join(f"{f.field}: {f.message}" for f in field_errors(exc.errors()))
        except ActionRefused as exc:
            reason = exc.reason
        else:
            return see_other(f"/ui/requests/{request_id}?done=uploaded")
    return await _request_page(
        request, session, state, pool, requests, store, at, refused={"upload": reason}, status_code=409
    )


def rejectable(state: RequestState) -> list[tuple[str, str]]:
    """The transport documents a reviewer may reject now: (shipment index or "", what it is)."""
    documents = []
    if state.transport_document is not None:
        documents.append(("", f"the first shipment's, {state.transport_document.file_id[:12]}"))
    if state.status is RequestStatus.ACTIVE:
        for index, shipment in enumerate(state.shipments):
            if shipment.rejected is None and not shipment.lapsed:
                documents.append((str(index), f"the shipment of {shipment.shipped_on}"))
    return documents


DONE = {
    "submitted": "The request is submitted.",
    "uploaded": "The documents are uploaded.",
    "approve": "Approved: the NOPICs are being issued.",
    "request-corrections": "The exporter has been asked for corrections.",
    "resolve-corrections": "The corrections are resolved; the request can be approved once complete.",
    "refuse": "The request is refused.",
    "correct-request-data": "The corrected data are sent.",
    "withdraw": "The request is withdrawn.",
    "record-certificate": "The NOPIC number is recorded.",
    "replace-certificate": "The NOPIC is being replaced: a new one is issued, the old one cancelled in OID.",
    "transport-document": "The definitive transport document is delivered.",
    "reject-transport-document": "The transport document is rejected; the exporter has been told.",
    "update-eta": "The ETA is updated: the customs deadline moved with it, or the move waits for a reviewer.",
    "accept-eta-move": "The move is accepted: the customs deadline moved; the exporter has been told.",
    "decline-eta-move": "The move is declined: the customs deadline stays; the exporter has been told.",
    "record-shipment": "The shipment is recorded.",
    "report-quantities": "The quantities shipped are reported.",
    "cancel-certificates": "The cancellation is requested: each NOPIC stays valid in OID until it is "
    "cancelled there and confirmed.",
    "confirm-operations": "Both operations are confirmed Certified: issuance goes on.",
    "return-to-review": "The request is back in review.",
    "record-cancellation": "The cancellation in OID is recorded.",
    "retry-cancellation": "The OID gateway is asked again to cancel it.",
}
