"""Replacement after issue, as TRACES NT's "copy as replacement" (time-skipping server, fake ports): a
reviewer replaces an issued NOPIC whose data must change; the old one is cancelled through the one
cancellation model, a new one issued and linked both ways; the exporter and importer are told."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle

from domain.messages import RecordCancellation, RecordCertificateNumber, ReplaceCertificate
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.harness import EXPORTER, Service, refusal
from tests.workflow.test_workflow_cancellations import BY_HAND, COFFEE, issued_by_hand
from workflows.nopic_request import NopicRequest

Handle = WorkflowHandle[Any, RequestState]
PENDING = CertificateStatus.CANCELLATION_PENDING
NEW_COFFEE = "840-1234567890-004799"


def replacement(service: Service, **fields: Any) -> ReplaceCertificate:
    data: dict[str, Any] = {"commodity_index": 0, "reason": "the labels were reprinted", **fields}
    return ReplaceCertificate(**service.action(), **data)


async def test_api_mode_replacement_cancels_the_old_nopic_in_oid_issues_a_new_one_linked_both_ways(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.active(handle)
    old = state.certificates[0].number
    assert old is not None
    first_keys = set(service.oid.keys)

    change = replacement(service, net_kg=Decimal("9000"), lot_numbers=["L-2026-01", "L-2026-02"])
    state = await handle.execute_update(NopicRequest.replace_certificate, change)
    assert state.status is RequestStatus.ACTIVE
    assert state.certificates[0].replaces == old and state.certificates[0].revision == 1
    state = await service.until(
        handle,
        lambda s: (
            s.certificates[0].status is CertificateStatus.ISSUED
            and s.superseded[0].status is CertificateStatus.CANCELLED
        ),
        "the replacement issued and the old NOPIC cancelled",
    )
    new, [replaced] = state.certificates[0], state.superseded
    assert new.number not in (None, old) and new.replaces == old
    assert replaced.number == old and replaced.replaced_by == new.number
    assert new.net_kg == Decimal("9000") and new.lot_numbers == ["L-2026-01", "L-2026-02"]
    assert state.form.commodities[0].net_kg == Decimal("9000")
    assert service.oid.cancel_reasons == {old: "replaced by a new NOPIC: the labels were reprinted"}
    [new_key] = set(service.oid.keys) - first_keys
    assert new_key.startswith(f"{state.request_id}:0:r1:"), "a fresh key, never one known with other data"
    assert service.oid.nopics[new.number].data.net_kg == Decimal("9000")

    for audience in ("exporter", "importer"):
        told = await service.mailed("nopic_replaced", audience)
        assert [c.number for c in told.certificates] == [new.number, old]
        assert told.message == "replaced by a new NOPIC: the labels were reprinted"
        cancelled = await service.mailed("cancellation", audience)
        assert [c.number for c in cancelled.certificates] == [old]
    # The gateway issues the new one and cancels the old one side by side: either may answer first.
    assert {"replace_certificate", "replacement_issued", "nopic_cancelled"} <= {
        e.action for e in state.history
    }
    await service.save_history(handle, "replaced_after_issue_through_gateway")


async def test_manual_replacement_is_a_task_the_old_nopic_stays_in_force_until_staff_confirm(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=BY_HAND)
    await issued_by_hand(service, handle)

    change = replacement(service, product_name="Organic roasted coffee beans, dark")
    state = await handle.execute_update(NopicRequest.replace_certificate, change)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    [old] = state.superseded
    assert old.number == COFFEE and old.status is PENDING and old.replaced_by is None
    assert state.certificates[0].status is CertificateStatus.PENDING
    assert state.certificates[0].replaces == COFFEE
    task = await service.mailed("cancellation_requested", "review_team")
    assert [c.number for c in task.certificates] == [COFFEE]
    assert (await service.mails()).of_kind("cancellation") == [] and service.oid.cancel_reasons == {}

    # While in force, only the replacement's number is recorded: the cocoa's is not corrected.
    cocoa = RecordCertificateNumber(**service.action(), commodity_index=1, number="840-1234567890-004800")
    assert "only a replacement's number is recorded" in await refusal(
        handle.execute_update(NopicRequest.record_certificate_number, cocoa)
    )
    record = RecordCertificateNumber(**service.action(), commodity_index=0, number=NEW_COFFEE)
    state = await handle.execute_update(NopicRequest.record_certificate_number, record)
    assert state.certificates[0].number == NEW_COFFEE
    assert state.certificates[0].status is CertificateStatus.ISSUED
    assert state.superseded[0].replaced_by == NEW_COFFEE
    assert state.superseded[0].status is PENDING, "valid in OID until staff confirm its cancellation"
    assert service.numbers.claims[NEW_COFFEE] == (state.request_id, 0)
    told = await service.mailed("nopic_replaced", "importer")
    assert [(c.number, c.status) for c in told.certificates] == [
        (NEW_COFFEE, CertificateStatus.ISSUED),
        (COFFEE, PENDING),
    ]
    assert (await service.mails()).of_kind("cancellation") == []

    confirm = RecordCancellation(**service.action(), commodity_index=0, note="cancelled in Global INTEGRITY")
    state = await handle.execute_update(NopicRequest.record_cancellation, confirm)
    assert state.superseded[0].status is CertificateStatus.CANCELLED
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    cancelled = await service.mailed("cancellation", "exporter")
    assert [c.number for c in cancelled.certificates] == [COFFEE]
    await service.save_history(handle, "replaced_after_issue_by_hand")


async def test_replacements_are_refused_naming_the_field_and_the_rule(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    early = replacement(service, net_kg=Decimal("100"))
    assert "this action is possible only when it is awaiting_transport_document, active" in await refusal(
        handle.execute_update(NopicRequest.replace_certificate, early)
    )
    state = await service.active(handle)  # the first shipment carried 2000 kg of coffee

    def refused(**fields: Any) -> Any:
        return refusal(
            handle.execute_update(NopicRequest.replace_certificate, replacement(service, **fields))
        )

    assert (await refused(net_kg=state.certificates[0].net_kg)).startswith(
        "product_name, net_kg, lot_numbers"
    )
    assert await refused(net_kg=Decimal("1500")) == (
        "net_kg: 1500 kg of Organic roasted coffee beans is less than the 2000 kg already shipped "
        "under its NOPIC"
    )
    assert (await refused(commodity_index=5, net_kg=Decimal("1"))).startswith("commodity_index: commodity 5")
    by_exporter = ReplaceCertificate(
        **service.action(EXPORTER), commodity_index=0, reason="typo", net_kg=Decimal("9000")
    )
    assert await refusal(handle.execute_update(NopicRequest.replace_certificate, by_exporter)) == (
        "only a reviewer may do this; Eva Exporter is exporter"
    )
    service.oid.hold_issue = asyncio.Event()
    await handle.execute_update(
        NopicRequest.replace_certificate, replacement(service, net_kg=Decimal("9000"))
    )
    assert "already being replaced" in await refused(net_kg=Decimal("8000"))
    service.oid.hold_issue.set()
    await service.until(
        handle, lambda s: s.certificates[0].status is CertificateStatus.ISSUED, "the replacement issued"
    )
    await service.save_history(handle, "replacement_refusals")


async def test_a_replacement_oid_refuses_shows_why_and_may_be_replaced_again(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    old = state.certificates[0].number
    service.oid.refuse_products = {"Organic coffee, mislabeled"}
    bad = replacement(service, product_name="Organic coffee, mislabeled")
    await handle.execute_update(NopicRequest.replace_certificate, bad)
    state = await service.until(handle, lambda s: s.certificates[0].oid_failure is not None, "OID refused it")
    assert "OID did not issue the NOPIC replacing" in (state.certificates[0].oid_failure or "")
    refused_mail = await service.mailed("oid_refused", "review_team")
    assert refused_mail.certificates[0].replaces == old
    good = replacement(service, product_name="Organic roasted coffee beans, dark")
    state = await handle.execute_update(NopicRequest.replace_certificate, good)
    assert state.certificates[0].replaces == old and state.certificates[0].revision == 2
    assert len(state.superseded) == 1, "the refused replacement never had a number: nothing to cancel"
    state = await service.until(
        handle,
        lambda s: s.certificates[0].status is CertificateStatus.ISSUED,
        "the second replacement issued",
    )
    assert state.superseded[0].replaced_by == state.certificates[0].number
    await service.save_history(handle, "replacement_refused_by_oid_replaced_again")
