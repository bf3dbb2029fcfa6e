"""Every saved history of the NOPIC request workflow replays with today's workflow code.

The histories are runs of the workflow tests (`tests/workflow/`), saved by
`NOPIC_SAVE_HISTORIES=1 .venv/bin/pytest tests/workflow`. A change to the workflow that would
take another path through one of them fails here with a non-determinism error, before any worker runs it
against requests under way.
"""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain.rules import Change
from tests.support.dirs import HISTORIES
from workflows.nopic_request import NopicRequest, patches

# One per path of the procedure; a history missing from the folder fails the suite, it is never skipped.
EXPECTED = {
    "complete_request_approved",
    "approval_refused_while_document_missing",
    "corrections_round_trip",
    "refused",
    "withdrawn",
    "late_request",
    "repeated_action_ids",
    "manual_issuance",
    "issuance_stopped_uncertified_importer",
    "continued_as_new",
    "reminders_then_transport_document",
    "deadline_passed_cancelled",
    "eta_moved_later",
    "eta_moved_earlier",
    "transport_document_rejected_then_accepted",
    "shipments",
    "expired_with_reconciliation",
    "cancelled_by_reviewer",
    # Issuing and cancelling in OID as certifiers do (the `oid-*` patches).
    "complete_request_approved_operations_checked",
    "operations_confirmed_by_reviewer",
    "operations_check_unavailable_then_confirmed",
    "operations_check_not_listed",
    "number_held_by_another_request",
    "number_corrected_while_issuing",
    "returned_to_review_while_issuing",
    "refused_while_issuing_number_cancelled_by_hand",
    "cancelled_by_reviewer_manual",
    "cancelled_by_reviewer_through_gateway",
    "deadline_passed_manual_cancellation",
    "deadline_passed_cancelled_through_gateway",
    "partial_issue_corrected_keeps_unchanged_nopic",
    "correction_cancels_changed_nopic_in_oid",
    "refused_after_partial_issue_cancelled_in_oid",
    "nopic_issued_after_refusal_cancelled",
    "deadline_cancel_refused_by_oid_retried_and_confirmed",
    "expired_with_a_cancellation_to_confirm",
    "approval_refused_after_customs_deadline",
    "last_number_refused_after_customs_deadline",
    "grace_period_then_compliant_transport_document",
    "grace_period_ended_cancelled",
    "deadline_passed_phytosanitary_certificate_missing",
    "reminders_at_the_local_hour",
    "departure_with_phytosanitary_certificate_missing",
    "customs_deadline_moves",
    "first_shipment_counted",
    "further_shipment_rejected_then_replaced",
    "further_shipment_document_never_replaced",
    "transport_document_before_issue_kept",
    "transport_document_with_the_form_accepted_at_issue",
    "one_day_timeframe_expires_at_the_customs_deadline",
    "quantities_reported_before_expiry",
    "corrections_resolved_by_a_reviewer",
    "correction_renames_a_supplier",
    "cancellation_with_an_empty_list_refused",
    # replacement after issue (`replace-certificate`)
    "replaced_after_issue_through_gateway",
    "replaced_after_issue_by_hand",
    "replacement_refusals",
    "replacement_refused_by_oid_replaced_again",
    "operations_check_products_in_scope",
    "product_out_of_scope_stops_issuance",
    "scope_check_unavailable_then_confirmed",
    "issuance_unanswered_then_approved_again",
    # every state change recorded by a local activity (`perf-records-local-activity`)
    "complete_request_approved_recorded_in_the_worker",
    "shipments_recorded_in_the_worker",
    "manual_issuance_recorded_in_the_worker",
    "corrections_round_trip_recorded_in_the_worker",
    "continued_as_new_recorded_in_the_worker",
    "cancelled_by_reviewer_manual_recorded_in_the_worker",
    "reminders_then_transport_document_recorded_in_the_worker",
    "refused_recorded_in_the_worker",
    "deadline_passed_cancelled_through_gateway_recorded_in_the_worker",
    "replaced_after_issue_by_hand_recorded_in_the_worker",
    # started with its search attributes, then only the changed ones upserted
    "complete_request_listed_from_its_start",
    # each change's messages queued in the worker and sent after it (`perf-mail-queue`)
    "complete_request_approved_mail_queued",
    "corrections_round_trip_mail_queued",
    "refused_mail_queued",
    "deadline_passed_cancelled_through_gateway_mail_queued",
    "continued_as_new_mail_queued",
    "shipments_mail_queued",
    "manual_issuance_mail_queued",
    "cancelled_by_reviewer_manual_mail_queued",
    "reminders_then_transport_document_mail_queued",
    "expired_with_reconciliation_mail_queued",
    "corrections_answered_before_their_mail_is_sent",
    "mail_left_for_the_next_send",
    # both operations and the exporter's products asked of OID at once (`perf-operations-looked-up-together`)
    "operations_looked_up_together",
    "operations_check_not_listed_looked_up_together",
    "operations_check_unavailable_then_confirmed_looked_up_together",
    "product_out_of_scope_stops_issuance_looked_up_together",
    "scope_check_unavailable_then_confirmed_looked_up_together",
    # a record retried past its workflow task's heartbeat, right before issuance asks its patch
    "operations_checked_record_retried_in_a_later_task",
}
SAVED = {path.stem for path in HISTORIES.glob("*.json")}


def test_a_new_run_asks_every_patch_as_it_starts() -> None:
    """A patch added without joining `every_patch` would be asked wherever the code reaches it again."""
    named = {value for name, value in vars(patches).items() if name.isupper() and isinstance(value, str)}
    rule_changes = {patches.rule_change(change) for change in Change}
    assert sorted(patches.every_patch()) == sorted((named | rule_changes) - {patches.ASKED_AT_START})


def test_every_path_has_a_saved_history() -> None:
    assert sorted(EXPECTED - SAVED) == []


@pytest.mark.parametrize("name", sorted(EXPECTED | SAVED))
async def test_saved_history_replays_without_non_determinism(name: str) -> None:
    history = WorkflowHistory.from_json(f"nopic-request-{name}", (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(workflows=[NopicRequest], data_converter=pydantic_data_converter)
    # Raises on any non-determinism, or on a workflow task that fails during replay.
    await replayer.replay_workflow(history)


def scheduled_and_local(name: str) -> tuple[list[str], list[str]]:
    """The activity types a saved history scheduled, and those it ran as local activities."""
    events = json.loads((HISTORIES / f"{name}.json").read_text())["events"]
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    ]
    local = [
        json.loads(
            base64.b64decode(e["markerRecordedEventAttributes"]["details"]["data"]["payloads"][0]["data"])
        )["activity_type"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e["markerRecordedEventAttributes"]["markerName"] == "core_local_activity"
    ]
    return scheduled, local


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith("_recorded_in_the_worker")))
def test_the_histories_recorded_in_the_worker_take_the_local_activity_path(name: str) -> None:
    """What these histories stand for: every change recorded by a local activity, none scheduled."""
    scheduled, local = scheduled_and_local(name)
    assert "record_change" not in scheduled
    assert local.count("record_change") >= 2


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith("_mail_queued")))
def test_the_histories_with_mail_queued_send_it_after_each_step(name: str) -> None:
    """What these histories stand for: every message queued in the worker, sent by a step's activity."""
    scheduled, local = scheduled_and_local(name)
    assert "notify" not in scheduled
    assert local.count("queue_notification") >= scheduled.count("send_queued") >= 1
