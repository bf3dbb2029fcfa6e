"""`HttpOidGateway`: the OID port over HTTP (httpx), against OID's endpoint or the local sandbox.

The wire contract is `activities.oid_contract`. Answers retrying cannot change (unknown operation, importer
not certified, unknown NOPIC, bad request) become the contract's non-retryable `OidError`s; a 5xx, a 429,
a timeout or a dropped connection becomes `OidUnavailable`, which Temporal retries under the workflow's
retry policy; creation is keyed by the idempotency key, so a retry never makes a second NOPIC.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from activities import oid_contract as wire
from activities.oid import Nopic as ContractNopic
from activities.oid import (
    NopicData,
    NopicNotFound,
    NopicRejected,
    NopicStatus,
    OidError,
    Operation,
    OperationNotFound,
)
from core.settings import Settings
from domain.scope import CertifiedItem

_Body = TypeVar("_Body", bound=BaseModel)


class OidUnavailable(ApplicationError):
    """OID did not answer usefully this time (5xx, 429, timeout, connection); worth retrying."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="OidUnavailable", non_retryable=False)


class HttpOidGateway:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpOidGateway:
        return cls(
            httpx.AsyncClient(
                base_url=settings.oid_url,
                headers={wire.API_KEY_HEADER: settings.oid_api_key},
                timeout=settings.oid_timeout_seconds,
            )
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def lookup_operation(self, operation_id: str) -> Operation:
        response = await self._call("GET", f"/api/v1/operations/{operation_id}")
        if response.status_code == 404:
            raise OperationNotFound(f"OID lists no operation with NOP operation ID {operation_id}")
        found = self._parse(response, wire.Operation)
        return Operation(
            operation_id=found.operation_id,
            name=found.name,
            status=found.status,
            certifier=found.certifier,
            status_date=found.status_date,
        )

    async def certified_items(self, operation_id: str) -> list[CertifiedItem] | None:
        """The gateway's contract lists no certified items: it refuses a NOPIC for a product outside the
        exporter's scope when asked to create it, so with the gateway as source the scope is left to that."""
        return None

    async def create_nopic(self, idempotency_key: str, data: NopicData) -> ContractNopic:
        # The contract names every field as `NopicData` does; it takes them as plain JSON values.
        body = wire.NopicCreate.model_validate(data.model_dump(mode="json"))
        response = await self._call(
            "POST",
            "/api/v1/nopics",
            content=body.model_dump_json(),
            headers={"Content-Type": "application/json", wire.IDEMPOTENCY_KEY_HEADER: idempotency_key},
        )
        if response.status_code in (409, 422):
            raise NopicRejected(f"OID refused the NOPIC for {idempotency_key}: {_detail(response)}")
        return _to_contract(self._parse(response, wire.Nopic))

    async def cancel_nopic(self, number: str, reason: str) -> ContractNopic:
        response = await self._call(
            "POST", f"/api/v1/nopics/{number}/cancel", json=wire.NopicCancel(reason=reason).model_dump()
        )
        if response.status_code == 404:
            raise NopicNotFound(f"OID holds no NOPIC numbered {number}")
        return _to_contract(self._parse(response, wire.Nopic))

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            message = f"OID did not answer {method} {path} in time ({type(error).__name__})"
            raise OidUnavailable(message) from error
        except httpx.TransportError as error:
            raise OidUnavailable(f"OID could not be reached for {method} {path}: {error!r}") from error
        if response.status_code >= 500 or response.status_code == 429:
            message = f"OID answered {response.status_code} to {method} {path}: {_detail(response)}"
            raise OidUnavailable(message)
        return response

    @staticmethod
    def _parse(response: httpx.Response, model: type[_Body]) -> _Body:
        if response.status_code not in (200, 201):
            raise OidError(
                f"OID refused {response.request.method} {response.request.url.path}: "
                f"{response.status_code} {_detail(response)}"
            )
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise OidUnavailable(f"OID answered a body that is not a {model.__name__}: {error}") from error


def _detail(response: httpx.Response) -> str:
    try:
        error = wire.ApiError.model_validate_json(response.content)
    except ValidationError:
        return response.text[:200] or response.reason_phrase
    return f"{error.error}: {error.detail}"


def _to_contract(nopic: wire.Nopic) -> ContractNopic:
    return ContractNopic(
        number=nopic.number,
        status=NopicStatus(nopic.status),
        issued_at=nopic.issued_at,
        cancelled_at=nopic.cancelled_at,
        data=NopicData.model_validate(nopic.model_dump(include=set(NopicData.model_fields))),
    )
