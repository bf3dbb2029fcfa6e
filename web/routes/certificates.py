"""`/certificates`: the NOPICs of every request by status, first of all the "To cancel in OID" queue; and
the check, before an update reaches a workflow, that a NOPIC number typed by hand is no other request's."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query

from activities.nopic_numbers import NumberClaim, holder_of
from activities.records_pg import CertificateRow, certificates_in
from domain import messages
from domain.state import CertificateStatus
from starter.client import ActionRefused
from web.deps import Db, Reviewer
from web.errors import ErrorResponse

router = APIRouter(tags=["certificates"])


@router.get(
    "/certificates",
    response_model=list[CertificateRow],
    summary="Certificates by status: by default the NOPICs to cancel in OID",
    description='Who may: reviewer. `status=cancellation_pending` (the default) is the "To cancel in OID" '
    "queue: each NOPIC still valid in OID that staff are to cancel there and confirm (record-cancellation), "
    "or that the OID gateway refused to cancel (`oid_failure`). Longest waiting first.",
    responses={
        401: {"model": ErrorResponse, "description": "No valid API token or session."},
        403: {"model": ErrorResponse, "description": "Only reviewers list certificates."},
    },
)
async def list_certificates(
    _: Reviewer,
    pool: Db,
    status: Annotated[CertificateStatus, Query(description="Only certificates in this status.")] = (
        CertificateStatus.CANCELLATION_PENDING
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[CertificateRow]:
    return await certificates_in(pool, status, limit)


async def refuse_a_number_held_elsewhere(
    pool: asyncpg.Pool, request_id: str, action: messages.Action
) -> None:
    """A NOPIC number another request holds is refused at once, naming that request; the workflow checks
    again when it claims the number, so two requests typing the same number at once cannot both get it."""
    if not isinstance(action, messages.RecordCertificateNumber):
        return
    claim = NumberClaim(number=action.number, request_id=request_id, commodity_index=action.commodity_index)
    holder = await holder_of(pool, claim)
    if holder is not None:
        raise ActionRefused(holder.refusal(action.number))
