"""The engine baseline: a trivial workflow with one activity, on the same dev server as the service.

Kept in its own importable module: the workflow sandbox refuses workflows defined in `__main__`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class Ping(BaseModel):
    number: int


@activity.defn
async def echo(ping: Ping) -> Ping:
    return ping


@workflow.defn(name="BenchTrivial")
class Trivial:
    @workflow.run
    async def run(self, ping: Ping) -> Ping:
        return await workflow.execute_activity(echo, ping, start_to_close_timeout=timedelta(seconds=30))
