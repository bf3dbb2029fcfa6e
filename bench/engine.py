"""The engine's own workflows, on the same dev server as the service: the baseline and the twins.

`Trivial` is the baseline (one activity). `Twin` does nothing but what one request's lifecycle costs the
engine, counted from a real lifecycle's history (`TwinPlan`): as many updates, activities, local
activities and timers, with no business in any of them; a benchmark's figure divided by its twin's says
how much of it is the service's own.

Kept in its own importable module: the workflow sandbox refuses workflows defined in `__main__`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from pydantic import BaseModel, Field
from temporalio import activity, workflow

TASK_QUEUE = "bench-engine"
_TIMEOUT = timedelta(seconds=30)
_NEVER = timedelta(days=365)  # a timer that is started and, once the update comes, cancelled


class Ping(BaseModel):
    number: int


@activity.defn
async def echo(ping: Ping) -> Ping:
    return ping


@workflow.defn(name="BenchTrivial")
class Trivial:
    @workflow.run
    async def run(self, ping: Ping) -> Ping:
        return await workflow.execute_activity(echo, ping, start_to_close_timeout=_TIMEOUT)


class TwinPlan(BaseModel):
    """What one lifecycle's history holds, by kind (`bench.history.HistoryCounts.plan`)."""

    updates: int = Field(ge=0)
    activities: int = Field(ge=0)
    local_activities: int = Field(ge=0)
    timers: int = Field(ge=0, description="Started, then cancelled by the update they wait beside.")


@workflow.defn(name="BenchTwin")
class Twin:
    """Before each update and after the last, an even share of the activities and local activities; each
    of the first `timers` waits for an update beside a timer, as a request waits beside its deadlines."""

    def __init__(self) -> None:
        self._updates = 0

    @workflow.run
    async def run(self, plan: TwinPlan) -> int:
        stages = plan.updates + 1
        for stage in range(stages):
            ping = Ping(number=stage)
            for _ in range(_share(plan.local_activities, stage, stages)):
                await workflow.execute_local_activity(echo, ping, start_to_close_timeout=_TIMEOUT)
            for _ in range(_share(plan.activities, stage, stages)):
                await workflow.execute_activity(echo, ping, start_to_close_timeout=_TIMEOUT)
            if stage < plan.updates:
                timeout = _NEVER if stage < plan.timers else None
                await workflow.wait_condition(partial(self._updated, stage), timeout=timeout)
        return self._updates

    def _updated(self, stage: int) -> bool:
        return self._updates > stage

    @workflow.update
    async def touch(self, ping: Ping) -> int:
        """A no-op update: the twin of a person's action."""
        self._updates += 1
        return self._updates


def _share(total: int, stage: int, stages: int) -> int:
    """Stage `stage`'s part of `total` spread evenly over `stages` (the first ones take the remainder)."""
    return total // stages + (1 if stage < total % stages else 0)
