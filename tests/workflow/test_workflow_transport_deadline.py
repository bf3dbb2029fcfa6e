"""The NOPIC request workflow on the time-skipping server: waiting for the definitive transport document
before the customs-clearance deadline.

Time skips only while the test waits on `env.sleep(...)` (to stop just before an instant and look) or on
`handle.result()` (to let the request run to its end); polling the `state` query never moves the clock.
"""

from __future__ import annotations

from datetime import timedelta

from domain.messages import RejectTransportDocument, UpdateEta
from domain.state import CertificateStatus, RequestStatus
from tests.support.harness import EXPORTER, Service, at_instant, refusal, request_form
from workflows.nopic_request import NopicRequest

THREE_DAYS, ONE_DAY = timedelta(days=3), timedelta(days=1)


async def test_reminders_go_to_the_exporter_3_days_and_1_day_before_the_customs_deadline(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    await service.issued(handle)
    state = await service.until(handle, lambda s: s.next_reminder is not None, "the first reminder armed")
    deadline = state.customs_deadline
    assert state.next_reminder == deadline - THREE_DAYS

    await service.sleep_until(deadline - timedelta(hours=1))
    state = await service.state(handle)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    reminders = (await service.mails()).of_kind("transport_reminder")
    assert [(n.audience, n.reminder_offset) for n in reminders] == [
        ("exporter", THREE_DAYS),
        ("exporter", ONE_DAY),
    ]
    assert [item.item for item in reminders[0].missing] == ["definitive_transport_document"]
    first, second = (await service.mails()).times_of("transport_reminder")
    assert at_instant(first, deadline - THREE_DAYS), first
    assert at_instant(second, deadline - ONE_DAY), second
    assert state.reminders_sent == [THREE_DAYS, ONE_DAY] and state.next_reminder is None

    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    assert service.oid.cancel_reasons == {}
    await service.save_history(handle, "reminders_then_transport_document")


async def test_deadline_passed_cancels_every_certificate_and_tells_everyone(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    deadline = state.customs_deadline
    numbers = [c.number for c in state.certificates]

    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert state.outcome is not None and "not received before the customs-clearance deadline" in state.outcome
    assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
    assert list(service.oid.cancel_reasons) == numbers
    assert {service.oid.nopics[n].status for n in numbers} == {"cancelled"}
    told = [(n.audience, n.kind) for n in (await service.mails()).sent.values() if n.message == state.outcome]
    # The review team at the deadline (the NOPICs then being cancelled), exporter and importer once each is.
    assert told == [
        ("review_team", "transport_deadline_passed"),
        ("exporter", "cancellation"),
        ("importer", "cancellation"),
        ("exporter", "cancellation"),
        ("importer", "cancellation"),
    ]
    [at_deadline] = (await service.mails()).of_kind("transport_deadline_passed")
    assert {c.status for c in at_deadline.certificates} == {CertificateStatus.CANCELLATION_PENDING}
    [passed] = [c.event for c in service.store.of(state.request_id) if c.event.action.endswith("passed")]
    assert at_instant(passed.at, deadline), passed.at
    await service.save_history(handle, "deadline_passed_cancelled_through_gateway")


async def test_eta_moved_later_by_signal_moves_the_deadline_and_nothing_happens_at_the_old_one(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    old_deadline = state.customs_deadline
    new_deadline = old_deadline + timedelta(days=10)

    # A signal, as the `temporal` CLI would send it: no answer, so wait until the state shows it.
    await handle.signal(NopicRequest.eta_changed, UpdateEta(**service.action(EXPORTER), eta=new_deadline))
    state = await service.until(handle, lambda s: s.customs_deadline == new_deadline, "the deadline moved")
    assert state.next_reminder == new_deadline - THREE_DAYS

    await service.sleep_until(old_deadline + timedelta(days=1))
    state = await service.state(handle)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    assert (await service.mails()).of_kind("transport_reminder") == [], "no reminder at the old instants"
    assert service.oid.cancel_reasons == {}

    await service.sleep_until(new_deadline - timedelta(hours=1))
    first, second = (await service.mails()).times_of("transport_reminder")
    assert at_instant(first, new_deadline - THREE_DAYS) and at_instant(second, new_deadline - ONE_DAY)
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    await service.save_history(handle, "eta_moved_later")


async def test_eta_moved_earlier_brings_the_reminders_and_the_deadline_forward(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(request_form(await service.now(), etd_in_days=4, deadline_in_days=20))
    state = await service.issued(handle)
    new_deadline = state.customs_deadline - timedelta(days=12)

    before_departure = UpdateEta(**service.action(EXPORTER), eta=await service.now())
    reason = await refusal(handle.execute_update(NopicRequest.update_eta, before_departure))
    assert reason == "eta: the estimated arrival is before the estimated departure (etd)"
    moved = UpdateEta(**service.action(EXPORTER), eta=new_deadline)
    state = await handle.execute_update(NopicRequest.update_eta, moved)
    assert state.customs_deadline == new_deadline

    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    first, second = (await service.mails()).times_of("transport_reminder")
    assert at_instant(first, new_deadline - THREE_DAYS) and at_instant(second, new_deadline - ONE_DAY)
    [passed] = [c.event for c in service.store.of(state.request_id) if c.event.action.endswith("passed")]
    assert at_instant(passed.at, new_deadline), passed.at
    await service.save_history(handle, "eta_moved_earlier")


async def test_transport_document_rejected_then_a_compliant_one_accepted(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    deadline = state.customs_deadline
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document("bl-1"))
    assert state.status is RequestStatus.ACTIVE

    again = service.transport_document("bl-2")
    reason = await refusal(handle.execute_update(NopicRequest.transport_document, again))
    assert reason.startswith("a definitive transport document is already accepted")

    rejected = RejectTransportDocument(**service.action(), reason="the consignee differs from the importer")
    state = await handle.execute_update(NopicRequest.reject_transport_document, rejected)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT and state.transport_document is None
    assert [item.item for item in state.missing()] == ["definitive_transport_document"]
    [told] = (await service.mails()).of_kind("transport_document_rejected")
    assert (told.audience, told.message) == ("exporter", "the consignee differs from the importer")
    state = await service.until(handle, lambda s: s.next_reminder is not None, "reminders re-armed")
    assert state.customs_deadline == deadline and state.next_reminder == deadline - THREE_DAYS

    await handle.signal(NopicRequest.transport_document_received, again)
    state = await service.until_status(handle, RequestStatus.ACTIVE)
    assert state.transport_document is not None and state.transport_document.file_id == "bl-2"
    await service.save_history(handle, "transport_document_rejected_then_accepted")
