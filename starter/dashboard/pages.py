"""The dashboard's pages: server-rendered HTML that works without JavaScript.

Reviewers get work queues and every action; exporters their own requests, a submission form, uploads and
what is still missing; admins the users. Every change goes through the same functions as the HTTP API
(`starter.api.routes`), which go through the one request client: no business rule lives here.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from activities.records import RequestSummary
from domain.request import AdditionalDocument, DocumentKind, OrganicStandard, TransportMode
from domain.state import CertificateStatus, ChecklistItem, RequestState, RequestStatus, Requirement
from starter import auth
from starter.api.deps import SESSION_COOKIE, AppSettings, Db, Documents, Now, Requests, session_lifetime
from starter.api.errors import ApiError, field_errors
from starter.api.routes.actions import ACTION_BY_NAME, body_model, correct, take_action
from starter.api.routes.documents import deliver_documents, request_documents, store_uploads
from starter.api.routes.requests import RequestSubmission, submit
from starter.api.visibility import visible_state
from starter.auth import NewUser, Session, UserExists, UserRole
from starter.client import ActionRefused
from starter.dashboard import forms
from starter.dashboard.session import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    Viewer,
    checked_form,
    new_login_csrf,
    require_role,
)
from starter.dashboard.timeline import timeline
from starter.readmodel import RequestFilters, SortKey, audit_trail, list_requests

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

REVIEWER, EXPORTER, ADMIN = UserRole.REVIEWER, UserRole.EXPORTER, UserRole.ADMIN
NEAR_DEADLINE = timedelta(days=2)
DONE = {
    "submitted": "The request is submitted.",
    "uploaded": "The documents are uploaded.",
    "approve": "Approved: the NOPICs are being issued.",
    "request-corrections": "The exporter has been asked for corrections.",
    "refuse": "The request is refused.",
    "correct-request-data": "The corrected data are sent.",
    "withdraw": "The request is withdrawn.",
    "record-certificate": "The NOPIC number is recorded.",
    "transport-document": "The definitive transport document is delivered.",
    "reject-transport-document": "The transport document is rejected; the exporter has been told.",
    "update-eta": "The ETA is updated; the customs deadline moved with it.",
    "record-shipment": "The shipment is recorded.",
    "cancel-certificates": "The certificates are cancelled.",
}
RECENTLY = timedelta(days=14)
_OPEN = [s for s in RequestStatus if not s.is_final]


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _base(session: Session, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"user": session.user, "csrf": session.csrf_token, "csrf_field": CSRF_FIELD, "now": at, **extra}


def urgency(summary: RequestSummary, at: datetime) -> str:
    """How much a row should stand out: overdue, near (deadline within two days) or none."""
    if summary.status.is_final or summary.status is RequestStatus.ACTIVE:
        return ""
    if summary.customs_deadline < at or (summary.status.before_issue and summary.etd < at.date()):
        return "overdue"
    if summary.customs_deadline - at < NEAR_DEADLINE:
        return "near"
    return ""


# --- signing in and out ----------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request, config: AppSettings, next: str = "/ui") -> HTMLResponse:
    token = new_login_csrf()
    response = _page(request, "login.html", {"csrf": token, "next": _local(next), "error": None})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=config.cookie_secure,
        path="/ui/login",
    )
    return response


def _local(path: str) -> str:
    """Only a path on this site: a login link must not send the person elsewhere afterwards."""
    # "//host" and "/\\host" are read by browsers as another site.
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/ui"


@router.post("/login")
async def login(request: Request, pool: Db, config: AppSettings, at: Now) -> Response:
    form = await request.form()
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)
    next_path = _local(str(form.get("next") or "/ui"))
    if not (isinstance(sent, str) and expected and auth.same_secret(sent, expected)):
        raise HTTPException(403, "The login form is out of date: reload the page and sign in again.")
    user = await auth.check_password(pool, str(form.get("username") or ""), str(form.get("password") or ""))
    if user is None:
        context = {"csrf": expected, "next": next_path, "error": "Unknown username or wrong password."}
        return _page(request, "login.html", context, status_code=401)
    session_id, _ = await auth.open_session(pool, user, at, session_lifetime(config))
    response = _see_other(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(session_lifetime(config).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=config.cookie_secure,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: Viewer, pool: Db) -> Response:
    await checked_form(request, session)
    await auth.close_session(pool, request.cookies.get(SESSION_COOKIE, ""))
    response = _see_other("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("")
async def home(session: Viewer) -> Response:
    return _see_other(
        {REVIEWER: "/ui/queues", EXPORTER: "/ui/requests", ADMIN: "/ui/users"}[session.user.role]
    )


# --- reviewers' work queues ------------------------------------------------------------------------


@router.get("/queues")
async def queues(request: Request, session: Viewer, pool: Db, requests: Requests, at: Now) -> HTMLResponse:
    require_role(session, REVIEWER)
    open_page = await list_requests(pool, RequestFilters(statuses=_OPEN), limit=500)
    cancelled = await list_requests(
        pool,
        RequestFilters(statuses=[RequestStatus.CANCELLED], updated_after=at - RECENTLY),
        sort=SortKey.UPDATED_AT,
        descending=True,
        limit=50,
    )
    rows = open_page.items

    def having(*statuses: RequestStatus) -> list[RequestSummary]:
        return [r for r in rows if r.status in statuses]

    issuing = having(RequestStatus.ISSUING)
    issuing_states = await asyncio.gather(*(_state_or_none(requests, r.request_id) for r in issuing))
    sections = [
        ("awaiting-review", "Awaiting review", having(RequestStatus.RECEIVED, RequestStatus.IN_REVIEW)),
        ("awaiting-documents", "Awaiting documents", having(RequestStatus.AWAITING_DOCUMENTS)),
        ("issuing", "Issuing", issuing),
        (
            "awaiting-transport-document",
            "Awaiting transport document",
            having(RequestStatus.AWAITING_TRANSPORT_DOCUMENT),  # already soonest deadline first
        ),
        ("overdue", "Overdue", [r for r in rows if urgency(r, at) == "overdue"]),
        ("recently-cancelled", "Recently cancelled", cancelled.items),
    ]
    context = _base(
        session,
        at,
        sections=sections,
        issuing_states=[s for s in issuing_states if s is not None],
        urgency=urgency,
        late_count=sum(1 for r in rows if r.late),
    )
    return _page(request, "queues.html", context)


async def _state_or_none(requests: Requests, request_id: str) -> RequestState | None:
    try:
        return await requests.state(request_id)
    except Exception:  # one unreadable request must not take the whole queue page down
        return None


# --- request lists ---------------------------------------------------------------------------------


@router.get("/requests")
async def request_list(
    request: Request,
    session: Viewer,
    pool: Db,
    requests: Requests,
    at: Now,
    status: str = "",
    product: str = "",
    late: str = "",
) -> HTMLResponse:
    require_role(session, REVIEWER, EXPORTER)
    user = session.user
    filters = RequestFilters(
        statuses=[RequestStatus(status)] if status in set(RequestStatus) else [],
        product=product.strip()[:100] or None,
        late=True if late == "on" else None,
        exporter=user.operation_id if user.role is EXPORTER else None,
    )
    page = await list_requests(pool, filters, sort=SortKey.UPDATED_AT, descending=True, limit=200)
    missing: dict[str, list[str]] = {}
    if user.role is EXPORTER:
        # An exporter has few requests; what each still lacks comes from the workflow itself.
        open_rows = [r for r in page.items if not r.status.is_final][:50]
        states = await asyncio.gather(*(_state_or_none(requests, r.request_id) for r in open_rows))
        missing = {s.request_id: [_missing_item(i) for i in s.missing()] for s in states if s is not None}
    context = _base(
        session,
        at,
        page=page,
        missing=missing,
        urgency=urgency,
        statuses=list(RequestStatus),
        filters={"status": status, "product": product, "late": late},
    )
    return _page(request, "requests.html", context)


def _missing_item(item: ChecklistItem) -> str:
    if item.required is Requirement.NOW:
        return item.description
    return f"{item.description} ({item.required.value.replace('_', ' ')})"


# --- submitting a request --------------------------------------------------------------------------


def _form_context(session: Session, at: datetime, **extra: Any) -> dict[str, Any]:
    return _base(
        session,
        at,
        rows=range(forms.COMMODITY_ROWS),
        slots=range(forms.UPLOAD_SLOTS),
        transport_modes=list(TransportMode),
        standards=list(OrganicStandard),
        additional=list(AdditionalDocument),
        kinds=[k for k in DocumentKind if k is not DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE],
        **extra,
    )


@router.get("/requests/new")
async def new_request_form(
    request: Request, session: Viewer, pool: Db, requests: Requests, at: Now
) -> HTMLResponse:
    require_role(session, REVIEWER, EXPORTER)
    values = {"exporter.operation_id": session.user.operation_id or ""}
    if session.user.role is EXPORTER:
        # The exporter's own details, as on its latest request, so they are not typed again each time.
        latest = await list_requests(
            pool,
            RequestFilters(exporter=session.user.operation_id),
            sort=SortKey.RECEIVED_AT,
            descending=True,
            limit=1,
        )
        state = await _state_or_none(requests, latest.items[0].request_id) if latest.items else None
        if state is not None:
            values |= {f"exporter.{k}": str(v) for k, v in state.form.exporter.model_dump().items()}
    context = _form_context(
        session, at, values=values, errors=[], idempotency_key=uuid.uuid4().hex, correcting=None
    )
    return _page(request, "new_request.html", context)


@router.post("/requests/new")
async def new_request(
    request: Request,
    session: Viewer,
    pool: Db,
    requests: Requests,
    store: Documents,
    config: AppSettings,
    at: Now,
) -> Response:
    require_role(session, REVIEWER, EXPORTER)
    form = await checked_form(request, session)
    key = forms.text(form, "idempotency_key")
    errors: list[str] = []
    data = forms.submission_data(form)
    try:
        references = await _store_slots(store, config.max_upload_bytes, form)
        data["documents"] = [r.model_dump(mode="json") for r in references]
        submission = RequestSubmission.model_validate(data)
        state = await submit(submission, session.user, requests, pool, config, at, key)
    except ValidationError as exc:
        errors = [f"{f.field}: {f.message}" for f in field_errors(exc.errors())]
    except ApiError as exc:
        errors = [f"{f.field}: {f.message}" for f in exc.fields] or [exc.message]
    else:
        return _see_other(f"/ui/requests/{state.request_id}?done=submitted")
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    context = _form_context(
        session, at, values=values, errors=errors, idempotency_key=key or uuid.uuid4().hex
    )
    return _page(request, "new_request.html", context, status_code=422)


async def _store_slots(store: Documents, limit: int, form: FormData) -> list[Any]:
    chosen = forms.uploads(form)
    uploads = []
    for file, kind, supplier in chosen:
        uploads.append((file.filename or "upload", await file.read(limit + 1), DocumentKind(kind), supplier))
    return await store_uploads(store, uploads)


@router.get("/requests/{request_id}/correct")
async def correction_form(
    request: Request, request_id: str, session: Viewer, requests: Requests, at: Now
) -> HTMLResponse:
    require_role(session, REVIEWER, EXPORTER)
    state = await visible_state(requests, session.user, request_id)
    values = forms.form_values(state.form)
    if values is None:
        raise HTTPException(409, "This request has more than the form shows: correct it with the API or CLI.")
    context = _form_context(session, at, values=values, errors=[], correcting=state.request_id)
    return _page(request, "new_request.html", context)


@router.post("/requests/{request_id}/correct")
async def send_correction(
    request: Request, request_id: str, session: Viewer, requests: Requests, at: Now
) -> Response:
    require_role(session, REVIEWER, EXPORTER)
    form = await checked_form(request, session)
    errors: list[str] = []
    try:
        submission = RequestSubmission.model_validate(forms.submission_data(form))
        await correct(requests, session.user, request_id, submission, at)
    except ValidationError as exc:
        errors = [f"{f.field}: {f.message}" for f in field_errors(exc.errors())]
    except ApiError as exc:
        errors = [f"{f.field}: {f.message}" for f in exc.fields] or [exc.message]
    except ActionRefused as exc:
        errors = [exc.reason]
    else:
        return _see_other(f"/ui/requests/{request_id}?done=correct-request-data")
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    context = _form_context(session, at, values=values, errors=errors, correcting=request_id)
    return _page(request, "new_request.html", context, status_code=422)


# --- one request -----------------------------------------------------------------------------------


def available_actions(state: RequestState, role: UserRole) -> list[str]:
    """The actions worth offering now; the workflow still has the last word on each."""
    status, reviewer = state.status, role is REVIEWER
    if status.is_final:
        return []
    actions: list[str] = []
    if status.before_issue:
        actions += ["approve", "request-corrections", "refuse"] if reviewer else []
        actions.append("withdraw")
    if status is RequestStatus.ISSUING and reviewer:
        actions.append("record-certificate")
    if status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT:
        actions += ["transport-document", "update-eta"]
    if status is RequestStatus.ACTIVE:
        actions += ["record-shipment", "update-eta"]
    if reviewer and status in (RequestStatus.AWAITING_TRANSPORT_DOCUMENT, RequestStatus.ACTIVE):
        actions += ["reject-transport-document", "cancel-certificates"]
    return actions


async def _request_page(
    request: Request,
    session: Session,
    state: RequestState,
    pool: Db,
    store: Documents,
    at: datetime,
    *,
    refused: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    documents = request_documents(state)
    stored = await asyncio.gather(*(store.get(d.sha256) for d in documents))
    names = {
        d.sha256: (s.original_name if s else d.sha256[:12]) for d, s in zip(documents, stored, strict=True)
    }
    context = _base(
        session,
        at,
        state=state,
        audit=await audit_trail(pool, state.request_id),
        picture=timeline(state, at),
        actions=available_actions(state, session.user.role),
        refused=refused or {},
        done=done,
        done_messages=DONE,
        documents=documents,
        names=names,
        pending=[c for c in state.certificates if c.status is CertificateStatus.PENDING],
        correctable=state.status.before_issue and forms.form_values(state.form) is not None,
        kinds=list(DocumentKind),
        slots=range(forms.UPLOAD_SLOTS),
        zone=state.policy.zone,
    )
    return _page(request, "request.html", context, status_code=status_code)


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
    return await _request_page(request, session, state, pool, store, at, done=done)


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
    form = await checked_form(request, session)
    spec = ACTION_BY_NAME.get(action)
    if spec is None:
        raise HTTPException(404, f"There is no action {action!r}.")
    if session.user.role not in spec.roles:
        raise HTTPException(403, f"A {session.user.role.value} may not {action.replace('-', ' ')}.")
    state = await visible_state(requests, session.user, request_id)
    data = forms.action_body(action, form)
    try:
        file = form.get("document")
        if isinstance(file, UploadFile) and file.filename:
            kind = DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE
            content = await file.read(config.max_upload_bytes + 1)
            [reference] = await store_uploads(store, [(file.filename, content, kind, None)])
            field = "document" if action == "transport-document" else "transport_document"
            data[field] = reference.model_dump(mode="json")
        body = body_model(spec.message).model_validate(data)
        await take_action(requests, session.user, request_id, spec, body, at)
    except ValidationError as exc:
        reason = "; ".join(f"{f.field}: {f.message}" for f in field_errors(exc.errors()))
    except ApiError as exc:
        reason = exc.message
    except ActionRefused as exc:
        reason = exc.reason
    else:
        return _see_other(f"/ui/requests/{request_id}?done={action}")
    return await _request_page(
        request, session, state, pool, store, at, refused={action: reason}, status_code=409
    )


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
    form = await checked_form(request, session)
    state = await visible_state(requests, session.user, request_id)
    try:
        references = await _store_slots(store, config.max_upload_bytes, form)
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
        return _see_other(f"/ui/requests/{request_id}?done=uploaded")
    return await _request_page(
        request, session, state, pool, store, at, refused={"upload": reason}, status_code=409
    )


# --- users (admins) --------------------------------------------------------------------------------


@router.get("/users")
async def users_page(request: Request, session: Viewer, pool: Db, at: Now) -> HTMLResponse:
    require_role(session, ADMIN)
    context = _base(session, at, users=await auth.list_users(pool), issued=None, error=None, values={})
    return _page(request, "users.html", context)


@router.post("/users")
async def create_user(request: Request, session: Viewer, pool: Db, at: Now) -> HTMLResponse:
    require_role(session, ADMIN)
    form = await checked_form(request, session)
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    issued, error, status_code = None, None, 201
    try:
        new = NewUser.model_validate(
            {
                "username": forms.text(form, "username"),
                "display_name": forms.text(form, "display_name") or forms.text(form, "username"),
                "role": forms.text(form, "role"),
                "operation_id": forms.text(form, "operation_id"),
            }
        )
        issued = await auth.create_user(pool, new)
        values = {}
    except ValidationError as exc:
        error, status_code = "; ".join(f"{f.field}: {f.message}" for f in field_errors(exc.errors())), 422
    except UserExists as exc:
        error, status_code = str(exc), 409
    context = _base(session, at, users=await auth.list_users(pool), issued=issued, error=error, values=values)
    return _page(request, "users.html", context, status_code=status_code)


@router.post("/users/{username}/revoke")
async def revoke_user(request: Request, username: str, session: Viewer, pool: Db, at: Now) -> Response:
    require_role(session, ADMIN)
    await checked_form(request, session)
    if username == session.user.username:
        raise HTTPException(409, "You cannot revoke yourself; ask another admin.")
    if await auth.revoke_user(pool, username, at) is None:
        raise HTTPException(404, f"There is no user {username!r}.")
    return _see_other("/ui/users")
