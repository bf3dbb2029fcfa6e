"""What every part of one run of the request workflow shares: the state, its lock, and how a change is kept.

Everything the workflow knows is one `RequestState`, so continue-as-new hands it to the next run whole,
with every deadline. Every state change, by a step of the procedure or by a person's action, happens
under one lock and is recorded (`_record`: the request's history, Temporal's search attributes, the audit
trail) before the lock is released, so audit sequence numbers follow the order of changes and an update
returns once its change is in the audit trail. The messages a change causes are queued with it, and sent
by `send_mail`, which runs beside the procedure for the whole run, once the lock is released: no action
waits for a mail server. Waiting (timers, conditions) and calls to OID happen outside the lock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

from workflows.nopic_request import calls

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.notifications import Audience, Notification, NotificationKind
    from activities.records import AuditEvent, RecordChangeInput, RequestSummary
    from domain import intake
    from domain.checklist import checklist
    from domain.policy import Policy
    from domain.request import NopicRequestForm
    from domain.state import ActionRecord, Actor, Certificate, NopicRequestInput, RequestState
    from workflows import search_attributes


def lead_time(policy: Policy, form: NopicRequestForm) -> tuple[int, bool]:
    """Working days before departure, and whether that is late."""
    # `holidays` imports a country's rules and sets up (unused) holiday-name translations on first use;
    # neither changes the dates, so that runs outside the sandbox's restrictions.
    with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
        return intake.lead_time(policy, form)


class RequestRun:
    def __init__(self, input: NopicRequestInput) -> None:
        self._state = input.carried_state or self._new_state(input)
        self._lock = asyncio.Lock()
        self._history_at_start = len(self._state.history)
        # What Temporal lists the request by. A first run was started with its first state's attributes
        # (`search_attributes.at_start`; none before it was), so only what differs from them is upserted.
        # A run that continued as new upserts each once, as it always did: what it inherits is not asked.
        self._indexed: dict[str, Any] = {}
        if input.carried_state is None:
            started = workflow.info().typed_search_attributes
            self._indexed = {p.key.name: p.value for p in started if p.key in search_attributes.ALL}
        # Only in this run, for histories from before the operations check was kept in the state: numbers
        # may be recorded once OID confirmed both operations are certified.
        self._operations_checked = False
        # The mail queue (`perf-mail-queue`, asked as the run starts): messages queued by this run's changes
        # and not yet handed to `send_queued`, and whether a send is under way.
        self._queues_mail = False
        self._queued: list[str] = []
        self._sending = False

    @staticmethod
    def _new_state(input: NopicRequestInput) -> RequestState:
        # `holidays` (the lead time's calendar) imports a country's rules on first use: see `lead_time`.
        with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
            return intake.first_state(input.request_id, input.form, input.policy, workflow.now())

    async def _record(
        self,
        action: str,
        actor: Actor,
        action_id: str | None = None,
        *,
        payload: BaseModel | dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> None:
        """One state change: into the request's history, the search attributes and the audit trail."""
        state = self._state
        state.sequence += 1
        state.updated_at = workflow.now()
        state.history.append(
            ActionRecord(
                sequence=state.sequence,
                action_id=action_id or f"system-{state.sequence}",
                action=action,
                actor=actor,
                at=state.updated_at,
                status=state.status,
                detail=detail,
            )
        )
        self._index()
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload or {})
        if detail is not None:
            data.setdefault("detail", detail)
        event = AuditEvent(
            event_id=f"{state.request_id}:{state.sequence}",
            request_id=state.request_id,
            sequence=state.sequence,
            actor=actor,
            action=action,
            payload=data,
            at=state.updated_at,
        )
        await calls.record(
            RecordChangeInput(
                event=event,
                summary=RequestSummary.of(state),
                certificates=state.every_certificate,
                # A closed request is kept whole in PostgreSQL; Temporal's retention deletes its history.
                # Only the activity's input changes: the commands, and so every replay, stay the same.
                closed_state=state if state.status.is_final else None,
            )
        )

    async def _notify(self, kind: NotificationKind, audience: Audience, **details: Any) -> None:
        """Tell `audience` of the change just made: queued, and sent once the change is done (`send_mail`);
        in runs from before the mail queue, sent here."""
        notification = Notification.about(self._state, kind, audience, **details)
        if not self._queues_mail:
            await calls.notify(notification)
            return
        await calls.queue_notification(notification)
        self._queued.append(notification.event_id)

    async def send_mail(self) -> None:
        """For the whole run: send what the changes queued, a step's messages together, once the change that
        queued them has released the lock (so an action's answer never waits on it)."""
        while True:
            await workflow.wait_condition(lambda: bool(self._queued) and not self._lock.locked())
            step, self._queued = self._queued, []
            self._sending = True
            try:
                left = await calls.send_queued(step)
            finally:
                self._sending = False
            self._queued[:0] = left  # first, before anything queued since

    def _done(self) -> bool:
        """Nothing left to finish before the run ends or continues as new: no handler running, no message
        queued and not yet sent."""
        return workflow.all_handlers_finished() and not self._queued and not self._sending

    def _set_form(self, form: NopicRequestForm) -> None:
        """The request's data changed: its checklist follows."""
        self._state.form = form
        self._state.checklist = checklist(form, self._state.transport_document)

    def _set_certificate(self, certificate: Certificate) -> None:
        """Put the certificate back where it is kept: its commodity's current one, or among those superseded
        (the same commodity and revision)."""
        state = self._state
        index = certificate.commodity_index
        if index < len(state.certificates) and state.certificates[index].revision == certificate.revision:
            state.certificates[index] = certificate
            return
        for position, held in enumerate(state.superseded):
            if held.commodity_index == certificate.commodity_index and held.revision == certificate.revision:
                state.superseded[position] = certificate
                return
        raise ValueError(f"no certificate {certificate.commodity_index}.{certificate.revision} to update")

    @property
    def _operations_passed(self) -> bool:
        """NOPIC numbers may be recorded: both operations are confirmed Certified for this approval."""
        check = self._state.operations_check
        return self._operations_checked or (check is not None and check.passed)

    def _index(self) -> None:
        """Keep Temporal's list view useful: upsert the search attributes that changed."""
        pairs = search_attributes.of(self._state)
        changed = [p for p in pairs if self._indexed.get(p.key.name) != p.value]
        if changed:
            workflow.upsert_search_attributes([p.key.value_set(p.value) for p in changed])
            self._indexed.update({p.key.name: p.value for p in changed})

    def _continue_as_new_due(self) -> bool:
        limit = self._state.policy.continue_as_new_after_actions
        actions_this_run = len(self._state.history) - self._history_at_start
        return workflow.info().is_continue_as_new_suggested() or (
            limit is not None and actions_this_run >= limit
        )

    async def _continue_as_new(self) -> None:
        """A fresh history, same request: the whole state, and with it every deadline, carries over."""
        await workflow.wait_condition(self._done)
        state = self._state
        workflow.logger.info("continuing as new", extra={"actions": len(state.history)})
        workflow.continue_as_new(
            NopicRequestInput(
                request_id=state.request_id, form=state.form, policy=state.policy, carried_state=state
            )
        )
