"""Custom search attributes that keep Temporal's list view useful for reviewers.

The dev server (`nopic up`, test fixtures) and the compose stack register exactly these. A request's
workflow is started with them (`at_start`), so it is listed by them from its first moment; the workflow
then upserts only the ones that changed (`NopicRequest._index`), both from `of`.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

if TYPE_CHECKING:
    from domain.state import RequestState

STATUS = SearchAttributeKey.for_keyword("NopicStatus")
EXPORTER = SearchAttributeKey.for_keyword("ExporterOperationId")
IMPORTER = SearchAttributeKey.for_keyword("ImporterOperationId")
ETD = SearchAttributeKey.for_datetime("Etd")
CUSTOMS_DEADLINE = SearchAttributeKey.for_datetime("CustomsDeadline")
LATE = SearchAttributeKey.for_bool("Late")

ALL = (STATUS, EXPORTER, IMPORTER, ETD, CUSTOMS_DEADLINE, LATE)


def of(state: RequestState) -> list[SearchAttributePair[Any]]:
    """What the list view shows of a request: its status, operations, departure (the certifier's midnight of
    that day), customs deadline and whether it came late."""
    etd = datetime.combine(state.form.shipment.etd, time(0), tzinfo=state.policy.zone)
    return [
        SearchAttributePair(STATUS, state.status.value),
        SearchAttributePair(EXPORTER, state.form.exporter.operation_id),
        SearchAttributePair(IMPORTER, state.form.importer.operation_id),
        SearchAttributePair(ETD, etd),
        SearchAttributePair(CUSTOMS_DEADLINE, state.customs_deadline),
        SearchAttributePair(LATE, state.late),
    ]


def at_start(state: RequestState) -> TypedSearchAttributes:
    """The attributes a request's workflow starts with: those of its first state."""
    return TypedSearchAttributes(of(state))


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
