"""A local SMTP server (aiosmtpd) that keeps every message it receives as an .eml file in the outbox.

`python -m devstack.smtp_sink` serves it on NOPIC_SMTP_HOST:NOPIC_SMTP_PORT, writing to <home>/outbox;
`nopic up` starts it when NOPIC_SMTP_SINK is on. Nothing is relayed anywhere. Given `refused` addresses, it
refuses those mailboxes for good (550), as a real server does an address that does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from core.files import write_atomically
from core.logging import configure_logging, get_logger
from core.settings import get_settings

log = get_logger(__name__)


class OutboxHandler:
    """aiosmtpd handler: each accepted message becomes `<UTC time>-<sha256 prefix>.eml`."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # The envelope is not in the message itself (Bcc, for one): keep it in two leading headers.
        envelope_headers = (
            f"X-Sink-Mail-From: {envelope.mail_from}\r\nX-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        data = envelope_headers + content
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{hashlib.sha256(data).hexdigest()[:16]}.eml"
        await asyncio.to_thread(write_atomically, path, data)
        log.info("smtp_sink.stored", file=path.name, recipients=envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class RefusingHandler(OutboxHandler):
    """The sink, except that it refuses some mailboxes for good, as a server refuses one it does not have."""

    def __init__(self, outbox: Path, refused: Collection[str]) -> None:
        super().__init__(outbox)
        self.refused = frozenset(address.lower() for address in refused)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 no such mailbox here"
        # What aiosmtpd does itself when a handler has no RCPT hook.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"


@asynccontextmanager
async def smtp_sink(
    host: str, port: int, outbox: Path, refused: Collection[str] = (), **smtp_options: Any
) -> AsyncIterator[int]:
    """Serve the sink for the duration of the block; yields the port (pass 0 to let the OS pick one).

    `refused`: mailboxes the sink refuses for good. `smtp_options` go to aiosmtpd's `SMTP` (e.g.
    tls_context, require_starttls, authenticator).
    """
    handler = RefusingHandler(outbox, refused) if refused else OutboxHandler(outbox)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="nopic-smtp-sink", enable_SMTPUTF8=True, **smtp_options), host, port
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    # aiosmtpd logs every connection at INFO; readiness probes alone would flood the stack's log.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with smtp_sink(settings.smtp_host, settings.smtp_port, settings.outbox_dir) as port:
        log.info("smtp_sink.listening", host=settings.smtp_host, port=port, outbox=str(settings.outbox_dir))
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
