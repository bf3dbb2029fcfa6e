"""The request lists: every request for reviewers, their own for exporters, with what each lacks."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.request_list import RequestFilters, SortKey, list_requests
from domain.state import ChecklistItem, RequestStatus, Requirement
from web.dashboard.render import (
    EXPORTER,
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
    listed = await list_requests(pool, filters, sort=SortKey.UPDATED_AT, descending=True, limit=200)
    missing: dict[str, list[str]] = {}
    if user.role is EXPORTER:
        # An exporter has few requests; what each still lacks comes from the workflow itself.
        open_rows = [r for r in listed.items if not r.status.is_final][:50]
        states = await asyncio.gather(*(state_or_none(requests, r.request_id) for r in open_rows))
        missing = {s.request_id: [_missing_item(i) for i in s.missing()] for s in states if s is not None}
    context = base(
        session,
        at,
        page=listed,
        missing=missing,
        urgency=urgency,
        statuses=list(RequestStatus),
        filters={"status": status, "product": product, "late": late},
    )
    return page(request, "requests.html", context)


def _missing_item(item: ChecklistItem) -> str:
    if item.required is Requirement.NOW:
        return item.description
    return f"{item.description} ({item.required.value.replace('_', ' ')})"
