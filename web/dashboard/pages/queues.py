"""The reviewers' work queues: what waits for them, soonest deadline first."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.records import RequestSummary
from activities.records_pg import cancellation_tasks, replacements_to_issue
from activities.request_list import RequestFilters, SortKey, list_requests
from domain.schedule import Attention
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
from web.deps import AppSettings, Db, Now, Requests

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/queues")
async def queues(
    request: Request, session: Viewer, pool: Db, requests: Requests, config: AppSettings, at: Now
) -> HTMLResponse:
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

    # A NOPIC replaced after issue waits for its new number here too (`replace-certificate`).
    replacing = {row.request_id for row in await replacements_to_issue(pool)}
    issuing = [r for r in rows if r.status is RequestStatus.ISSUING or r.request_id in replacing]
    issuing_states = await asyncio.gather(*(state_or_none(requests, r.request_id) for r in issuing))
    to_cancel = await cancellation_tasks(pool)
    flagged = {flag: [r for r in rows if flag.value in r.attention] for flag in Attention}
    notes = await attention_notes(requests, flagged, ZoneInfo(config.timezone))
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
        ("grace-periods", "Grace periods running", flagged[Attention.GRACE_PERIOD_RUNNING]),
        (
            "departed-missing",
            "Departed with documents due before departure missing",
            flagged[Attention.DEPARTED_WITH_DOCUMENTS_MISSING],
        ),
        (
            "deadline-moves",
            "Customs-deadline moves waiting for a reviewer",
            flagged[Attention.DEADLINE_MOVE_PENDING],
        ),
        ("recently-cancelled", "Recently cancelled", cancelled.items),
    ]
    context = base(
        session,
        at,
        sections=sections,
        issuing_states=[s for s in issuing_states if s is not None],
        urgency=urgency,
        late_count=sum(1 for r in rows if r.late),
        notes=notes,
    )
    return page(request, "queues.html", context)


async def attention_notes(
    requests: Requests, flagged: dict[Attention, list[RequestSummary]], zone: ZoneInfo
) -> dict[str, dict[str, str]]:
    """Per section, what each flagged request waits for: the grace period's end, the items missing since
    departure, the customs deadline asked for (the last two from the request's state)."""
    notes: dict[str, dict[str, str]] = {"grace-periods": {}, "departed-missing": {}, "deadline-moves": {}}
    for row in flagged[Attention.GRACE_PERIOD_RUNNING]:
        if row.grace_until is not None:
            until = row.grace_until.astimezone(zone)
            notes["grace-periods"][row.request_id] = f"a compliant transport document until {until:{WHEN}}"
    wanted = [*flagged[Attention.DEPARTED_WITH_DOCUMENTS_MISSING], *flagged[Attention.DEADLINE_MOVE_PENDING]]
    states = await asyncio.gather(*(state_or_none(requests, r.request_id) for r in wanted))
    for state in states:
        if state is None:
            continue
        if state.departed_missing:
            missing = ", ".join(i.description for i in state.departed_missing)
            notes["departed-missing"][state.request_id] = f"ETD {state.form.shipment.etd}: {missing}"
        if (move := state.pending_deadline_move) is not None:
            asked = move.customs_deadline.astimezone(zone)
            notes["deadline-moves"][state.request_id] = f"{move.requested_by.name} asks for {asked:{WHEN}}"
    return notes


WHEN = "%d %b %Y %H:%M %Z"
RECENTLY = timedelta(days=14)
_OPEN = [s for s in RequestStatus if not s.is_final]
