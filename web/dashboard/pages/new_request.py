"""Submitting a request, and correcting its data before issue, with the same form."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from activities.request_list import RequestFilters, SortKey, list_requests
from domain.request import AdditionalDocument, DocumentKind, DocumentReference, OrganicStandard, TransportMode
from starter.client import ActionRefused
from web.auth import Session
from web.dashboard import forms
from web.dashboard.render import (
    EXPORTER,
    REVIEWER,
    base,
    page,
    see_other,
    state_or_none,
)
from web.dashboard.session import (
    Viewer,
    checked_upload,
    require_role,
)
from web.deps import AppSettings, Db, Documents, Now, Requests
from web.errors import ApiError, field_errors
from web.routes.actions import correct
from web.routes.documents import store_uploads
from web.routes.requests import RequestSubmission, submit
from web.uploads import Upload
from web.visibility import visible_state

router = APIRouter(prefix="/ui", include_in_schema=False)


def _form_context(session: Session, at: datetime, **extra: Any) -> dict[str, Any]:
    return base(
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
        state = await state_or_none(requests, latest.items[0].request_id) if latest.items else None
        if state is not None:
            values |= {f"exporter.{k}": str(v) for k, v in state.form.exporter.model_dump().items()}
    context = _form_context(
        session, at, values=values, errors=[], idempotency_key=uuid.uuid4().hex, correcting=None
    )
    return page(request, "new_request.html", context)


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
    errors: list[str] = []
    async with await checked_upload(request, session, store, config) as form:
        key = forms.text(form, "idempotency_key")
        data = forms.submission_data(form)
        try:
            operation = data["exporter"].get("operation_id")
            references = await store_slots(store, session, form, operation)
            data["documents"] = [r.model_dump(mode="json") for r in references]
            submission = RequestSubmission.model_validate(data)
            state = await submit(submission, session.user, requests, pool, config, at, key, store)
        except ValidationError as exc:
            errors = [f"{f.field}: {f.message}" for f in field_errors(exc.errors())]
        except ApiError as exc:
            errors = [f"{f.field}: {f.message}" for f in exc.fields] or [exc.message]
        else:
            return see_other(f"/ui/requests/{state.request_id}?done=submitted")
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    context = _form_context(
        session, at, values=values, errors=errors, idempotency_key=key or uuid.uuid4().hex
    )
    return page(request, "new_request.html", context, status_code=422)


async def store_slots(
    store: Documents, session: Session, form: Upload, operation_id: str | None
) -> list[DocumentReference]:
    """The files of the form's upload slots, kept as the signed-in user's, for `operation_id`'s requests."""
    try:
        chosen = [(file, DocumentKind(kind), supplier) for file, kind, supplier in forms.uploads(form)]
    except ValueError as exc:
        raise ApiError(422, "invalid_kind", f"kinds: {exc}") from exc
    return await store_uploads(store, session.user, chosen, operation_id)


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
    return page(request, "new_request.html", context)


@router.post("/requests/{request_id}/correct")
async def send_correction(
    request: Request,
    request_id: str,
    session: Viewer,
    requests: Requests,
    store: Documents,
    config: AppSettings,
    at: Now,
) -> Response:
    require_role(session, REVIEWER, EXPORTER)
    async with await checked_upload(request, session, store, config) as form:
        pass  # the correction form carries no files; any sent are not kept
    errors: list[str] = []
    try:
        submission = RequestSubmission.model_validate(forms.submission_data(form))
        action_id = forms.text(form, "action_id")
        await correct(requests, session.user, request_id, submission, at, store, action_id)
    except ValidationError as exc:
        errors = [f"{f.field}: {f.message}" for f in field_errors(exc.errors())]
    except ApiError as exc:
        errors = [f"{f.field}: {f.message}" for f in exc.fields] or [exc.message]
    except ActionRefused as exc:
        errors = [exc.reason]
    else:
        return see_other(f"/ui/requests/{request_id}?done=correct-request-data")
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    context = _form_context(session, at, values=values, errors=errors, correcting=request_id)
    return page(request, "new_request.html", context, status_code=422)
