"""`/requests`: submit a request, list requests, read one with its audit trail and its messages not
delivered, download its NOPIC PDFs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from activities.documents import DocumentStore
from activities.mail_queue import UndeliveredMessage, given_up_messages
from activities.notifications import Audience
from activities.records_pg import AuditEntry, audit_trail
from activities.request_list import (
    CursorInvalid,
    PageCursor,
    RequestFilters,
    RequestPage,
    SortKey,
    list_requests,
)
from core.settings import Settings, policy_from_settings
from domain.request import (
    Commodity,
    Declarations,
    DocumentReference,
    Exporter,
    Importer,
    NopicRequestForm,
    Shipment,
    Timeframe,
    parse_request_form,
)
from domain.state import CertificateStatus, ChecklistItem, RequestState, RequestStatus
from starter.client import RequestClient
from web.action_checks import check_references
from web.auth import User, UserRole
from web.deps import AppSettings, Db, Documents, ExporterOrReviewer, Now, Pdfs, Requests
from web.errors import ApiError, ErrorResponse, FieldError, field_errors, invalid_fields
from web.headers import attachment_headers
from web.request_ids import claim_new_request_id
from web.text import refuse_control_characters
from web.visibility import visible_state

router = APIRouter(tags=["requests"])

RequestIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", max_length=64)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Chosen by the client; a retried submission with the same key returns the same request.",
    ),
]

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "No valid API token or session."},
    403: {"model": ErrorResponse, "description": "Signed in, but this role may not do this."},
    404: {"model": ErrorResponse, "description": "No such request, or not one of yours."},
    422: {"model": ErrorResponse, "description": "A field breaks a rule; each is named."},
    503: {"model": ErrorResponse, "description": "The workflow engine does not answer; nothing changed."},
}


class RequestSubmission(BaseModel):
    """The NOPIC Request Form. `received_at` is for reviewers entering a request that arrived by email."""

    model_config = ConfigDict(extra="forbid")

    exporter: Exporter
    importer: Importer
    shipment: Shipment
    timeframe: Timeframe
    commodities: list[Commodity] = Field(min_length=1)
    declarations: Declarations
    documents: list[DocumentReference] = Field(default_factory=list)
    received_at: AwareDatetime | None = Field(
        default=None,
        description="When the request reached the certifier (never in the future). Reviewers only: "
        "an exporter's own submission is received when it is sent.",
    )


class Submitted(BaseModel):
    id: str
    status: RequestStatus
    lead_working_days: int
    late: bool
    customs_deadline: AwareDatetime
    checklist: list[ChecklistItem]

    @classmethod
    def of(cls, state: RequestState) -> Submitted:
        return cls(
            id=state.request_id,
            status=state.status,
            lead_working_days=state.lead_working_days,
            late=state.late,
            customs_deadline=state.customs_deadline,
            checklist=state.checklist,
        )


class RecordKept(BaseModel):
    """A closed request's record: kept whole in PostgreSQL, whatever Temporal still holds."""

    closed_at: AwareDatetime
    keep_until: AwareDatetime = Field(description="Kept at least until then (7 CFR 205.510(b)).")


class RequestDetail(BaseModel):
    state: RequestState = Field(
        description="The live state from the workflow while the request is open; once closed, its record."
    )
    audit: list[AuditEntry] = Field(description="Every recorded change, oldest first, each naming its user.")
    record: RecordKept | None = Field(default=None, description="Once the request has closed: its record.")
    undelivered: list[UndeliveredMessage] = Field(
        default_factory=list,
        description="Messages of the request the mail server refused for good (given up, never sent again), "
        "in the order they were queued: each party named here has not been told, so contact it another way "
        "and fix the address. A reviewer sees every one; an exporter only those to the exporter.",
    )


async def undelivered_for(pool: asyncpg.Pool, user: User, request_id: str) -> list[UndeliveredMessage]:
    """The request's messages given up, as this user may see them: a reviewer all of them, an exporter
    those to its own address only (never the importer's or the review team's)."""
    messages = await given_up_messages(pool, request_id)
    if user.role is UserRole.REVIEWER:
        return messages
    return [m for m in messages if m.audience is Audience.EXPORTER]


def invalid(exc: ValidationError, prefix: str = "body") -> ApiError:
    return invalid_fields(field_errors(exc.errors(), prefix))


def build_form(submission: RequestSubmission, user: User, at: datetime) -> NopicRequestForm:
    """The form as the workflow receives it, after the checks that depend on who submits it."""
    if user.role is UserRole.EXPORTER:
        if submission.received_at is not None:
            raise ApiError(
                403,
                "received_at_reviewers_only",
                "received_at: only a reviewer sets the time of receipt; yours is the time you submit.",
            )
        if submission.exporter.operation_id != user.operation_id:
            raise ApiError(
                403,
                "other_operation",
                f"exporter.operation_id: you submit for operation {user.operation_id} only.",
            )
    refuse_control_characters(submission.model_dump(mode="json"))
    data = submission.model_dump(exclude={"received_at"})
    data["received_at"] = submission.received_at or at
    try:
        return parse_request_form(data, at)
    except ValidationError as exc:
        raise invalid(exc) from exc


async def claim_request_id(pool: asyncpg.Pool, user: User, key: str, body_sha256: str, candidate: str) -> str:
    """The request id an idempotency key stands for: the first submission with that key sets it."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO submission_keys (user_id, key, request_id, body_sha256) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (user_id, key) DO NOTHING",
            user.user_id,
            key,
            candidate,
            body_sha256,
        )
        row = await conn.fetchrow(
            "SELECT request_id, body_sha256 FROM submission_keys WHERE user_id = $1 AND key = $2",
            user.user_id,
            key,
        )
    assert row is not None
    if row["body_sha256"] != body_sha256:
        raise ApiError(
            409,
            "idempotency_key_reused",
            f"Idempotency-Key {key!r} was used for a different request ({row['request_id']}).",
        )
    request_id: str = row["request_id"]
    return request_id


async def submit(
    submission: RequestSubmission,
    user: User,
    requests: RequestClient,
    pool: asyncpg.Pool,
    config: Settings,
    at: datetime,
    idempotency_key: str | None,
    store: DocumentStore,
) -> RequestState:
    """Check the form for this user and the documents it names, give it a request id (the key's, if one
    was used before), start it. A key used before returns its request, whatever its state."""
    form = build_form(submission, user, at)
    named = [(f"body.documents.{i}", d) for i, d in enumerate(form.documents)]
    await check_references(store, user, form.exporter.operation_id, named)
    new_id = request_id = await claim_new_request_id(pool, user, at)
    if idempotency_key is not None:
        body = json.dumps(submission.model_dump(mode="json"), sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()
        request_id = await claim_request_id(pool, user, idempotency_key, digest, new_id)
    policy = policy_from_settings(config)
    return await requests.submit(request_id, form, policy, user.actor, again=request_id != new_id)


@router.post(
    "/requests",
    status_code=201,
    response_model=Submitted,
    summary="Submit a NOPIC request",
    responses={**_ERRORS, 409: {"model": ErrorResponse, "description": "Idempotency key reused."}},
)
async def submit_request(
    submission: RequestSubmission,
    user: ExporterOrReviewer,
    requests: Requests,
    pool: Db,
    config: AppSettings,
    store: Documents,
    at: Now,
    idempotency_key: IdempotencyKey = None,
) -> Submitted:
    state = await submit(submission, user, requests, pool, config, at, idempotency_key, store)
    return Submitted.of(state)


@router.get("/requests", response_model=RequestPage, summary="List requests", responses=_ERRORS)
async def list_all(
    user: ExporterOrReviewer,
    pool: Db,
    status: Annotated[list[RequestStatus] | None, Query(description="Any of these statuses.")] = None,
    exporter: Annotated[str | None, Query(pattern=r"^\d{10}$", description="Exporter operation ID.")] = None,
    importer: Annotated[str | None, Query(pattern=r"^\d{10}$", description="Importer operation ID.")] = None,
    late: Annotated[bool | None, Query(description="Only late (or only timely) requests.")] = None,
    customs_deadline_before: AwareDatetime | None = None,
    customs_deadline_after: AwareDatetime | None = None,
    product: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Text in a product name.")
    ] = None,
    sort: SortKey = SortKey.CUSTOMS_DEADLINE,
    descending: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=400,
            description="Where the page starts: the `next_after` of the page before, with the same filters, "
            "`sort` and `descending`. Rows written meanwhile neither repeat nor go missing, as they may "
            "with `offset`; give one or the other.",
        ),
    ] = None,
) -> RequestPage:
    cursor = page_cursor(after, offset, sort, descending)
    filters = RequestFilters(
        statuses=status or [],
        exporter=exporter,
        importer=importer,
        late=late,
        customs_deadline_before=customs_deadline_before,
        customs_deadline_after=customs_deadline_after,
        product=product,
    )
    if user.role is UserRole.EXPORTER:
        if exporter not in (None, user.operation_id):
            return RequestPage(items=[], total=0, limit=limit, offset=offset)
        filters.exporter = user.operation_id
    return await list_requests(
        pool, filters, sort=sort, descending=descending, limit=limit, offset=offset, after=cursor
    )


def page_cursor(after: str | None, offset: int, sort: SortKey, descending: bool) -> PageCursor | None:
    """The `after` parameter read back as a cursor of this list; a 422 naming it and its rule if it is not."""
    if after is None:
        return None
    try:
        if offset:
            raise CursorInvalid("cursor_with_offset", f"comes with offset={offset}: send one or the other")
        return PageCursor.decode(after, sort, descending)
    except CursorInvalid as exc:
        raise invalid_fields([FieldError(field="query.after", rule=exc.rule, message=str(exc))]) from exc


@router.get(
    "/requests/{request_id}",
    response_model=RequestDetail,
    summary="A request's state (live, or its record once closed), audit trail and messages not delivered",
    responses=_ERRORS,
)
async def show(
    request_id: RequestIdPath, user: ExporterOrReviewer, requests: Requests, pool: Db
) -> RequestDetail:
    state = await visible_state(requests, user, request_id)
    kept = await requests.kept(request_id)
    return RequestDetail(
        state=state,
        audit=await audit_trail(pool, request_id),
        record=RecordKept(closed_at=kept.closed_at, keep_until=kept.keep_until) if kept else None,
        undelivered=await undelivered_for(pool, user, request_id),
    )


@router.get(
    "/requests/{request_id}/certificates/{nopic}.pdf",
    summary="A NOPIC's PDF, sealed by the certifier",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The NOPIC as PDF."}},
)
async def certificate_pdf(
    request_id: RequestIdPath,
    nopic: Annotated[str, Path(pattern=r"^\d{3}-\d{10}-\d{6}$", description="The NOPIC number.")],
    user: ExporterOrReviewer,
    requests: Requests,
    pdfs: Pdfs,
) -> Response:
    state = await visible_state(requests, user, request_id)
    certificate = next(
        # Superseded and replaced NOPICs too: their PDFs say so across the page.
        (
            c
            for c in state.every_certificate
            if c.number == nopic and c.status is not CertificateStatus.PENDING
        ),
        None,
    )
    if certificate is None:
        raise ApiError(404, "certificate_not_found", f"Request {request_id} has no NOPIC {nopic}.")
    if await requests.kept(request_id) is not None:
        pdf = await pdfs.kept(state, certificate)  # the record's PDF, as sealed when the request closed
    else:
        pdf = await pdfs.live(state, certificate)
    return Response(
        pdf,
        media_type="application/pdf",
        headers=attachment_headers(f"NOPIC-{nopic}.pdf"),
    )
