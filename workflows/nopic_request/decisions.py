"""The reviewer's decisions and the exporter's report that came with the procedure's unhappy paths:
resolving open corrections answered another way (by email, say), accepting or declining an exporter's move
of the customs deadline past the allowance, and the net kg actually shipped, reported before expiry.

Updates, like every action (`handlers.py`): the person hears at once whether it was refused, and why.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.nopic_request.handlers import Handlers

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.messages import AcceptDeadlineMove, DeclineDeadlineMove, ReportQuantities, ResolveCorrections
    from domain.state import RequestState


class Decisions(Handlers):
    @workflow.update
    async def resolve_corrections(self, action: ResolveCorrections) -> RequestState:
        return await self._act(action, self._resolve_corrections)

    @resolve_corrections.validator
    def _validate_resolve_corrections(self, action: ResolveCorrections) -> None:
        self._validate(action)

    async def _resolve_corrections(self, action: ResolveCorrections) -> None:
        """The corrections are settled otherwise: the request is judged on what it holds now."""
        resolved = "; ".join(self._state.corrections_requested)
        self._corrections_answered()
        await self._record(
            "resolve_corrections", action.actor, action.action_id, detail=f"{resolved}: {action.note}"
        )
        await self.check_documents()

    @workflow.update
    async def accept_deadline_move(self, action: AcceptDeadlineMove) -> RequestState:
        return await self._act(action, self._accept_deadline_move)

    @accept_deadline_move.validator
    def _validate_accept_deadline_move(self, action: AcceptDeadlineMove) -> None:
        self._validate(action)

    async def _accept_deadline_move(self, action: AcceptDeadlineMove) -> None:
        move = self._state.pending_deadline_move
        assert move is not None  # the rules refuse a decision with no move waiting
        await self.move_deadline(move.shipment, "accept_eta_move", action)
        message = "accepted" + (f": {action.note}" if action.note else "")
        await self._notify(
            Kind.DEADLINE_MOVE_DECIDED,
            Audience.EXPORTER,
            message=message,
            previous_deadline=move.previous_deadline,
        )

    @workflow.update
    async def decline_deadline_move(self, action: DeclineDeadlineMove) -> RequestState:
        return await self._act(action, self._decline_deadline_move)

    @decline_deadline_move.validator
    def _validate_decline_deadline_move(self, action: DeclineDeadlineMove) -> None:
        self._validate(action)

    async def _decline_deadline_move(self, action: DeclineDeadlineMove) -> None:
        state = self._state
        move = state.pending_deadline_move
        assert move is not None
        state.pending_deadline_move = None
        detail = f"customs deadline stays {state.customs_deadline.isoformat()} ({action.reason})"
        await self._record("decline_eta_move", action.actor, action.action_id, detail=detail)
        await self._notify(
            Kind.DEADLINE_MOVE_DECIDED,
            Audience.EXPORTER,
            message=f"declined: {action.reason}",
            due_by=move.customs_deadline,
        )

    @workflow.update
    async def report_quantities(self, action: ReportQuantities) -> RequestState:
        return await self._act(action, self._report_quantities)

    @report_quantities.validator
    def _validate_report_quantities(self, action: ReportQuantities) -> None:
        self._validate(action)

    async def _report_quantities(self, action: ReportQuantities) -> None:
        """What was actually shipped: kept for the reconciliation at expiry (a new report replaces it)."""
        self._state.reported_quantities = list(action.quantities)
        await self._record("report_quantities", action.actor, action.action_id, payload=action)
