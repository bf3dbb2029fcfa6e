"""The daily digest: its lists from the read model, and the Temporal Schedule that sends it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import asyncpg
from temporalio.client import ScheduleCalendarSpec
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.digest import CollectDigestInput, DigestActivities, horizon_of
from activities.mail import SmtpMailer
from activities.records_pg import PgRecordsStore
from core.settings import Settings
from devstack.smtp_sink import smtp_sink
from domain.calendar import WorkingCalendar
from domain.policy import Policy
from domain.state import RequestStatus
from starter.schedules import ensure_digest_schedule
from tests.support.records import change
from workflows.digest import DailyDigest

# Thursday 2026-04-02, 08:00 in Brussels. Good Friday is no Belgian holiday, Easter Monday (04-06) is:
# two working days after Thursday end on Tuesday 04-07.
AS_OF = datetime(2026, 4, 2, 6, 0, tzinfo=UTC)


async def record(
    store: PgRecordsStore,
    request_id: str,
    status: RequestStatus,
    etd: date,
    customs_deadline: datetime,
    late: bool = False,
) -> None:
    base = change(request_id, 1, status)
    summary = base.summary.model_copy(update={"etd": etd, "customs_deadline": customs_deadline, "late": late})
    await store.record_change(base.model_copy(update={"summary": summary}))


async def test_horizon_skips_weekends_and_holidays() -> None:
    calendar = WorkingCalendar(Policy())
    assert horizon_of(calendar, date(2026, 4, 2)) == date(2026, 4, 7)
    assert horizon_of(calendar, date(2026, 4, 8)) == date(2026, 4, 10)


async def test_the_digest_lists_what_needs_attention(db_pool: asyncpg.Pool, tmp_path: Path) -> None:
    store = PgRecordsStore(db_pool)
    far = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    await record(store, "in-review", RequestStatus.IN_REVIEW, date(2026, 4, 20), far)
    await record(store, "late-one", RequestStatus.AWAITING_DOCUMENTS, date(2026, 4, 3), far, late=True)
    await record(store, "etd-tuesday", RequestStatus.RECEIVED, date(2026, 4, 7), far)
    await record(store, "etd-wednesday", RequestStatus.IN_REVIEW, date(2026, 4, 8), far)
    await record(
        store,
        "customs-soon",
        RequestStatus.AWAITING_TRANSPORT_DOCUMENT,
        date(2026, 3, 25),
        datetime(2026, 4, 7, 20, 0, tzinfo=UTC),
    )
    await record(
        store,
        "customs-passed",
        RequestStatus.AWAITING_TRANSPORT_DOCUMENT,
        date(2026, 3, 20),
        datetime(2026, 4, 1, 8, 0, tzinfo=UTC),
    )
    await record(store, "etd-passed", RequestStatus.IN_REVIEW, date(2026, 4, 1), far)
    await record(store, "refused-late", RequestStatus.REFUSED, date(2026, 4, 1), far, late=True)
    activities = DigestActivities(db_pool, SmtpMailer(Settings()))
    digest = await ActivityEnvironment().run(
        activities.collect_digest, CollectDigestInput(as_of=AS_OF, policy=Policy())
    )
    assert (digest.day, digest.horizon) == (date(2026, 4, 2), date(2026, 4, 7))
    assert [r.request_id for r in digest.awaiting_review] == [
        "etd-passed",
        "etd-tuesday",
        "etd-wednesday",
        "in-review",
    ]
    assert [r.request_id for r in digest.late] == ["late-one"]
    assert [r.request_id for r in digest.deadlines_soon] == ["late-one", "etd-tuesday", "customs-soon"]
    assert [r.request_id for r in digest.overdue] == ["customs-passed", "etd-passed"]


async def test_the_schedule_sends_the_digest_to_the_review_team(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, tmp_path: Path
) -> None:
    client = dev_server_env.client
    schedule_id = f"digest-{task_queue}"
    outbox = tmp_path / "outbox"
    await record(
        PgRecordsStore(db_pool),
        "waiting",
        RequestStatus.IN_REVIEW,
        date(2030, 1, 10),
        datetime(2030, 2, 1, tzinfo=UTC),
    )
    async with smtp_sink("127.0.0.1", 0, outbox) as port:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, digest_hour=6)
        await ensure_digest_schedule(client, settings, schedule_id=schedule_id, task_queue=task_queue)
        # Settings changed: the same call updates the schedule in place.
        settings = settings.model_copy(update={"digest_hour": 7})
        await ensure_digest_schedule(client, settings, schedule_id=schedule_id, task_queue=task_queue)
        handle = client.get_schedule_handle(schedule_id)
        spec = (await handle.describe()).schedule.spec
        assert spec.time_zone_name == "Europe/Brussels"
        calendar: ScheduleCalendarSpec = spec.calendars[0]
        assert [(r.start, r.end) for r in calendar.hour] == [(7, 7)]

        activities = DigestActivities(db_pool, SmtpMailer(settings))
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[DailyDigest],
            activities=[activities.collect_digest, activities.send_digest],
        ):
            await handle.trigger()
            deadline = asyncio.get_running_loop().time() + 30  # a workflow, two activities: well under 1 s
            while not list(outbox.glob("*.eml")):
                assert asyncio.get_running_loop().time() < deadline, "the triggered digest never arrived"
                await asyncio.sleep(0.05)
        await handle.delete()
    [eml] = list(outbox.glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "review-team@certifier.example"
    assert message["Subject"].startswith("NOPIC daily digest")
    text = message.get_body(("plain",)).get_content()
    assert "Awaiting review (1)\n- waiting" in text.replace("\r\n", "\n")


async def test_a_retried_digest_answers_from_the_ledger_instead_of_mailing_again(
    db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    async with smtp_sink("127.0.0.1", 0, outbox) as port:
        mailer = SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=port))
        activities = DigestActivities(db_pool, mailer)
        digest = await ActivityEnvironment().run(
            activities.collect_digest, CollectDigestInput(as_of=AS_OF, policy=Policy())
        )
        first = await ActivityEnvironment().run(activities.send_digest, digest)
        again = await ActivityEnvironment().run(activities.send_digest, digest)
    assert again == first
    assert len(list(outbox.glob("*.eml"))) == 1
    row = await db_pool.fetchrow("SELECT * FROM sent_messages WHERE event_id = 'digest:2026-04-02'")
    assert row["sent_at"] is not None and list(row["recipients"]) == ["review-team@certifier.example"]
