"""`python -m bench.engine_worker`: the engine's own workflows' worker, a process of its own like the
service's."""

from __future__ import annotations

import asyncio
import signal

from temporalio.worker import Worker

from bench.engine import TASK_QUEUE, Trivial, Twin, echo
from core.settings import Settings
from core.temporal import connect


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = await connect(Settings())
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[Trivial, Twin], activities=[echo]):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
