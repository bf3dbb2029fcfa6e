"""The action list: every action message once, each with its own update name and slug."""

from __future__ import annotations

import inspect

from domain import messages
from domain.actions import ACTIONS, BY_MESSAGE, spec_of
from domain.state import FINAL_STATUSES, Actor, RequestStatus, Role


def test_every_action_message_is_listed_once() -> None:
    models = {
        model
        for _, model in inspect.getmembers(messages, inspect.isclass)
        if issubclass(model, messages.Action) and model is not messages.Action
    }
    assert sorted(m.__name__ for m in BY_MESSAGE) == sorted(m.__name__ for m in models)
    assert len(BY_MESSAGE) == len(ACTIONS)


def test_update_names_signal_names_and_slugs_are_each_unique() -> None:
    for names in (
        [spec.update for spec in ACTIONS],
        [spec.signal for spec in ACTIONS if spec.signal],
        [spec.slug for spec in ACTIONS],
    ):
        assert len(set(names)) == len(names)


def test_the_api_slugs_and_the_two_actions_with_routes_of_their_own() -> None:
    assert [spec.slug for spec in ACTIONS if not spec.own_route] == [
        "approve",
        "request-corrections",
        "refuse",
        "withdraw",
        "record-certificate",
        "transport-document",
        "reject-transport-document",
        "update-eta",
        "record-shipment",
        "cancel-certificates",
        "confirm-operations",
        "return-to-review",
        "record-cancellation",
        "retry-cancellation",
        "resolve-corrections",
        "accept-eta-move",
        "decline-eta-move",
        "report-quantities",
        "replace-certificate",
    ]
    assert [spec.slug for spec in ACTIONS if spec.own_route] == ["correct-request-data", "submit-documents"]


def test_only_people_act_and_never_on_an_ended_or_unchecked_request() -> None:
    for spec in ACTIONS:
        assert spec.roles and spec.roles <= {Role.EXPORTER, Role.REVIEWER}, spec.slug
        assert spec.statuses and not spec.statuses & (FINAL_STATUSES | {RequestStatus.RECEIVED}), spec.slug
        assert spec.summary, spec.slug


def test_an_action_finds_its_entry_by_its_message() -> None:
    reviewer = Actor(person_id="u-reviewer", name="Rik Reviewer", role=Role.REVIEWER)
    approve = messages.Approve(action_id="a-1", actor=reviewer, at="2026-03-02T09:00:00+00:00")
    assert spec_of(approve).update == "approve"
