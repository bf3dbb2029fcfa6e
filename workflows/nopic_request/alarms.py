"""What the request does when something comes due that is not a step of its own: a reminder of the
documents due before departure and the departure itself, and the grace period's reminder. The procedure's
own (reminders before the customs deadline, the deadline,
the expiry) are in `procedure.py`; when each comes due is `domain.schedule`'s to say.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.nopic_request.procedure import Procedure

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.deadlines import local
    from domain.schedule import Due, DueKind
    from domain.state import SYSTEM, Requirement


class Alarms(Procedure):
    async def ring(self, item: Due) -> None:
        match item.kind:
            case DueKind.DEPARTURE_REMINDER:
                await self.remind_of_departure(item)
            case DueKind.DEPARTURE:
                await self.flag_departure()
            case DueKind.GRACE_REMINDER:
                await self.remind_of_grace(item)
            case _:
                await super().ring(item)

    async def remind_of_departure(self, item: Due) -> None:
        """Before the ETD: what is due before departure and still missing (the phytosanitary certificate)."""
        assert item.offset is not None
        state = self._state
        state.departure_reminders_sent.append(item.offset)
        missing = state.missing(Requirement.BEFORE_DEPARTURE)
        names = ", ".join(i.description for i in missing)
        await self._record("departure_reminder", SYSTEM, detail=f"{item.offset} before departure: {names}")
        await self._notify(
            Kind.DEPARTURE_REMINDER,
            Audience.EXPORTER,
            reminder_offset=item.offset,
            due_by=item.deadline,
            missing=missing,
        )

    async def flag_departure(self) -> None:
        """The ETD came with items due before departure still missing: the reviewers' queues show it."""
        state = self._state
        state.departure_checked = True
        names = ", ".join(i.description for i in state.missing(Requirement.BEFORE_DEPARTURE))
        await self._record("departed_with_documents_missing", SYSTEM, detail=names)

    async def remind_of_grace(self, item: Due) -> None:
        """The grace period's last day: a compliant transport document is still awaited."""
        state = self._state
        state.grace_reminded = True
        await self._record("grace_period_reminder", SYSTEM, detail=f"until {local(state, item.deadline)}")
        await self._notify(
            Kind.TRANSPORT_REMINDER,
            Audience.EXPORTER,
            due_by=item.deadline,
            message=state.transport_document_rejection,
            missing=state.missing(),
        )
