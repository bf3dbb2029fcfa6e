"""The reviewers' work queues: what waits for them, soonest deadline first."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.records import RequestSummary
from activities.records_pg import RequestFilters, SortKey, cancellation_tasks, list_requests
from domain.state import RequestStatus
from web.dashboard.render import (
    REVIEWER,
    base,
    page,
    state_or_none,
    urgency,
)
from web.dashboard.session import (
    Viewer,
    require_role,
)
from web.deps import Db, Now, Requests

router = APIRouter(prefix="/ui", include_in_schema=False)


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
    issuing_states = await asyncio.gather(*(state_or_none(requests, r.request_id) for r in issuing))
    to_cancel = await cancellation_tasks(pool)
    sections: list[tuple[str, str, list[Any]]] = [
        ("awaiting-review", "Awaiting review", having(RequestStatus.RECEIVED, RequestStatus.IN_REVIEW)),
        ("awaiting-documents", "Awaiting documents", having(RequestStatus.AWAITING_DOCUMENTS)),
        ("issuing", "Issuing", issuing),
        (
            "awaiting-transport-document",
            "Awaiting transport document",
            having(RequestStatus.AWAITING_TRANSPORT_DOCUMENT),  # already soonest deadline first
        ),
        ("to-cancel", "To cancel in OID", to_cancel),
        ("overdue", "Overdue", [r for r in rows if urgency(r, at) == "overdue"]),
        ("recently-cancelled", "Recently cancelled", cancelled.items),
    ]
    context = base(
        session,
        at,
        sections=sections,
        issuing_states=[s for s in issuing_states if s is not None],
        urgency=urgency,
        late_count=sum(1 for r in rows if r.late),
    )
    return page(request, "queues.html", context)


RECENTLY = timedelta(days=14)
_OPEN = [s for s in RequestStatus if not s.is_final]
