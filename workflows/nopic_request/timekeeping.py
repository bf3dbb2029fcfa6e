"""Keeping the request's time: each step of the procedure waits on the request's whole schedule.

What is due next, and when, is computed from the state (`domain.schedule`): reminders before departure and
before the customs deadline, the deadline itself or the end of a grace period, a further shipment's
document deadline, the request for the kg shipped, the expiry. One wait (`MovableDeadline`, planned from
that schedule) sleeps until the earliest; whatever changes the schedule (an ETA moved, a document in, a
rejection) plans again. At the instant, everything due then is acted on, each only if it is still due.

Steps written before this kept their own timers; a history of those replays them (`paths-timekeeping`).
The rule changes of the same work are judged per change (`domain.rules.Change`, patches `paths-<change>`).
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from workflows.nopic_request import patches
from workflows.nopic_request.deadline import Alarm, MovableDeadline
from workflows.nopic_request.run import RequestRun

with workflow.unsafe.imports_passed_through():
    from domain.rules import Change
    from domain.schedule import Due, due, next_due


class Timekeeping(RequestRun):
    _changes_in_force: frozenset[Change] | None = None

    def _keeps_time(self) -> bool:
        """Whether this run's steps wait on the whole schedule (every run since the change)."""
        return workflow.patched(patches.TIMEKEEPING)

    def _since(self, change: Change) -> bool:
        """Whether this run takes the changed path (every run since the change)."""
        return workflow.patched(patches.rule_change(change))

    def _changes(self) -> frozenset[Change]:
        """The rule changes this run judges by; remembered for the validators, which may not ask."""
        self._changes_in_force = frozenset(change for change in Change if self._since(change))
        return self._changes_in_force

    async def keep_time(self, done: Callable[[], bool]) -> None:
        """Until `done` (or continue-as-new is due): sleep until what is due next and act on all of it."""
        state = self._state

        def over() -> bool:
            return done() or self._continue_as_new_due()

        clock = MovableDeadline(lambda: due(state), over=over)
        while (alarm := await clock.sleep_until(self._plan)) is not None:
            async with self._lock:
                for item in alarm.due:
                    # Under the lock the state may have moved on: act only on what is still due.
                    if isinstance(item, Due) and not over() and item in due(state):
                        await self.ring(item)

    def _plan(self, schedule: tuple[Due, ...]) -> Alarm | None:
        now = workflow.now()
        group = next_due(schedule, now)
        reminders = [d.at for d in schedule if d.kind.is_reminder and d.at > now]
        self._state.next_reminder = min(reminders) if reminders else None
        if not group:
            return None
        first = group[0]
        return Alarm(first.deadline, first.at, first.kind.value, due=tuple(group))

    async def ring(self, item: Due) -> None:
        """Act on one thing that came due (the procedure's steps)."""
        raise NotImplementedError
