"""Notifications delivered by `SmtpMailer` to a real SMTP server (the aiosmtpd sink), read back from .eml."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader
from temporalio.testing import ActivityEnvironment

from activities.mail import SmtpMailer
from activities.notifications import (
    Audience,
    Delivery,
    Notification,
    NotificationActivities,
    NotificationKind,
    NotificationUndeliverable,
    Sent,
)
from activities.seal import ensure_seal
from core.settings import Settings
from devstack.smtp_sink import OutboxHandler, smtp_sink
from domain.policy import IssuanceMode
from domain.state import (
    Certificate,
    CertificateStatus,
    ChecklistItem,
    ReconciliationLine,
    RequestStatus,
    Requirement,
)
from tests.support.forms import form
from tests.support.servers import free_port

ISSUED_AT = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
NUMBERS = ["026-1234567890-000101", "026-1234567890-000102"]


def certificates(cancel_reason: str | None = None) -> list[Certificate]:
    return [
        Certificate(
            commodity_index=i,
            product_name=c.product_name,
            hts_code=c.hts_code,
            organic_standard=c.organic_standard,
            net_kg=c.net_kg,
            lot_numbers=c.lot_numbers,
            number=NUMBERS[i],
            status=CertificateStatus.CANCELLED if cancel_reason else CertificateStatus.ISSUED,
            issued_at=ISSUED_AT,
            cancelled_at=ISSUED_AT + timedelta(days=9) if cancel_reason else None,
            cancel_reason=cancel_reason,
        )
        for i, c in enumerate(form().commodities)
    ]


def notification(kind: NotificationKind, audience: Audience, **details: Any) -> Notification:
    request = form()
    return Notification(
        event_id=f"mail-1:7:{audience}:{kind}",
        request_id="mail-1",
        kind=kind,
        audience=audience,
        status=RequestStatus.AWAITING_TRANSPORT_DOCUMENT,
        form=request,
        lead_working_days=5,
        late=False,
        customs_deadline=request.shipment.customs_deadline,
        **details,
    )


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[tuple[Settings, Path]]:
    outbox = tmp_path / "outbox"
    async with smtp_sink("127.0.0.1", 0, outbox) as port:
        settings = Settings(home=tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        ensure_seal(settings)
        yield settings, outbox


def delivered(outbox: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(outbox.glob("*.eml"))]  # type: ignore[misc]


async def test_the_exporter_gets_the_nopics_with_one_pdf_each(sink: tuple[Settings, Path]) -> None:
    settings, outbox = sink
    sent = await ActivityEnvironment().run(
        NotificationActivities(SmtpMailer(settings)).notify,
        notification(NotificationKind.NOPIC_ISSUED, Audience.EXPORTER, certificates=certificates()),
    )
    assert sent.recipients == ["exports@organic-trade.example"]
    [message] = delivered(outbox)
    assert message["To"] == "exports@organic-trade.example"
    assert message["Subject"] == "NOPICs issued for request mail-1"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    for number in NUMBERS:
        assert number in text
        assert f"<strong>{number}</strong>" in html
    pdfs = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert sorted(pdfs) == [f"NOPIC-{n}.pdf" for n in NUMBERS]
    first = PdfReader(io.BytesIO(pdfs[f"NOPIC-{NUMBERS[0]}.pdf"])).pages[0].extract_text()
    assert NUMBERS[0] in first
    assert "Organic roasted coffee beans" in first
    assert "Certisys" in first
    assert "Organic cocoa nibs" not in first, "each PDF holds its own NOPIC only"
    [seal] = PdfFileReader(io.BytesIO(pdfs[f"NOPIC-{NUMBERS[0]}.pdf"])).embedded_signatures
    assert seal.field_name == "CertifierSeal"


async def test_the_importer_gets_what_to_declare_in_ace(sink: tuple[Settings, Path]) -> None:
    settings, outbox = sink
    await SmtpMailer(settings).send(
        notification(NotificationKind.NOPIC_ISSUED, Audience.IMPORTER, certificates=certificates())
    )
    [message] = delivered(outbox)
    assert message["To"] == "customs@green-imports.example"
    assert list(message.iter_attachments()) == []
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    for expected in [
        "- Organic roasted coffee beans\n  NOPIC number: 026-1234567890-000101\n  HTS code: 0901210035\n"
        "  Quantity: 12000 kg\n  Lot numbers: L-2026-01",
        "- Organic cocoa nibs\n  NOPIC number: 026-1234567890-000102\n  HTS code: 1804000000\n"
        "  Quantity: 800.5 kg\n  Lot numbers: none given",
        "Declare each NOPIC number in ACE under message set OR2",
        "Draft numbers are not valid",
    ]:
        assert expected in text, expected


async def test_a_retried_notification_is_the_same_message(sink: tuple[Settings, Path]) -> None:
    settings, outbox = sink
    mailer = SmtpMailer(settings)
    same = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    await mailer.send(same)
    await mailer.send(same)
    first, second = delivered(outbox)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["To"] == "review-team@certifier.example"
    other = mailer.compose(notification(NotificationKind.NEW_REQUEST, Audience.EXPORTER))
    assert other["Message-ID"] != first["Message-ID"]


EVERY_MESSAGE = [
    (NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM, "lead time 5 working days"),
    (NotificationKind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM, "Still missing"),
    (
        NotificationKind.TRANSPORT_DEADLINE_PASSED,
        Audience.REVIEW_TEAM,
        "Every NOPIC of the request is cancelled",
    ),
    (NotificationKind.REQUEST_WITHDRAWN, Audience.REVIEW_TEAM, "Reason: plans changed"),
    (
        NotificationKind.TIMEFRAME_ENDED,
        Audience.REVIEW_TEAM,
        "certified 12000 kg, shipped 9000 kg, reported nothing",
    ),
    (NotificationKind.MISSING_DOCUMENTS, Audience.EXPORTER, "Commercial invoice (now)"),
    (NotificationKind.CORRECTIONS_REQUESTED, Audience.EXPORTER, "- lot numbers of the cocoa"),
    (NotificationKind.REQUEST_REFUSED, Audience.EXPORTER, "Reason: plans changed"),
    (NotificationKind.TRANSPORT_REMINDER, Audience.EXPORTER, "due before 2026-03-24 09:00 CET"),
    (NotificationKind.TRANSPORT_DOCUMENT_REJECTED, Audience.EXPORTER, "Reason: plans changed"),
    (NotificationKind.CANCELLATION, Audience.EXPORTER, "Reason: plans changed"),
    (NotificationKind.CANCELLATION, Audience.IMPORTER, "may no longer be declared in ACE"),
    (NotificationKind.CANCELLATION, Audience.REVIEW_TEAM, "are cancelled in OID"),
    (NotificationKind.CANCELLATION_REQUESTED, Audience.REVIEW_TEAM, "Cancel each in Global INTEGRITY"),
    (NotificationKind.OID_REFUSED, Audience.REVIEW_TEAM, "approve it again to retry"),
]


# The messages of the procedure's unhappy paths, each with what it is about.
DUE_BY = datetime(2026, 4, 2, 22, 0, tzinfo=UTC)
PREVIOUS = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
UNHAPPY_PATHS = [
    (NotificationKind.DEPARTURE_REMINDER, {}, "leaves on 2026-03-10. These documents are due before it does"),
    (NotificationKind.FIRST_SHIPMENT_QUANTITIES, {}, "the day it shipped and the net kg of each commodity"),
    (NotificationKind.QUANTITIES_REPORT_REQUESTED, {}, "expire 2026-04-03 00:00 CEST"),
    (NotificationKind.DEADLINE_MOVED, {}, "moved from 2026-03-20 09:00 CET to 2026-03-24 09:00 CET"),
    (NotificationKind.DEADLINE_MOVE_REQUESTED, {}, "from 2026-03-20 09:00 CET to 2026-04-03 00:00 CEST"),
    (NotificationKind.DEADLINE_MOVE_DECIDED, {"message": "declined: too far"}, "is declined: too far"),
    (
        NotificationKind.TRANSPORT_REMINDER,
        {},
        "The grace period for a compliant definitive transport document",
    ),
    (
        NotificationKind.TRANSPORT_REMINDER,
        {"shipped_on": date(2026, 3, 15)},
        "The transport document of the shipment of 2026-03-15 under request mail-1 was rejected",
    ),
    (NotificationKind.TRANSPORT_DOCUMENT_REJECTED, {}, "the grace period left after the customs deadline"),
]


@pytest.mark.parametrize(("kind", "details", "expected"), UNHAPPY_PATHS)
def test_every_message_of_the_unhappy_paths_renders_what_it_is_about(
    kind: NotificationKind, details: dict[str, Any], expected: str
) -> None:
    audience = (
        Audience.REVIEW_TEAM
        if kind.value.startswith(("deadline_moved", "deadline_move_req"))
        else (Audience.EXPORTER)
    )
    missing = [
        ChecklistItem(
            item="phytosanitary_certificate",
            description="phytosanitary certificate",
            required=Requirement.BEFORE_DEPARTURE,
            accepted_kinds=["phytosanitary_certificate"],
        )
    ]
    fields: dict[str, Any] = {"due_by": DUE_BY, "previous_deadline": PREVIOUS, "missing": missing}
    message = SmtpMailer(Settings()).compose(notification(kind, audience, **{**fields, **details}))
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert expected in " ".join(text.get_content().split())
    assert message["Subject"]


@pytest.mark.parametrize(("kind", "audience", "expected"), EVERY_MESSAGE)
def test_every_notification_renders_text_and_html(
    kind: NotificationKind, audience: Audience, expected: str
) -> None:
    mailer = SmtpMailer(Settings())
    message = mailer.compose(
        notification(
            kind,
            audience,
            message="plans changed",
            corrections=["lot numbers of the cocoa"],
            missing=[
                ChecklistItem(
                    item="commercial_invoice",
                    description="Commercial invoice",
                    required=Requirement.NOW,
                    accepted_kinds=["commercial_invoice"],
                )
            ],
            certificates=certificates(cancel_reason="plans changed"),
            reconciliation=[
                ReconciliationLine(
                    commodity_index=0,
                    product_name="Organic roasted coffee beans",
                    nopic_number=NUMBERS[0],
                    certified_kg=12000,
                    shipped_kg=9000,
                )
            ],
            reminder_offset=timedelta(days=1),
        )
    )
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert expected in text
    assert "Organic Trade SA" in html
    assert message["Subject"]


def pending_cancellation() -> list[Certificate]:
    return [
        c.model_copy(update={"status": CertificateStatus.CANCELLATION_PENDING, "cancelled_at": None})
        for c in certificates(cancel_reason="the customs deadline passed")
    ]


CLAIMS_OF_CANCELLATION = (
    "Every NOPIC of the request is cancelled",
    "are cancelled in OID",
    "NOPICs cancelled",
)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (IssuanceMode.MANUAL, "until staff cancel it in Global INTEGRITY and confirm it in nopic"),
        (IssuanceMode.API, "being cancelled in OID through the OID gateway"),
    ],
)
def test_no_message_says_cancelled_in_oid_before_it_is(mode: IssuanceMode, expected: str) -> None:
    mailer = SmtpMailer(Settings())

    def parts(kind: NotificationKind, pending: list[Certificate]) -> tuple[str, str, str]:
        message = mailer.compose(
            notification(kind, Audience.REVIEW_TEAM, certificates=pending, issuance_mode=mode)
        )
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content()
        return str(message["Subject"]), " ".join(text.split()), " ".join(html.split())

    for kind in (NotificationKind.TRANSPORT_DEADLINE_PASSED, NotificationKind.CANCELLATION_REQUESTED):
        for part in parts(kind, pending_cancellation()):
            assert not [claim for claim in CLAIMS_OF_CANCELLATION if claim in part], (kind, part)
    _, deadline, _ = parts(NotificationKind.TRANSPORT_DEADLINE_PASSED, pending_cancellation())
    assert expected in deadline and NUMBERS[0] in deadline
    failed = pending_cancellation()[0].model_copy(update={"oid_failure": "404 unknown NOPIC"})
    _, refused, _ = parts(NotificationKind.OID_REFUSED, [failed])
    coffee = "(Organic roasted coffee beans)"
    assert f"OID did not cancel NOPIC {NUMBERS[0]} {coffee}: 404 unknown NOPIC" in refused
    assert "It is still valid in OID" in refused


async def test_login_over_starttls(tmp_path: Path) -> None:
    """Against a server that demands STARTTLS and a login, as a real relay does."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = await asyncio.create_subprocess_exec(
        *[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await openssl.wait() == 0
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"nopic", b"s3cret")
        return AuthResult(success=ok)

    outbox = tmp_path / "outbox"
    options = {
        "tls_context": tls,
        "require_starttls": True,
        "auth_required": True,
        "authenticator": authenticator,
    }
    async with smtp_sink("127.0.0.1", 0, outbox, **options) as port:
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=True,
            smtp_username="nopic",
            smtp_password="s3cret",
            smtp_ca_file=cert,
        )
        await SmtpMailer(settings).send(notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM))
    assert len(delivered(outbox)) == 1


class RefusingHandler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 no such mailbox"


async def test_a_refused_recipient_is_final_and_an_absent_server_is_retried(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(RefusingHandler()), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mailer = SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=port))
    with pytest.raises(NotificationUndeliverable, match="550"):
        await mailer.send(notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM))
    server.close()
    await server.wait_closed()
    absent = SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2))
    with pytest.raises(Exception) as error:
        await absent.send(notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM))
    assert not isinstance(error.value, NotificationUndeliverable)


async def test_a_retry_after_a_delivered_message_does_not_send_it_again(
    sink: tuple[Settings, Path], db_pool: Any
) -> None:
    """The first attempt delivered, but its completion was lost (worker killed, server away): the retry
    answers from the ledger of sent messages."""
    settings, outbox = sink
    activities = NotificationActivities(SmtpMailer(settings), db_pool)
    message = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    first = await ActivityEnvironment().run(activities.notify, message)
    again = await ActivityEnvironment().run(activities.notify, message)
    assert again == first
    assert len(delivered(outbox)) == 1


def attempt(number: int) -> ActivityEnvironment:
    """The activity environment of the `number`th attempt of one activity."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=number)
    return env


async def ledger_row(db_pool: Any, event_id: str) -> Any:
    return await db_pool.fetchrow("SELECT * FROM sent_messages WHERE event_id = $1", event_id)


class WorkerKilled(BaseException):
    """Stands for kill -9: nothing after it runs, not even an `except Exception`."""


class KilledAfterAcceptance:
    """A mailer whose worker dies right after the server's 250 to DATA, before the ledger hears of it."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer

    async def send(self, notification: Notification, delivery: Delivery | None = None) -> Sent:
        assert delivery is not None

        class Dying:
            sending = delivery.sending
            not_sent = delivery.not_sent

            async def accepted(self, recipients: list[str]) -> None:
                raise WorkerKilled

        return await self._mailer.send(notification, Dying())


async def test_a_send_cut_off_after_acceptance_is_sent_again_as_the_same_message_and_counted(
    sink: tuple[Settings, Path], db_pool: Any
) -> None:
    """At least once: the retry cannot know the first attempt's message went, so it sends it again, the
    same message, and the ledger counts a possible repeat."""
    settings, outbox = sink
    message = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    killed = NotificationActivities(KilledAfterAcceptance(SmtpMailer(settings)), db_pool)
    with pytest.raises(WorkerKilled):
        await attempt(1).run(killed.notify, message)
    row = await ledger_row(db_pool, message.event_id)
    assert (row["sending_attempt"], row["sent_at"], row["possible_repeats"]) == (1, None, 0)

    sent = await attempt(2).run(NotificationActivities(SmtpMailer(settings), db_pool).notify, message)
    assert sent.recipients == ["review-team@certifier.example"]
    first, repeat = delivered(outbox)
    for header in ("Message-ID", "Subject", "To", "X-Sink-Rcpt-To"):
        assert first[header] == repeat[header], header
    row = await ledger_row(db_pool, message.event_id)
    assert row["sent_attempt"] == 2 and row["sent_at"] is not None and row["possible_repeats"] == 1
    assert list(row["recipients"]) == ["review-team@certifier.example"]


async def test_a_server_that_cannot_be_reached_leaves_no_mark_so_the_retry_is_a_first_send(
    sink: tuple[Settings, Path], db_pool: Any
) -> None:
    settings, outbox = sink
    message = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    absent = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2)
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await attempt(1).run(NotificationActivities(SmtpMailer(absent), db_pool).notify, message)
    row = await ledger_row(db_pool, message.event_id)
    assert (row["sending_attempt"], row["sent_at"]) == (None, None)

    await attempt(2).run(NotificationActivities(SmtpMailer(settings), db_pool).notify, message)
    assert len(delivered(outbox)) == 1
    assert (await ledger_row(db_pool, message.event_id))["possible_repeats"] == 0


async def test_a_refused_message_leaves_no_mark(db_pool: Any) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(RefusingHandler()), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    message = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    try:
        mailer = SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=port))
        activities = NotificationActivities(mailer, db_pool)
        with pytest.raises(NotificationUndeliverable):
            await attempt(1).run(activities.notify, message)
    finally:
        server.close()
        await server.wait_closed()
    row = await ledger_row(db_pool, message.event_id)
    assert (row["sending_attempt"], row["sent_at"], row["possible_repeats"]) == (None, None, 0)


class SlowToSayGoodbye(OutboxHandler):
    """Stores the message and answers 250 at once, then keeps the QUIT waiting until told."""

    def __init__(self, outbox: Path) -> None:
        super().__init__(outbox)
        self.release = asyncio.Event()

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.release.wait()
        return "221 Bye"


async def test_the_message_is_recorded_as_sent_on_the_servers_250_not_after_quit(
    tmp_path: Path, db_pool: Any
) -> None:
    handler = SlowToSayGoodbye(tmp_path / "outbox")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    settings = Settings(smtp_host="127.0.0.1", smtp_port=server.sockets[0].getsockname()[1])
    message = notification(NotificationKind.NEW_REQUEST, Audience.REVIEW_TEAM)
    try:
        notify = NotificationActivities(SmtpMailer(settings), db_pool).notify
        sending = asyncio.create_task(attempt(1).run(notify, message))
        for _ in range(200):  # up to 10 s for the 250 and the ledger's write
            row = await ledger_row(db_pool, message.event_id)
            if row is not None and row["sent_at"] is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row["sent_at"] is not None and row["sent_attempt"] == 1
        assert not sending.done(), "the session should still wait for the server's reply to QUIT"
        handler.release.set()
        await asyncio.wait_for(sending, 10)
    finally:
        handler.release.set()
        server.close()
        await server.wait_closed()
    assert len(delivered(tmp_path / "outbox")) == 1


async def test_a_replacement_tells_the_new_number_and_that_the_old_one_is_no_longer_valid(
    sink: tuple[Settings, Path],
) -> None:
    settings, outbox = sink
    old = certificates()[0]
    old = old.model_copy(update={"status": CertificateStatus.CANCELLATION_PENDING, "replaced_by": NUMBERS[1]})
    new = certificates()[0].model_copy(update={"number": NUMBERS[1], "replaces": NUMBERS[0]})
    activities = NotificationActivities(SmtpMailer(settings))
    for audience in (Audience.EXPORTER, Audience.IMPORTER):
        await ActivityEnvironment().run(
            activities.notify,
            notification(
                NotificationKind.NOPIC_REPLACED,
                audience,
                certificates=[new, old],
                message="replaced by a new NOPIC: the labels were reprinted",
            ),
        )
    to_exporter, to_importer = sorted(
        delivered(outbox), key=lambda m: m["To"] != "exports@organic-trade.example"
    )
    assert (
        to_exporter["Subject"] == f"NOPIC {NUMBERS[0]} replaced by {NUMBERS[1]}: Organic roasted coffee beans"
    )
    for message in (to_exporter, to_importer):
        text = " ".join(message.get_body(("plain",)).get_content().split())
        assert f"NOPIC {NUMBERS[0]} is no longer valid: declare {NUMBERS[1]} in ACE" in text
        assert f"NOPIC {NUMBERS[0]} is still to be cancelled in OID; you will be told once it is." in text
        assert "is cancelled in OID" not in text, "nothing is said cancelled in OID before it is"
        assert "Why: replaced by a new NOPIC: the labels were reprinted" in text
    pdfs = [part.get_filename() for part in to_exporter.iter_attachments()]
    assert pdfs == [f"NOPIC-{NUMBERS[1]}.pdf"], "the new NOPIC's PDF only"
    assert list(to_importer.iter_attachments()) == []


def test_oid_silent_on_a_nopic_is_told_as_unanswered_not_refused() -> None:
    mailer = SmtpMailer(Settings())
    silent = (
        "OID did not issue the NOPIC for Organic roasted coffee beans: OID did not answer within 60 minutes, "
        "asked since 2027-01-04 10:00 CET; approve again to ask OID once more"
    )
    [coffee, _] = certificates()
    message = mailer.compose(
        notification(
            NotificationKind.OID_REFUSED,
            Audience.REVIEW_TEAM,
            certificates=[coffee.model_copy(update={"oid_failure": silent})],
            message=silent,
        )
    )
    assert str(message["Subject"]).startswith("OID did not answer for a NOPIC of request ")
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "did not answer within 60 minutes, asked since 2027-01-04 10:00 CET" in text
    assert text.count("OID did not issue the NOPIC for") == 1, "the reason is told once, not prefixed twice"
