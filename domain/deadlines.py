"""The customs deadline and what hangs on it: actions refused once it passed, moves of it, and why the
NOPICs are cancelled when what it waits for never came.

An exporter moves the customs deadline (ETA, expected clearance) up to the policy's allowance past the
timeframe's last day; a move further waits for a reviewer, who accepts or declines it. An update that names
no expected clearance keeps the one given before, unless it clears it. The ETD moves within the timeframe,
but only until the NOPICs are issued: OID holds the ETD they were issued with.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from domain.messages import UpdateEta
from domain.request import NopicRequestForm, Shipment
from domain.state import BEFORE_ISSUE, RequestState, Role


def local(state: RequestState, moment: datetime) -> str:
    """An instant as the certifier reads it: its day and time in the certifier's zone."""
    return moment.astimezone(state.policy.zone).strftime("%Y-%m-%d %H:%M %Z")


def deadline_passed(state: RequestState, what: str, now: datetime) -> str | None:
    """Refuses issuing NOPICs that the passed customs deadline would cancel at once."""
    if state.customs_deadline > now:
        return None
    deadline = local(state, state.customs_deadline)
    return (
        f"{what} refused: the customs-clearance deadline {deadline} has passed, so NOPICs issued now "
        "would be cancelled at once; move the ETA / expected clearance first (update-eta)"
    )


def moved_shipment(current: Shipment, action: UpdateEta, *, keep_clearance: bool) -> Shipment:
    """The shipment with the new ETA (and ETD), and so a new customs deadline. With `keep_clearance`, an
    update that names no expected clearance keeps the one before, unless it clears it."""
    clearance = action.expected_clearance
    if clearance is None and keep_clearance and not action.clear_expected_clearance:
        clearance = current.expected_clearance
    changes: dict[str, object] = {"eta": action.eta, "expected_clearance": clearance}
    if keep_clearance and action.etd is not None:
        changes["etd"] = action.etd
    return Shipment.model_validate({**current.model_dump(), **changes})


def with_shipment(form: NopicRequestForm, shipment: Shipment) -> NopicRequestForm:
    """The form with this shipment, checked as a whole (the ETD within the timeframe, after receipt)."""
    return NopicRequestForm.model_validate({**form.model_dump(), "shipment": shipment.model_dump()})


def messages_of(error: ValidationError) -> str:
    return "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())


def move_problem(state: RequestState, action: UpdateEta, now: datetime) -> str | None:
    """Why this move of the ETA cannot be made (or asked for), or None."""
    current = state.form.shipment
    try:
        shipment = moved_shipment(current, action, keep_clearance=True)
        if shipment.etd != current.etd:
            if state.status not in BEFORE_ISSUE:
                return f"the NOPICs were issued with the ETD {current.etd}: it can no longer move"
            with_shipment(state.form, shipment)
    except ValidationError as error:
        return messages_of(error)
    if shipment.customs_deadline <= now:
        return f"the new customs deadline {local(state, shipment.customs_deadline)} is already past"
    return None


def needs_reviewer(action: UpdateEta, deadline: datetime, limit: datetime | None) -> bool:
    """An exporter's move past the allowance waits for a reviewer's decision."""
    return action.actor.role is Role.EXPORTER and limit is not None and deadline > limit


def decision_problem(state: RequestState, now: datetime) -> str | None:
    """Why there is no move to accept now."""
    move = state.pending_deadline_move
    if move is None:
        return "no move of the customs deadline waits for a decision"
    if move.customs_deadline <= now:
        return f"the customs deadline asked for, {local(state, move.customs_deadline)}, is already past"
    try:
        with_shipment(state.form, move.shipment)
    except ValidationError as error:
        return messages_of(error)
    return None


def _listed(things: list[str]) -> str:
    return things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]


def missed_deadline_reason(state: RequestState) -> str:
    """Why the NOPICs are cancelled at the customs deadline or at the end of its grace period: what never
    came, named as the checklist names it."""
    if state.grace_until is not None:
        end = max(state.grace_until, state.customs_deadline)
        when = f"by the end of the grace period ({local(state, end)})"
    else:
        when = f"before the customs-clearance deadline ({local(state, state.customs_deadline)})"
    missing: list[str] = []
    if state.transport_document is None:
        if state.transport_document_rejection is not None:
            missing.append(
                "a compliant definitive transport document of the first shipment (the one sent was rejected: "
                f"{state.transport_document_rejection})"
            )
        elif state.held_transport_document is not None:
            missing.append(
                "the shipped-on date and quantities of the first shipment (its transport document "
                "was received)"
            )
        else:
            missing.append("the definitive transport document of the first shipment")
    missing += [i.description for i in state.missing() if i.item != "definitive_transport_document"]
    if not missing:
        return f"the request was not complete {when}"
    verb = "was" if len(missing) == 1 else "were"
    return f"{_listed(missing)} {verb} not received {when}"
