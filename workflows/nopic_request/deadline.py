"""A wait for a deadline that may move while the workflow waits for it.

The shape of samples-python's `updatable_timer`: a loop that sleeps for `deadline - workflow.now()` while
waiting on "the deadline changed", and starts over from the new deadline when it does. Here the deadline
is read from the request's state, so whatever moves it there (an ETA change moves the customs deadline)
moves the wait too, and continue-as-new carries it over with the rest of the state.

Each pass of the loop starts one Temporal timer, named by its summary in the history and the web UI; a
timer whose deadline moved is cancelled. Replay compares that sequence, so this loop must keep it.

The deadline may be more than one instant: the request's whole schedule (`domain.schedule`), from which a
plan picks what rings next, all of it at once. A plan may also find nothing to wait for: then the wait
lasts until the schedule changes or the wait is over, with no timer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Generic, TypeVar

from temporalio import workflow

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Alarm:
    """One wake-up planned from a deadline: that deadline, when it rings, and its timer's summary; `due`
    is what rings then, when the plan is made from a whole schedule."""

    deadline: datetime
    at: datetime
    summary: str
    due: tuple[Hashable, ...] = ()

    @property
    def ahead(self) -> timedelta:
        """How long before the deadline it rings: zero when it rings at the deadline itself."""
        return self.deadline - self.at


class MovableDeadline(Generic[K]):
    """A deadline read from the state each time it is needed, and the waits for it.

    `over` says when waiting is no longer wanted (the request moved on, or must continue as new); it ends
    a wait as soon as it holds.
    """

    def __init__(self, deadline: Callable[[], K], *, over: Callable[[], bool]) -> None:
        self._deadline = deadline
        self._over = over

    def moved(self, alarm: Alarm) -> bool:
        """Whether the deadline (a single instant) has changed since `alarm` was planned from it."""
        return self._deadline() != alarm.deadline

    async def sleep(self, summary: str) -> bool:
        """Sleep until the deadline, wherever it moves meanwhile: True once it came, False once `over`."""

        def at_deadline(deadline: K) -> Alarm:
            assert isinstance(deadline, datetime)
            return Alarm(deadline, deadline, summary)

        return await self.sleep_until(at_deadline) is not None

    async def sleep_until(self, plan: Callable[[K], Alarm | None]) -> Alarm | None:
        """Sleep until the alarm `plan` sets from the deadline, planning again each time the deadline moves.

        The alarm that rang, or None once `over` holds.
        """
        while not self._over():
            planned_from = self._deadline()
            alarm = plan(planned_from)
            try:
                await workflow.wait_condition(
                    partial(self._moved_or_over, planned_from),
                    timeout=None if alarm is None else max(alarm.at - workflow.now(), timedelta(0)),
                    timeout_summary=None if alarm is None else alarm.summary,
                )
            except TimeoutError:
                return alarm
        return None

    def _moved_or_over(self, planned_from: K) -> bool:
        return self._deadline() != planned_from or self._over()
