"""Step 1 of the procedure as pure functions: the state a request starts in, and the status checking its
documents gives it.

The workflow runs them when it takes a request in; the API answers a new submission with them as soon as
the request's workflow has started, instead of waiting for the workflow to record the request and mail the
review team (the same functions, so the same answer).
"""

from __future__ import annotations

from datetime import datetime

from domain.calendar import is_late, lead_working_days
from domain.certificates import one_nopic_per_commodity
from domain.checklist import checklist
from domain.policy import Policy
from domain.request import NopicRequestForm
from domain.state import RequestState, RequestStatus, Requirement


def lead_time(policy: Policy, form: NopicRequestForm) -> tuple[int, bool]:
    """Working days from receipt to departure, and whether that is late."""
    lead = lead_working_days(policy, form.received_at, form.shipment.etd)
    return lead, is_late(policy, lead)


def first_state(request_id: str, form: NopicRequestForm, policy: Policy, now: datetime) -> RequestState:
    """The request as received: its lead time, its checklist, one pending NOPIC per commodity."""
    lead, late = lead_time(policy, form)
    return RequestState(
        request_id=request_id,
        form=form,
        policy=policy,
        received_day=form.received_at.astimezone(policy.zone).date(),
        lead_working_days=lead,
        late=late,
        checklist=checklist(form),
        certificates=one_nopic_per_commodity(form),
        customs_deadline=form.shipment.customs_deadline,
        updated_at=now,
    )


def checked_status(state: RequestState) -> RequestStatus:
    """Awaiting documents while an item required now is missing or corrections are open, else in review."""
    if state.missing(Requirement.NOW) or state.corrections_requested:
        return RequestStatus.AWAITING_DOCUMENTS
    return RequestStatus.IN_REVIEW


def checked_in(state: RequestState) -> RequestState:
    """The state once its documents are checked: what a new submission is answered with."""
    return state.model_copy(update={"status": checked_status(state)})
