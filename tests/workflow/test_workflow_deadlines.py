"""The NOPIC request workflow on the time-skipping server: the customs deadline passing, moving, and what
hangs on it (nothing issued after it, a grace period after a late rejection, reminders at the local hour,
items due before departure, the cancellation reason naming what was missing)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from domain.calendar import grace_end
from domain.messages import (
    AcceptDeadlineMove,
    Approve,
    DeclineDeadlineMove,
    RecordCertificateNumber,
    RejectTransportDocument,
    SubmitDocuments,
    UpdateEta,
)
from domain.policy import IssuanceMode
from domain.request import DocumentKind, NopicRequestForm
from domain.schedule import on_reminder_day
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.forms import document
from tests.support.harness import (
    BRUSSELS,
    EXPORTER,
    PATHS,
    Service,
    at_instant,
    record_first_number,
    refusal,
    request_form,
)
from workflows.nopic_request import NopicRequest

ONE_DAY, THREE_DAYS = timedelta(days=1), timedelta(days=3)


def local(moment: datetime) -> str:
    return moment.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M %Z")


def with_shipment(form: NopicRequestForm, **shipment: Any) -> NopicRequestForm:
    data = form.model_dump(mode="json")
    data["shipment"].update({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in shipment.items()})
    return NopicRequestForm.model_validate(data)


def phytosanitary_applies(form: NopicRequestForm) -> NopicRequestForm:
    data = form.model_dump(mode="json")
    data["declarations"]["phytosanitary_certificate_applicable"] = True
    return NopicRequestForm.model_validate(data)


async def events(service: Service, state: RequestState, action: str) -> list[Any]:
    return [c.event for c in service.store.of(state.request_id) if c.event.action == action]


async def test_approval_after_the_customs_deadline_is_refused_until_the_eta_moves(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(request_form(await service.now(), etd_in_days=4, deadline_in_days=6), PATHS)
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    deadline = state.customs_deadline
    await service.sleep_until(deadline + timedelta(hours=2))

    reason = await refusal(handle.execute_update(NopicRequest.approve, Approve(**service.action())))
    assert reason == (
        f"approval refused: the customs-clearance deadline {local(deadline)} has passed, so NOPICs issued "
        "now would be cancelled at once; move the ETA / expected clearance first (update-eta)"
    )
    assert service.oid.nopics == {}, "nothing issued to be cancelled"

    new_eta = await service.now() + timedelta(days=10)
    state = await handle.execute_update(NopicRequest.update_eta, UpdateEta(**service.action(), eta=new_eta))
    assert state.customs_deadline == new_eta
    state = await service.issued(handle)
    assert all(c.status is CertificateStatus.ISSUED for c in state.certificates)
    await service.save_history(handle, "approval_refused_after_customs_deadline")


async def test_the_last_number_typed_in_after_the_customs_deadline_is_refused_until_the_eta_moves(
    workflow_service: Service,
) -> None:
    service = workflow_service
    policy = PATHS.model_copy(update={"issuance_mode": IssuanceMode.MANUAL})
    handle = await service.start(request_form(await service.now(), etd_in_days=4, deadline_in_days=6), policy)
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until_status(handle, RequestStatus.ISSUING)

    def number(index: int) -> RecordCertificateNumber:
        return RecordCertificateNumber(
            **service.action(), commodity_index=index, number=f"026-1234567890-00000{index + 1}"
        )

    record = NopicRequest.record_certificate_number
    state = await record_first_number(service, handle, "026-1234567890-000001")
    assert state.certificates[0].status is CertificateStatus.ISSUED
    await service.sleep_until(state.customs_deadline + timedelta(hours=1))

    last = await refusal(handle.execute_update(record, number(1)))
    assert last.startswith(
        f"the last NOPIC number refused: the customs-clearance deadline {local(state.customs_deadline)} "
        "has passed"
    )
    new_eta = await service.now() + timedelta(days=10)
    await handle.execute_update(NopicRequest.update_eta, UpdateEta(**service.action(), eta=new_eta))
    state = await handle.execute_update(record, number(1))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert state.customs_deadline == new_eta
    await service.save_history(handle, "last_number_refused_after_customs_deadline")


async def test_a_rejection_within_a_day_of_the_deadline_opens_a_grace_period_and_a_compliant_one_saves_it(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    await service.active(handle)
    state = await service.state(handle)
    deadline = state.customs_deadline
    await service.sleep_until(deadline - timedelta(hours=6))

    rejected = RejectTransportDocument(**service.action(), reason="the consignee is not the importer")
    state = await handle.execute_update(NopicRequest.reject_transport_document, rejected)
    rejected_at = await service.now()
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    assert state.grace_until == grace_end(PATHS, rejected_at) > deadline
    [told] = (await service.mails()).of_kind("transport_document_rejected")
    assert told.due_by == state.grace_until

    await service.sleep_until(state.grace_until - timedelta(hours=1))
    state = await service.state(handle)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT, "not cancelled at the customs deadline"
    assert service.oid.cancel_reasons == {}
    [reminder] = (await service.mails()).of_kind("transport_reminder")
    assert reminder.due_by == state.grace_until
    assert reminder.message == "the consignee is not the importer"
    [sent_at] = (await service.mails()).times_of("transport_reminder")
    last_day_at_nine = datetime.combine(
        (state.grace_until - ONE_DAY).astimezone(BRUSSELS).date(), time(9), tzinfo=BRUSSELS
    )
    assert at_instant(sent_at, last_day_at_nine), sent_at

    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document("bl-2"))
    assert state.status is RequestStatus.ACTIVE and state.grace_until is None
    assert state.transport_document_rejection is None
    await service.save_history(handle, "grace_period_then_compliant_transport_document")


async def test_a_rejection_after_the_deadline_cancels_only_when_its_grace_period_ends_naming_the_rejection(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    state = await service.active(handle)
    await service.sleep_until(state.customs_deadline + timedelta(hours=3))
    state = await service.state(handle)
    assert state.status is RequestStatus.ACTIVE

    rejected = RejectTransportDocument(**service.action(), reason="the seal numbers are missing")
    state = await handle.execute_update(NopicRequest.reject_transport_document, rejected)
    grace = state.grace_until
    assert grace is not None and grace == grace_end(PATHS, await service.now())

    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert state.outcome == (
        "a compliant definitive transport document of the first shipment (the one sent was rejected: "
        f"the seal numbers are missing) was not received by the end of the grace period ({local(grace)})"
    )
    assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
    [passed] = await events(service, state, "transport_deadline_passed")
    assert at_instant(passed.at, grace), passed.at
    await service.save_history(handle, "grace_period_ended_cancelled")


async def test_at_the_deadline_the_cancellation_names_what_was_missing_not_the_transport_document(
    workflow_service: Service,
) -> None:
    service = workflow_service
    form = phytosanitary_applies(request_form(await service.now(), etd_in_days=5, deadline_in_days=20))
    handle = await service.start(form, PATHS)
    await service.issued(handle)
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.transport_document is not None
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT, (
        "the phytosanitary certificate is missing"
    )

    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert state.outcome == (
        "phytosanitary certificate was not received before the customs-clearance deadline "
        f"({local(state.customs_deadline)})"
    )
    [told] = (await service.mails()).of_kind("transport_deadline_passed")
    assert told.message == state.outcome
    await service.save_history(handle, "deadline_passed_phytosanitary_certificate_missing")


async def test_reminders_go_out_at_nine_in_the_certifier_s_zone_on_the_day_they_are_due(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    await service.issued(handle)
    state = await service.until(handle, lambda s: s.next_reminder is not None, "the first reminder planned")
    deadline = state.customs_deadline
    three, one = (on_reminder_day(PATHS, deadline, offset) for offset in (THREE_DAYS, ONE_DAY))
    assert state.next_reminder == three
    assert three.astimezone(BRUSSELS).time() == time(9) == one.astimezone(BRUSSELS).time()
    assert three.astimezone(BRUSSELS).date() == (deadline - THREE_DAYS).astimezone(BRUSSELS).date()

    await service.sleep_until(deadline - timedelta(minutes=30))
    first, second = (await service.mails()).times_of("transport_reminder")
    assert at_instant(first, three) and at_instant(second, one), (first, second)
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    await service.save_history(handle, "reminders_at_the_local_hour")


async def test_an_item_due_before_departure_is_reminded_of_before_the_etd_and_flagged_at_departure(
    workflow_service: Service,
) -> None:
    service = workflow_service
    form = phytosanitary_applies(request_form(await service.now(), etd_in_days=6, deadline_in_days=20))
    handle = await service.start(form, PATHS)
    await service.issued(handle)
    leaving = datetime.combine(form.shipment.etd, time(0), tzinfo=BRUSSELS)

    await service.sleep_until(leaving + timedelta(hours=1))
    state = await service.state(handle)
    reminders = (await service.mails()).of_kind("departure_reminder")
    assert [(n.audience, n.reminder_offset) for n in reminders] == [
        ("exporter", THREE_DAYS),
        ("exporter", ONE_DAY),
    ]
    assert [i.item for i in reminders[0].missing] == ["phytosanitary_certificate"]
    first, second = (await service.mails()).times_of("departure_reminder")
    assert at_instant(first, on_reminder_day(PATHS, leaving, THREE_DAYS)), first
    assert at_instant(second, on_reminder_day(PATHS, leaving, ONE_DAY)), second
    assert [i.item for i in state.departed_missing] == ["phytosanitary_certificate"]
    [flagged] = await events(service, state, "departed_with_documents_missing")
    assert at_instant(flagged.at, leaving) and flagged.payload["detail"] == "phytosanitary certificate"
    assert service.store.of(state.request_id)[-1].summary.attention == ["departed_with_documents_missing"]

    certificate = document(DocumentKind.PHYTOSANITARY_CERTIFICATE, "phyto-1")
    late = SubmitDocuments(**service.action(EXPORTER), documents=[certificate])
    state = await handle.execute_update(NopicRequest.submit_documents, late)
    assert state.departed_missing == []
    assert service.store.of(state.request_id)[-1].summary.attention == []
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    await service.save_history(handle, "departure_with_phytosanitary_certificate_missing")


async def deadline_mails(service: Service) -> list[tuple[str, datetime | None, datetime]]:
    return [
        (n.kind.value, n.previous_deadline, n.customs_deadline)
        for n in (await service.mails()).sent.values()
        if n.kind.value.startswith("deadline_")
    ]


async def moved(handle: WorkflowHandle[Any, RequestState], service: Service, **fields: Any) -> RequestState:
    action = UpdateEta(**service.action(fields.pop("actor", EXPORTER)), **fields)
    return await handle.execute_update(NopicRequest.update_eta, action)


async def test_exporters_move_the_deadline_within_the_allowance_further_a_reviewer_decides_every_move_told(
    workflow_service: Service,
) -> None:
    service = workflow_service
    now = await service.now()
    form = request_form(now, etd_in_days=8, deadline_in_days=20, timeframe_days=40)
    clearance = form.shipment.eta + timedelta(days=2)
    handle = await service.start(with_shipment(form, expected_clearance=clearance), PATHS)
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    assert state.customs_deadline == clearance
    last_day_end = datetime.combine(form.timeframe.last_day + ONE_DAY, time(0), tzinfo=BRUSSELS)
    limit = last_day_end + timedelta(days=30)

    # An ETA alone keeps the expected clearance given before; the ETD moves within the timeframe.
    eta = form.shipment.eta + ONE_DAY
    state = await moved(handle, service, eta=eta, etd=form.shipment.etd + ONE_DAY)
    assert state.form.shipment.expected_clearance == clearance == state.customs_deadline
    assert state.form.shipment.etd == form.shipment.etd + ONE_DAY
    outside = await refusal(
        handle.execute_update(
            NopicRequest.update_eta,
            UpdateEta(
                **service.action(EXPORTER),
                eta=last_day_end + ONE_DAY,
                etd=form.timeframe.last_day + ONE_DAY,
                clear_expected_clearance=True,
            ),
        )
    )
    assert outside == "shipment.etd: the estimated departure lies outside the timeframe"
    # Clearing it explicitly makes the ETA the deadline.
    state = await moved(handle, service, eta=eta, clear_expected_clearance=True)
    assert state.form.shipment.expected_clearance is None and state.customs_deadline == eta
    [update] = [e for e in await events(service, state, "update_eta")][-1:]
    assert update.payload["previous_deadline"] == clearance.isoformat()
    assert update.payload["customs_deadline"] == eta.isoformat()
    assert update.payload["detail"] == f"customs deadline {clearance.isoformat()} -> {eta.isoformat()}"

    # Past the allowance, the exporter's move waits for a reviewer; the deadline stays meanwhile.
    far = limit + ONE_DAY
    state = await moved(handle, service, eta=far)
    assert state.customs_deadline == eta and state.pending_deadline_move is not None
    assert state.pending_deadline_move.customs_deadline == far
    assert service.store.of(state.request_id)[-1].summary.attention == ["deadline_move_pending"]
    state = await handle.execute_update(
        NopicRequest.accept_deadline_move, AcceptDeadlineMove(**service.action(), note="vessel delayed")
    )
    assert state.customs_deadline == far and state.pending_deadline_move is None
    [decided] = (await service.mails()).of_kind("deadline_move_decided")
    assert (decided.audience, decided.message) == ("exporter", "accepted: vessel delayed")

    farther = far + timedelta(days=10)
    state = await moved(handle, service, eta=farther)
    state = await handle.execute_update(
        NopicRequest.decline_deadline_move, DeclineDeadlineMove(**service.action(), reason="no reason given")
    )
    assert state.customs_deadline == far and state.pending_deadline_move is None
    nothing = await refusal(
        handle.execute_update(
            NopicRequest.decline_deadline_move, DeclineDeadlineMove(**service.action(), reason="x")
        )
    )
    assert nothing == "no move of the customs deadline waits for a decision"
    # A reviewer moves it as far as needed at once.
    state = await moved(handle, service, eta=farther, actor=service.action()["actor"])
    assert state.customs_deadline == farther

    assert await deadline_mails(service) == [
        ("deadline_moved", clearance, clearance),
        ("deadline_moved", clearance, eta),
        ("deadline_move_requested", eta, eta),
        ("deadline_moved", eta, far),
        ("deadline_move_decided", eta, far),
        ("deadline_move_requested", far, far),
        ("deadline_move_decided", None, far),
        ("deadline_moved", far, farther),
    ]
    # After issue, the ETD the NOPICs were issued with stays.
    state = await service.issued(handle)
    fixed = await refusal(
        handle.execute_update(
            NopicRequest.update_eta,
            UpdateEta(**service.action(EXPORTER), eta=farther, etd=state.form.shipment.etd + ONE_DAY),
        )
    )
    assert fixed == f"the NOPICs were issued with the ETD {state.form.shipment.etd}: it can no longer move"
    await service.save_history(handle, "customs_deadline_moves")
