"""Moves of the customs deadline: applied, or (an exporter's past the allowance) put to a reviewer.

Every move is told to the review team and kept in the audit trail with the deadline before and after.
Called by the handlers of `update-eta` (`handlers.py`), `accept-eta-move` and `decline-eta-move`
(`decisions.py`).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.nopic_request.run import lead_time
from workflows.nopic_request.shipments import Shipments

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.deadlines import local, moved_shipment, needs_reviewer, with_shipment
    from domain.messages import Action, UpdateEta
    from domain.request import Shipment
    from domain.schedule import deadline_move_limit
    from domain.state import DeadlineMove


class DeadlineMoves(Shipments):
    async def take_eta_update(self, action: UpdateEta) -> None:
        """An exporter's move past the allowance waits for a reviewer; any other is made now."""
        state = self._state
        shipment = moved_shipment(state.form.shipment, action, keep_clearance=True)
        limit = deadline_move_limit(state)
        if needs_reviewer(action, shipment.customs_deadline, limit):
            assert limit is not None
            previous = state.customs_deadline
            state.pending_deadline_move = DeadlineMove(
                action_id=action.action_id,
                requested_by=action.actor,
                requested_at=workflow.now(),
                shipment=shipment,
                customs_deadline=shipment.customs_deadline,
                previous_deadline=previous,
            )
            detail = (
                f"customs deadline {previous.isoformat()} -> {shipment.customs_deadline.isoformat()} asked, "
                f"past what an exporter may set ({local(state, limit)}): waits for a reviewer"
            )
            await self._record(
                "eta_move_requested", action.actor, action.action_id, payload=action, detail=detail
            )
            await self._notify(
                Kind.DEADLINE_MOVE_REQUESTED,
                Audience.REVIEW_TEAM,
                previous_deadline=previous,
                due_by=shipment.customs_deadline,
            )
            return
        await self.move_deadline(shipment, "update_eta", action)

    async def move_deadline(self, shipment: Shipment, name: str, action: Action) -> None:
        """The customs deadline moves (the ETD too, before issue): the schedule follows, reminders afresh."""
        state = self._state
        previous, previous_etd = state.customs_deadline, state.form.shipment.etd
        self._set_form(with_shipment(state.form, shipment))
        state.customs_deadline = shipment.customs_deadline
        state.reminders_sent = []
        state.pending_deadline_move = None
        detail = f"customs deadline {previous.isoformat()} -> {state.customs_deadline.isoformat()}"
        if shipment.etd != previous_etd:
            state.lead_working_days, state.late = lead_time(state.policy, state.form)
            state.departure_reminders_sent = []
            state.departure_checked = False
            detail += f"; ETD {previous_etd} -> {shipment.etd}"
        data: dict[str, Any] = {
            **action.model_dump(mode="json"),
            "previous_deadline": previous.isoformat(),
            "customs_deadline": state.customs_deadline.isoformat(),
        }
        await self._record(name, action.actor, action.action_id, payload=data, detail=detail)
        await self._notify(Kind.DEADLINE_MOVED, Audience.REVIEW_TEAM, previous_deadline=previous)
