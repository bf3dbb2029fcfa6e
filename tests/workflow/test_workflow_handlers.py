"""The workflow's handlers and the action list (`domain.actions`) name the same actions and messages.

The list is what the API, the dashboard and the CLI will build on: an update the workflow has but the list
lacks could not be reached, and a listed one the workflow lacks would fail on every call.
"""

from __future__ import annotations

from temporalio import workflow

from domain.actions import ACTIONS
from domain.state import RequestState
from workflows.nopic_request import NopicRequest

DEFINITION = workflow._Definition.must_from_class(NopicRequest)


def test_the_workflow_type_is_nopic_request() -> None:
    assert DEFINITION.name == "NopicRequest"


def test_every_listed_update_is_a_handler_and_every_update_handler_is_listed() -> None:
    assert sorted(DEFINITION.updates) == sorted(spec.update for spec in ACTIONS)


def test_every_listed_signal_is_a_handler_and_every_signal_handler_is_listed() -> None:
    listed = sorted(spec.signal for spec in ACTIONS if spec.signal is not None)
    assert sorted(DEFINITION.signals) == listed == ["eta_changed", "transport_document_received"]


def test_each_handler_takes_the_message_of_its_action() -> None:
    for spec in ACTIONS:
        assert DEFINITION.updates[spec.update].arg_types == [spec.message], spec.update
        if spec.signal is not None:
            assert DEFINITION.signals[spec.signal].arg_types == [spec.message], spec.signal


def test_every_update_answers_with_the_state_and_refuses_in_its_validator_first() -> None:
    for spec in ACTIONS:
        update = DEFINITION.updates[spec.update]
        assert update.ret_type is RequestState, spec.update
        assert update.validator is not None, spec.update


def test_the_one_query_is_the_whole_state() -> None:
    assert sorted(DEFINITION.queries) == ["state"]
    assert DEFINITION.queries["state"].ret_type is RequestState
