"""A wait for a deadline that may move while the workflow waits for it.

The shape of samples-python's `updatable_timer`: a loop that sleeps for `deadline - workflow.now()` while
waiting on "the deadline changed", and starts over from the new deadline when it does. Here the deadline
is read from the request's state, so whatever moves it there (an ETA change moves the customs deadline)
moves the wait too, and continue-as-new carries it over with the rest of the state.

Each pass of the loop starts one Temporal timer, named by its summary in the history and the web UI; a
timer whose deadline moved is cancelled. Replay compares that sequence, so this loop must keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from temporalio import workflow


@dataclass(frozen=True)
class Alarm:
    """One wake-up planned from a deadline: that deadline, when it rings, and its timer's summary."""

    deadline: datetime
    at: datetime
    summary: str

    @property
    def ahead(self) -> timedelta:
        """How long before the deadline it rings: zero when it rings at the deadline itself."""
        return self.deadline - self.at


class MovableDeadline:
    """A deadline read from the state each time it is needed, and the waits for it.

    `over` says when waiting is no longer wanted (the request moved on, or must continue as new); it ends
    a wait as soon as it holds.
    """

    def __init__(self, deadline: Callable[[], datetime], *, over: Callable[[], bool]) -> None:
        self._deadline = deadline
        self._over = over

    def moved(self, alarm: Alarm) -> bool:
        """Whether the deadline has changed since `alarm` was planned from it."""
        return self._deadline() != alarm.deadline

    async def sleep(self, summary: str) -> bool:
        """Sleep until the deadline, wherever it moves meanwhile: True once it came, False once `over`."""
        return await self.sleep_until(lambda deadline: Alarm(deadline, deadline, summary)) is not None

    async def sleep_until(self, plan: Callable[[datetime], Alarm]) -> Alarm | None:
        """Sleep until the alarm `plan` sets from the deadline, planning again each time the deadline moves.

        The alarm that rang, or None once `over` holds.
        """
        while not self._over():
            alarm = plan(self._deadline())
            try:
                await workflow.wait_condition(
                    partial(self._moved_or_over, alarm),
                    timeout=max(alarm.at - workflow.now(), timedelta(0)),
                    timeout_summary=alarm.summary,
                )
            except TimeoutError:
                return alarm
        return None

    def _moved_or_over(self, alarm: Alarm) -> bool:
        return self.moved(alarm) or self._over()
