"""One error shape for every failure the HTTP service reports.

    {"error": {"code": "invalid_request", "message": "...", "fields": [{"field": "etd", "rule": "...", ...}]}}

`code` is stable and meant for programs; `message` is for people; `fields` names each bad input field and the
rule it broke (empty when the error is not about one field).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities.documents import DocumentMissing
from activities.seal import SealUnavailable
from core.logging import get_logger
from starter.client import ActionRefused, EngineUnavailable, RequestNotFound

log = get_logger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, dotted: `body.products.0.hts_code`.")
    rule: str = Field(description="The rule it broke, e.g. `missing`, `string_pattern_mismatch`.")
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """Raise from a route to answer with the error shape: `ApiError(409, "already_issued", "...")`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, _code_for(exc.status_code), message, headers=exc.headers)


def field_errors(errors: Sequence[Any], prefix: str = "") -> list[FieldError]:
    """Pydantic's errors, one per field, named by their dotted path (under `prefix` when given)."""
    return [_field_error(error, prefix) for error in errors]


def _field_error(error: Any, prefix: str) -> FieldError:
    if error["type"] == "json_invalid":
        # FastAPI puts the character position where the field would be: the field is the body itself.
        position = error["loc"][-1]
        reason = (error.get("ctx") or {}).get("error", "")
        message = f"is not valid JSON (at character {position}{': ' + reason if reason else ''})"
        return FieldError(field="body", rule="json_invalid", message=message)
    return FieldError(
        field=".".join(map(str, (prefix, *error["loc"]) if prefix else error["loc"])) or "body",
        rule=error["type"],
        message=str(error["msg"]).removeprefix("Value error, "),
    )


def invalid_fields(fields: list[FieldError]) -> ApiError:
    """422 whose message reads on its own: each field with the rule it broke."""
    details = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return ApiError(422, "invalid_request", f"The request has invalid fields: {details}", fields)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = invalid_fields(field_errors(exc.errors()))
    return error_response(error.status, error.code, error.message, error.fields)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


async def _action_refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ActionRefused)
    return error_response(409, "action_refused", exc.reason)


async def _request_not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "request_not_found", f"There is no request {exc}.")


async def _engine_unavailable(_: Request, exc: Exception) -> JSONResponse:
    return error_response(503, "engine_unavailable", str(exc))


async def _seal_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.error("seal unavailable", error=str(exc))
    return error_response(503, "seal_unavailable", f"The NOPIC PDF cannot be sealed now: {exc}")


# What asyncpg raises while PostgreSQL is away: no server to connect to, or it went away mid-call.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    ConnectionError,
    FileNotFoundError,  # the server's Unix socket is gone
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", error=repr(exc))
    return error_response(
        503, "database_unavailable", "The database does not answer; nothing was changed, try again shortly."
    )


async def _document_missing(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocumentMissing)
    message = f"{str(exc)[:1].upper()}{str(exc)[1:]}: the service's operator restores it from the backup."
    return error_response(410, "document_file_missing", message)


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OSError)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("disk full", error=repr(exc), path=request.url.path)
        return error_response(
            507,
            "insufficient_storage",
            "The document store's disk is full: nothing of this was kept and nothing changed. Tell the "
            "service's operator; try again once there is room.",
        )
    return await _unexpected_error(request, exc)


async def _database_full(request: Request, exc: Exception) -> JSONResponse:
    log.error("database disk full", error=repr(exc), path=request.url.path)
    return error_response(
        507,
        "insufficient_storage",
        "The database's disk is full: nothing was changed. Tell the service's operator; try again once "
        "there is room.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ActionRefused, _action_refused)
    app.add_exception_handler(RequestNotFound, _request_not_found)
    app.add_exception_handler(EngineUnavailable, _engine_unavailable)
    app.add_exception_handler(SealUnavailable, _seal_unavailable)
    app.add_exception_handler(DocumentMissing, _document_missing)
    # The more specific OSErrors of DATABASE_DOWN keep their own handler: the closest type wins.
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(asyncpg.DiskFullError, _database_full)
    for error in DATABASE_DOWN:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
