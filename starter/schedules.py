"""Temporal Schedules of the service: the review team's daily digest, the daily collection of stored files
no request refers to."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.logging import get_logger
from core.settings import Settings, policy_from_settings
from workflows.collect_documents import CollectDocumentsInput, CollectUnreferencedDocuments
from workflows.digest import DailyDigest, DailyDigestInput

log = get_logger(__name__)

DIGEST_SCHEDULE_ID = "nopic-daily-digest"
COLLECTION_SCHEDULE_ID = "nopic-collect-unreferenced-documents"
COLLECTION_HOUR = 3


def digest_schedule(settings: Settings, schedule_id: str, task_queue: str | None = None) -> Schedule:
    """Monday to Friday at `digest_hour`:00 in the certifier's time zone; a missed run is not made up."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigest.run,
            DailyDigestInput(policy=policy_from_settings(settings)),
            # Temporal appends the run's time, so each day's digest has an id of its own.
            id=schedule_id,
            task_queue=task_queue or settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(0)],
                    hour=[ScheduleRange(settings.digest_hour)],
                    day_of_week=[ScheduleRange(1, 5)],
                )
            ],
            time_zone_name=settings.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def collection_schedule(settings: Settings, schedule_id: str, task_queue: str | None = None) -> Schedule:
    """Every day at COLLECTION_HOUR:30 in the certifier's time zone, before the morning's work."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CollectUnreferencedDocuments.run,
            CollectDocumentsInput(grace=timedelta(days=settings.unreferenced_document_days)),
            id=schedule_id,
            task_queue=task_queue or settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(30)],
                    hour=[ScheduleRange(COLLECTION_HOUR)],
                )
            ],
            time_zone_name=settings.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def _ensure(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring an existing one in line with the current settings."""
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created", schedule_id=schedule_id)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
        log.info("schedule updated", schedule_id=schedule_id)


async def ensure_digest_schedule(
    client: Client,
    settings: Settings,
    *,
    schedule_id: str = DIGEST_SCHEDULE_ID,
    task_queue: str | None = None,
) -> None:
    """Create the digest schedule, or bring an existing one in line with the current settings."""
    await _ensure(client, schedule_id, digest_schedule(settings, schedule_id, task_queue))


async def ensure_collection_schedule(
    client: Client,
    settings: Settings,
    *,
    schedule_id: str = COLLECTION_SCHEDULE_ID,
    task_queue: str | None = None,
) -> None:
    """Create the schedule that collects unreferenced documents, or update it to the current settings."""
    await _ensure(client, schedule_id, collection_schedule(settings, schedule_id, task_queue))
