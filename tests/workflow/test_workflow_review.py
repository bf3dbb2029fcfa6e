"""The NOPIC request workflow on the time-skipping server: receipt and review, up to issuance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.mail_queue import MailQueueActivities, QueuedSent, SendQueued
from activities.notifications import NotificationActivities
from domain.messages import (
    Approve,
    CorrectRequestData,
    Refuse,
    RequestCorrections,
    SubmitDocuments,
    Withdraw,
)
from domain.request import DocumentKind
from domain.state import CertificateStatus, RequestStatus
from tests.support.forms import COMPLETE_DOCUMENTS, document
from tests.support.harness import EXPORTER, Service, refusal, request_form, running_service
from tests.support.temporal import time_skipping_server
from workflows import search_attributes
from workflows.nopic_request import NopicRequest

ADMITTED = UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED

WITHOUT_INVOICE = [d for d in COMPLETE_DOCUMENTS if d["kind"] is not DocumentKind.COMMERCIAL_INVOICE]


async def test_complete_request_approved_is_issued_and_active_once_the_transport_document_arrives(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    assert state.lead_working_days >= 3 and not state.late
    assert [item.item for item in state.missing()] == ["definitive_transport_document"]

    state = await service.issued(handle)
    numbers = [c.number for c in state.certificates]
    assert all(c.status is CertificateStatus.ISSUED for c in state.certificates)
    assert numbers == ["840-1234567890-000001", "840-1234567890-000002"]

    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    assert (await service.mails()).kinds() == [
        ("review_team", "new_request"),
        ("exporter", "nopic_issued"),
        ("importer", "nopic_issued"),
        ("review_team", "documents_received"),
    ]
    assert service.store.actions(state.request_id) == [
        "received",
        "documents_checked",
        "approve",
        "operations_checked",
        "nopic_issued",
        "nopic_issued",
        "nopics_issued",
        "transport_document",
        "active",
    ]
    events = [c.event for c in service.store.of(state.request_id)]
    [checked] = [e for e in events if e.action == "operations_checked"]
    assert checked.payload["detail"] == (
        "OID lists exporter 1234567890 (Organic Trade SA) Certified; importer 9876543210 (Green Imports Inc) "
        "Certified; products in scope not listed by this source (the gateway refuses one out of scope)"
    )
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(search_attributes.STATUS) == "active"
    assert attributes.get(search_attributes.LATE) is False
    await service.save_history(handle, "complete_request_approved")
    await service.save_history(handle, "complete_request_approved_operations_checked")


async def test_a_request_is_listed_from_its_start_and_upserts_only_what_changes(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    await service.active(handle)
    history = await handle.fetch_history()
    ours = {key.name for key in search_attributes.ALL}
    started = history.events[0].workflow_execution_started_event_attributes.search_attributes
    assert set(started.indexed_fields) == ours
    upserts = [
        set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    # Each patch upserts Temporal's own TemporalChangeVersion: only the service's attributes count here.
    upserted = [names & ours for names in upserts if names & ours]
    # Received: nothing new to list. Then each change of status, and nothing else (the operations, the
    # departure, the deadline and lateness have not changed since the start).
    assert upserted == [{"NopicStatus"}] * 4
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.STATUS) == "active"
    assert attributes.get(search_attributes.EXPORTER) == "1234567890"
    await service.save_history(handle, "complete_request_listed_from_its_start")


async def test_approval_is_refused_while_a_document_required_now_is_missing(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(request_form(await service.now(), documents=WITHOUT_INVOICE))
    state = await service.until_status(handle, RequestStatus.AWAITING_DOCUMENTS)
    told = await service.mailed("missing_documents", "exporter")
    assert [item.item for item in told.missing] == ["commercial_invoice"]

    reason = await refusal(handle.execute_update(NopicRequest.approve, Approve(**service.action())))
    assert reason == "approval refused: still missing commercial invoice"
    assert (await service.state(handle)).history == state.history, "a refused action changes nothing"

    invoice = document(DocumentKind.COMMERCIAL_INVOICE, "invoice-2")
    state = await handle.execute_update(
        NopicRequest.submit_documents, SubmitDocuments(**service.action(EXPORTER), documents=[invoice])
    )
    assert state.status is RequestStatus.IN_REVIEW
    state = await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    assert state.status is RequestStatus.ISSUING
    await service.save_history(handle, "approval_refused_while_document_missing")


async def test_an_action_is_answered_while_the_mail_it_causes_waits_for_the_mail_server(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await service.mails()  # the review team's mail about the new request is out
    service.mailer.answering.clear()
    asked = RequestCorrections(**service.action(), items=["net quantity of cocoa nibs"], message="750 kg?")
    state = await asyncio.wait_for(handle.execute_update(NopicRequest.request_corrections, asked), 5)
    assert state.status is RequestStatus.AWAITING_DOCUMENTS
    assert service.mailer.of_kind("corrections_requested") == []
    service.mailer.answering.set()
    [told] = (await service.mails()).of_kind("corrections_requested")
    assert told.corrections == ["net quantity of cocoa nibs"]
    await service.save_history(handle, "corrections_answered_before_their_mail_is_sent")


def leaving_a_step_short_once(sends: list[list[str]]) -> Callable[[Service], list[Callable[..., Any]]]:
    """`send_queued` as an attempt that ran short of time answers, once: the first message of the first step
    of several sent, the rest left for the next send; every send of the run noted in `sends`."""

    def stand_ins(service: Service) -> list[Callable[..., Any]]:
        real = MailQueueActivities(service.mail_queue, NotificationActivities(service.mailer))

        @activity.defn(name="send_queued")
        async def send_queued(step: SendQueued) -> QueuedSent:
            sends.append(step.event_ids)
            if len(step.event_ids) < 2 or any(len(earlier) > 1 for earlier in sends[:-1]):
                return await real.send_queued(step)
            first = await real.send_queued(SendQueued(event_ids=step.event_ids[:1]))
            return QueuedSent(sent=first.sent, given_up=first.given_up, left=step.event_ids[1:])

        return [send_queued]

    return stand_ins


async def test_messages_an_attempt_left_for_the_next_send_go_next_in_their_order_each_once(
    task_queue: str,
) -> None:
    sends: list[list[str]] = []
    async with (
        time_skipping_server() as env,
        running_service(env, task_queue, leaving_a_step_short_once(sends)) as service,
    ):
        handle = await service.start()
        await service.issued(handle)
        mailer = await service.mails()

        [to_exporter] = [n for n in mailer.of_kind("nopic_issued") if n.audience == "exporter"]
        [to_importer] = [n for n in mailer.of_kind("nopic_issued") if n.audience == "importer"]
        step = [to_exporter.event_id, to_importer.event_id]
        assert step in sends, "the exporter's and the importer's messages queued as one step"
        after = sends[sends.index(step) + 1]
        assert after[0] == to_importer.event_id, "what was left goes first in the next send"
        assert list(mailer.sent).index(to_exporter.event_id) < list(mailer.sent).index(to_importer.event_id)
        assert sum(event_ids.count(to_importer.event_id) for event_ids in sends) == 2, "left once, sent once"
        assert service.mail_queue.given_up == {}
        await service.save_history(handle, "mail_left_for_the_next_send")


async def test_corrections_round_trip_from_reviewer_to_exporter_and_back(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)

    asked = RequestCorrections(
        **service.action(), items=["net quantity of cocoa nibs"], message="The invoice says 750 kg."
    )
    state = await handle.execute_update(NopicRequest.request_corrections, asked)
    assert state.status is RequestStatus.AWAITING_DOCUMENTS
    assert state.corrections_requested == ["net quantity of cocoa nibs"]
    [told] = (await service.mails()).of_kind("corrections_requested")
    assert (told.audience, told.corrections, told.message) == (
        "exporter",
        ["net quantity of cocoa nibs"],
        "The invoice says 750 kg.",
    )
    reason = await refusal(handle.execute_update(NopicRequest.approve, Approve(**service.action())))
    assert reason == "approval refused: the corrections requested are still open"

    data = state.form.model_dump(mode="json")
    data["commodities"][1]["net_kg"] = "750"
    corrected = CorrectRequestData(**service.action(EXPORTER), form=data)
    state = await handle.execute_update(NopicRequest.correct_request_data, corrected)
    assert state.status is RequestStatus.IN_REVIEW
    assert state.corrections_requested == [] and state.corrections_message is None
    assert state.certificates[1].net_kg == Decimal("750")

    state = await service.issued(handle)
    assert [n.data.net_kg for n in service.oid.nopics.values()] == [Decimal("12000"), Decimal("750")]
    await service.save_history(handle, "corrections_round_trip")


async def test_refused_request_ends_refused_and_the_exporter_is_told_why(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)

    refused = Refuse(**service.action(), reason="the supplier's certificate was suspended")
    await handle.execute_update(NopicRequest.refuse, refused)
    state = await service.result(handle)
    assert state.status is RequestStatus.REFUSED
    assert state.outcome == "the supplier's certificate was suspended"
    [told] = (await service.mails()).of_kind("request_refused")
    assert (told.audience, told.message) == ("exporter", "the supplier's certificate was suspended")
    assert service.oid.nopics == {}
    await service.save_history(handle, "refused")


async def test_exporter_withdraws_before_issue_and_the_review_team_is_told(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)

    only_reviewers = await refusal(
        handle.execute_update(NopicRequest.approve, Approve(**service.action(EXPORTER)))
    )
    assert only_reviewers == "only a reviewer may do this; Eva Exporter is exporter"

    withdrawn = Withdraw(**service.action(EXPORTER), reason="the buyer cancelled the order")
    await handle.execute_update(NopicRequest.withdraw, withdrawn)
    state = await service.result(handle)
    assert state.status is RequestStatus.WITHDRAWN
    assert state.outcome == "the buyer cancelled the order"
    [told] = (await service.mails()).of_kind("request_withdrawn")
    assert (told.audience, told.message) == ("review_team", "the buyer cancelled the order")
    await service.save_history(handle, "withdrawn")


async def test_withdrawal_is_refused_once_the_nopics_are_issued(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.issued(handle)

    reason = await refusal(handle.execute_update(NopicRequest.withdraw, Withdraw(**service.action(EXPORTER))))
    assert reason.startswith("the request is awaiting_transport_document; this action is possible only when")


async def test_late_request_is_flagged_in_its_state_and_search_attribute_and_can_still_be_approved(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(request_form(await service.now(), etd_in_days=1))
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    assert state.late and state.lead_working_days < 3
    described = await handle.describe()
    assert described.typed_search_attributes.get(search_attributes.LATE) is True
    assert service.store.of(state.request_id)[0].summary.late is True

    state = await service.issued(handle)
    assert state.late, "a reviewer decides; the flag stays"
    await service.save_history(handle, "late_request")


async def test_a_repeated_action_id_changes_nothing(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start(request_form(await service.now(), documents=WITHOUT_INVOICE))
    await service.until_status(handle, RequestStatus.AWAITING_DOCUMENTS)

    invoice = document(DocumentKind.COMMERCIAL_INVOICE, "invoice-2")
    submitted = SubmitDocuments(**service.action(EXPORTER, "upload-1"), documents=[invoice])
    first = await handle.execute_update(NopicRequest.submit_documents, submitted)
    again = await handle.execute_update(NopicRequest.submit_documents, submitted)
    assert again.history == first.history and again.form.documents == first.form.documents

    approved = Approve(**service.action(action_id="approve-1"))
    first = await handle.execute_update(NopicRequest.approve, approved)
    await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    # The same action id again, now that approval would be refused: answered with the state, not refused.
    again = await handle.execute_update(NopicRequest.approve, approved)
    assert [e.action_id for e in again.history].count("approve-1") == 1
    # Even a different action under a used id is the repeat of that action.
    reused = Refuse(**service.action(action_id="upload-1"), reason="reusing an id")
    again = await handle.execute_update(NopicRequest.refuse, reused)
    assert again.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    assert len(service.oid.nopics) == 2
    assert len((await service.mails()).of_kind("documents_received")) == 1
    await service.save_history(handle, "repeated_action_ids")


async def until_admitted(env: WorkflowEnvironment, workflow_id: str, update_id: str) -> None:
    """Until the server holds the update: from then on the workflow's next task brings it along."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=env.client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id
        ),
        wait_policy=WaitPolicy(lifecycle_stage=ADMITTED),
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        try:
            await env.client.workflow_service.poll_workflow_execution_update(request)
            return
        except RPCError as error:  # not found: the client's request has not reached the server yet
            if error.status is not RPCStatusCode.NOT_FOUND or loop.time() > deadline:
                raise
        await asyncio.sleep(0.05)


async def test_an_action_sent_before_check_in_waits_for_it_instead_of_being_refused(task_queue: str) -> None:
    """A client (the temporal CLI, say) may approve in the instant after start: the update reaches the
    workflow in its very first task, while the request is still `received`."""
    async with time_skipping_server() as env:
        early = Service(env, task_queue)
        handle = await early.start()
        approve = Approve(**early.action())
        approval = asyncio.create_task(handle.execute_update(NopicRequest.approve, approve, id="early"))
        await until_admitted(env, handle.id, "early")  # no worker yet: it waits with the first task
        async with running_service(env, task_queue) as service:
            state = await approval
            assert state.has_action("a-1")
            state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
            assert service.store.actions(state.request_id)[:3] == ["received", "documents_checked", "approve"]
            await handle.terminate("test over")
