"""What the request does when something comes due that is not a step of its own: a reminder of the
documents due before departure and the departure itself, the grace period's reminder, a further shipment's
rejected transport document (a reminder, then its NOPICs cancelled), and the exporter asked for the kg
shipped before the NOPICs expire. The procedure's own (reminders before the customs deadline, the deadline,
the expiry) are in `procedure.py`; when each comes due is `domain.schedule`'s to say.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.nopic_request.cancellations import AuditLine
from workflows.nopic_request.procedure import Procedure

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.certificates import commodities_of
    from domain.deadlines import local
    from domain.schedule import Due, DueKind
    from domain.state import SYSTEM, CertificateStatus, Requirement
    from domain.state import RequestStatus as Status


class Alarms(Procedure):
    async def ring(self, item: Due) -> None:
        match item.kind:
            case DueKind.DEPARTURE_REMINDER:
                await self.remind_of_departure(item)
            case DueKind.DEPARTURE:
                await self.flag_departure()
            case DueKind.GRACE_REMINDER:
                await self.remind_of_grace(item)
            case DueKind.SHIPMENT_REMINDER:
                await self.remind_of_shipment_document(item)
            case DueKind.SHIPMENT_DEADLINE:
                await self.cancel_for_shipment_document(item)
            case DueKind.QUANTITIES_REPORT:
                await self.ask_for_quantities(item)
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

    async def remind_of_shipment_document(self, item: Due) -> None:
        assert item.shipment is not None
        state = self._state
        shipment = state.shipments[item.shipment]
        state.shipments[item.shipment] = shipment.model_copy(update={"reminded": True})
        await self._record("shipment_document_reminder", SYSTEM, detail=f"shipment of {shipment.shipped_on}")
        await self._notify(
            Kind.TRANSPORT_REMINDER,
            Audience.EXPORTER,
            due_by=item.deadline,
            shipped_on=shipment.shipped_on,
            message=shipment.rejected,
        )

    async def cancel_for_shipment_document(self, item: Due) -> None:
        """No compliant transport document replaced a further shipment's rejected one in time: the NOPICs
        its goods travel under are cancelled; the request ends when none is left in force."""
        assert item.shipment is not None
        state = self._state
        shipment = state.shipments[item.shipment]
        reason = (
            "no compliant definitive transport document of the shipment of "
            f"{shipment.shipped_on} replaced the one rejected ({shipment.rejected}) "
            f"by {local(state, item.deadline)}"
        )
        state.shipments[item.shipment] = shipment.model_copy(update={"lapsed": True})
        concerned = commodities_of(state, shipment)
        left = [c for c in state.certificates if c.status is CertificateStatus.ISSUED and c not in concerned]
        if not left:
            state.outcome = reason
        # Through the one place that cancels: the gateway in api mode, a task for staff in manual mode.
        await self.cancel(
            concerned,
            reason,
            ends_as=None if left else Status.CANCELLED,
            tell=Kind.TRANSPORT_DEADLINE_PASSED,
            record=AuditLine("shipment_document_deadline_passed", detail=reason),
        )

    async def ask_for_quantities(self, item: Due) -> None:
        """Before the NOPICs expire: the exporter reports the net kg actually shipped per commodity."""
        state = self._state
        state.quantities_asked = True
        await self._record("quantities_report_asked", SYSTEM, detail=f"before {local(state, item.deadline)}")
        await self._notify(Kind.QUANTITIES_REPORT_REQUESTED, Audience.EXPORTER, due_by=item.deadline)
