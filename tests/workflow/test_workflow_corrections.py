"""The NOPIC request workflow on the time-skipping server: corrections a reviewer resolves (answered by
email, say), and corrections that rename or remove a supplier or commodity."""

from __future__ import annotations

from domain.messages import Approve, CorrectRequestData, RequestCorrections, ResolveCorrections
from domain.request import DocumentKind, NopicRequestForm
from domain.state import RequestStatus, Requirement
from tests.support.harness import EXPORTER, Service, refusal
from workflows.nopic_request import NopicRequest


async def test_a_reviewer_resolves_corrections_answered_by_email_and_then_approves(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    nothing = await refusal(
        handle.execute_update(
            NopicRequest.resolve_corrections, ResolveCorrections(**service.action(), note="answered")
        )
    )
    assert nothing == "there are no open corrections to resolve"
    asked = RequestCorrections(**service.action(), items=["lot numbers of the cocoa"], message="Please add")
    state = await handle.execute_update(NopicRequest.request_corrections, asked)
    assert state.status is RequestStatus.AWAITING_DOCUMENTS
    still = await refusal(handle.execute_update(NopicRequest.approve, Approve(**service.action())))
    assert still == "approval refused: the corrections requested are still open"

    by_exporter = ResolveCorrections(**service.action(EXPORTER), note="I sent them by email")
    reason = await refusal(handle.execute_update(NopicRequest.resolve_corrections, by_exporter))
    assert reason == "only a reviewer may do this; Eva Exporter is exporter"
    resolved = ResolveCorrections(**service.action(), note="lot numbers received by email on Monday")
    state = await handle.execute_update(NopicRequest.resolve_corrections, resolved)
    assert state.status is RequestStatus.IN_REVIEW and state.corrections_requested == []
    entry = state.history[-2]
    assert (entry.action, entry.detail) == (
        "resolve_corrections",
        "lot numbers of the cocoa: lot numbers received by email on Monday",
    )
    await service.issued(handle)
    await service.save_history(handle, "corrections_resolved_by_a_reviewer")


async def test_a_correction_that_renames_a_supplier_is_taken_and_its_old_documents_set_aside(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    data = state.form.model_dump(mode="json")
    data["commodities"][0]["suppliers"][0]["name"] = "Finca Sol y Luna"  # was Finca Sol, whose TC is held
    data["commodities"][1]["product_name"] = "Organic cocoa nibs, roasted"
    data["documents"] = []  # as the dashboard's correction form sends it: the documents held stay
    corrected = NopicRequestForm.model_validate(data)

    state = await handle.execute_update(
        NopicRequest.correct_request_data, CorrectRequestData(**service.action(EXPORTER), form=corrected)
    )
    assert state.status is RequestStatus.AWAITING_DOCUMENTS
    assert [d.file_id for d in state.documents_set_aside] == ["tc-finca-sol"]
    assert "tc-finca-sol" not in [d.file_id for d in state.form.documents]
    [missing] = state.missing(Requirement.NOW)
    assert missing.item == "supplier_guarantee:Finca Sol y Luna" and not missing.satisfied
    recorded = [
        c.event for c in service.store.of(state.request_id) if c.event.action == "correct_request_data"
    ]
    assert [d["file_id"] for d in recorded[0].payload["documents_set_aside"]] == ["tc-finca-sol"]
    assert state.certificates[1].product_name == "Organic cocoa nibs, roasted"
    assert DocumentKind.TRANSACTION_CERTIFICATE in missing.accepted_kinds
    await service.save_history(handle, "correction_renames_a_supplier")
