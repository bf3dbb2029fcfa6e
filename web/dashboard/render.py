"""What every dashboard page shares: its templates, its layout's context, and how rows stand out."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from activities.records import RequestSummary
from domain.state import BEFORE_ISSUE, RequestState, RequestStatus
from web.auth import Session, UserRole
from web.dashboard.session import (
    CSRF_FIELD,
)
from web.deps import Requests

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Every action form carries an action id of its own, drawn when the page is drawn: a double click, or the
# form sent again after "may still take effect", is the same action, which changes nothing twice.
templates.env.globals["new_action_id"] = lambda: f"ui-{uuid4().hex}"

REVIEWER, EXPORTER, ADMIN = UserRole.REVIEWER, UserRole.EXPORTER, UserRole.ADMIN
NEAR_DEADLINE = timedelta(days=2)
# OID's public page of one operation (its status, scopes and certified products), by NOP operation ID: the
# address USDA prints on organic certificates for verifying them.
OID_OPERATION_PAGE = "https://organic.ams.usda.gov/Integrity/CP/OPP?nopid={}"


def oid_operation_page(operation_id: str) -> str:
    return OID_OPERATION_PAGE.format(operation_id)


templates.env.globals["oid_operation_page"] = oid_operation_page


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def base(session: Session, at: datetime, **extra: Any) -> dict[str, Any]:
    """What every page's layout needs: who is signed in, the CSRF token of its forms, and the time."""
    return {"user": session.user, "csrf": session.csrf_token, "csrf_field": CSRF_FIELD, "now": at, **extra}


def urgency(summary: RequestSummary, at: datetime) -> str:
    """How much a row should stand out: overdue, near (deadline within two days) or none. Until its NOPICs
    are issued a request is overdue once its ETD has passed, as the daily digest counts it."""
    if summary.status.is_final or summary.status in (RequestStatus.ACTIVE, RequestStatus.CANCELLING):
        return ""
    if summary.customs_deadline < at or (summary.status in BEFORE_ISSUE and summary.etd < at.date()):
        return "overdue"
    if summary.customs_deadline - at < NEAR_DEADLINE:
        return "near"
    return ""


async def state_or_none(requests: Requests, request_id: str) -> RequestState | None:
    try:
        return await requests.state(request_id)
    except Exception:  # one unreadable request must not take the whole page down
        return None
