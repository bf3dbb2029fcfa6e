"""Custom search attributes that keep Temporal's list view useful for reviewers.

The dev server (`nopic up`, test fixtures) and the compose stack register exactly these.
"""

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("NopicStatus")
EXPORTER = SearchAttributeKey.for_keyword("ExporterOperationId")
IMPORTER = SearchAttributeKey.for_keyword("ImporterOperationId")
ETD = SearchAttributeKey.for_datetime("Etd")
CUSTOMS_DEADLINE = SearchAttributeKey.for_datetime("CustomsDeadline")
LATE = SearchAttributeKey.for_bool("Late")

ALL = (STATUS, EXPORTER, IMPORTER, ETD, CUSTOMS_DEADLINE, LATE)


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
