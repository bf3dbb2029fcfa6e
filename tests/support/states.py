"""Request states built directly, for the pure rules (`domain.rules`, `domain.schedule`): no workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.certificates import one_nopic_per_commodity
from domain.checklist import checklist
from domain.policy import Policy
from domain.request import NopicRequestForm
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.forms import RECEIVED_AT, form

NOW = RECEIVED_AT + timedelta(hours=1)


def request(
    status: RequestStatus, request_form: NopicRequestForm | None = None, **updates: Any
) -> RequestState:
    """A request of the sample form in `status`, as its workflow would hold it, with `updates` applied."""
    request_form = request_form or form()
    state = RequestState(
        request_id="R-1",
        form=request_form,
        policy=updates.pop("policy", Policy()),
        status=status,
        received_day=request_form.received_at.date(),
        lead_working_days=6,
        late=False,
        checklist=checklist(request_form),
        certificates=one_nopic_per_commodity(request_form),
        customs_deadline=request_form.shipment.customs_deadline,
        updated_at=NOW,
    )
    return state.model_copy(update=updates)


def issued(state: RequestState) -> RequestState:
    """The state with both sample certificates issued."""
    numbers = ["026-1234567890-000001", "026-1234567890-000002"]
    certificates = [
        c.model_copy(update={"status": CertificateStatus.ISSUED, "number": n})
        for c, n in zip(state.certificates, numbers, strict=True)
    ]
    return state.model_copy(update={"certificates": certificates})
