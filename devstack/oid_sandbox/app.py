"""The OID sandbox: a small stand-in for the USDA Organic INTEGRITY Database, with fault injection.

Two services in one: the OID gateway's contract (`/api/v1`, `activities.oid_contract`) and OID's public
operation data (`rest/Operations` of the INTEGRITY public data web service, in the shape
`activities.oid_public` reads, keyed by `api_key`), both over the same operations.

Faults apply to those two only. A 5xx fault strikes either before the call touches the state or
after the change is committed (the answer is lost, as with a dropped connection): both cases happen at
random, so clients must retry with the same idempotency key, and still end with exactly one NOPIC.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from activities import oid_public
from activities.oid_contract import (
    API_KEY_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    ApiError,
    Faults,
    Nopic,
    NopicCancel,
    NopicCreate,
    Operation,
)
from core.logging import get_logger
from core.settings import Settings
from devstack.oid_sandbox.public_data import public_items_answer, public_operations_answer
from devstack.oid_sandbox.store import SandboxError, SandboxStore
from domain.scope import CertifiedItem

log = get_logger(__name__)

DEMO_OPERATIONS = Path(__file__).with_name("operations.json")
# The certified products of the demo operations, by operation ID (what `rest/Items` answers).
DEMO_ITEMS = Path(__file__).with_name("items.json")


@dataclass
class SandboxConfig:
    state_dir: Path
    api_key: str
    operations_file: Path | None = DEMO_OPERATIONS
    faults: Faults | None = None
    seed: int | None = None
    data_key: str = "sandbox-data-key"  # the public data service's api.data.gov key
    items_file: Path | None = DEMO_ITEMS  # the operations' certified products (`rest/Items`)

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        return cls(
            state_dir=settings.home / "oid_sandbox",
            api_key=settings.oid_api_key,
            data_key=settings.oid_data_key or "sandbox-data-key",
            operations_file=settings.oid_sandbox_operations_file or DEMO_OPERATIONS,
            faults=Faults(
                error_rate=settings.oid_sandbox_error_rate,
                latency_ms=settings.oid_sandbox_latency_ms,
                timeout_rate=settings.oid_sandbox_timeout_rate,
                timeout_seconds=settings.oid_sandbox_timeout_seconds,
            ),
        )


def load_operations(path: Path) -> list[Operation]:
    return TypeAdapter(list[Operation]).validate_json(path.read_bytes())


def load_items(path: Path) -> dict[str, list[CertifiedItem]]:
    return TypeAdapter(dict[str, list[CertifiedItem]]).validate_json(path.read_bytes())


def _error(status_code: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse(ApiError(error=error, detail=detail).model_dump(), status_code=status_code)


def create_app(config: SandboxConfig) -> FastAPI:
    store = SandboxStore(config.state_dir / "oid.sqlite3")
    if config.operations_file is not None:
        for operation in load_operations(config.operations_file):
            store.put_operation(operation)
    if config.items_file is not None:
        for operation_id, items in load_items(config.items_file).items():
            store.put_items(operation_id, items)
    faults = config.faults or Faults()
    rng = random.Random(config.seed)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="OID sandbox", lifespan=lifespan)
    app.state.store = store
    app.state.faults = faults

    def require_api_key(x_api_key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None) -> None:
        if x_api_key != config.api_key:
            raise SandboxError(401, "unauthorized", f"missing or wrong {API_KEY_HEADER} header")

    @app.exception_handler(SandboxError)
    async def _sandbox_error(_: Request, exc: SandboxError) -> JSONResponse:
        return _error(exc.status_code, exc.error, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, "invalid_request", detail)

    @app.middleware("http")
    async def inject_faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith(("/api/", oid_public.SERVICE_PATH)):
            return await call_next(request)
        current: Faults = app.state.faults
        if current.latency_ms:
            await asyncio.sleep(current.latency_ms / 1000)
        if rng.random() < current.timeout_rate:
            log.info("oid_sandbox.fault", fault="timeout", path=request.url.path)
            await asyncio.sleep(current.timeout_seconds)
        if rng.random() < current.error_rate:
            if rng.random() < 0.5:
                log.info("oid_sandbox.fault", fault="5xx before change", path=request.url.path)
                return _error(503, "unavailable", "injected fault: OID is unavailable")
            await call_next(request)
            log.info("oid_sandbox.fault", fault="5xx after change", path=request.url.path)
            return _error(502, "bad_gateway", "injected fault: the answer was lost after the change")
        return await call_next(request)

    auth = [Depends(require_api_key)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/operations/{operation_id}", dependencies=auth)
    def get_operation(operation_id: str) -> Operation:
        operation = store.get_operation(operation_id)
        if operation is None:
            raise SandboxError(404, "operation_not_found", f"no operation with ID {operation_id}")
        return operation

    @app.post("/api/v1/nopics", dependencies=auth, status_code=201)
    def create_nopic(
        data: NopicCreate,
        response: Response,
        idempotency_key: Annotated[str, Header(alias=IDEMPOTENCY_KEY_HEADER, min_length=1, max_length=200)],
    ) -> Nopic:
        refused: list[str] = app.state.faults.refused_hts_codes
        if data.hts_code in refused and store.nopic_for_key(idempotency_key) is None:
            raise SandboxError(
                422, "product_not_certified", f"the exporter is not certified for HTS code {data.hts_code}"
            )
        nopic, created = store.create_nopic(idempotency_key, data)
        if not created:
            response.status_code = 200
        log.info("oid_sandbox.nopic", number=nopic.number, created=created, request_id=data.request_id)
        return nopic

    @app.get("/api/v1/nopics", dependencies=auth)
    def list_nopics(request_id: str | None = None) -> list[Nopic]:
        return store.list_nopics(request_id)

    @app.get("/api/v1/nopics/{number}", dependencies=auth)
    def get_nopic(number: str) -> Nopic:
        nopic = store.get_nopic(number)
        if nopic is None:
            raise SandboxError(404, "nopic_not_found", f"no NOPIC numbered {number}")
        return nopic

    @app.post("/api/v1/nopics/{number}/cancel", dependencies=auth)
    def cancel_nopic(number: str, body: NopicCancel) -> Nopic:
        return store.cancel_nopic(number, body.reason)

    @app.post(f"{oid_public.SERVICE_PATH}/{oid_public.OPERATIONS_PATH}")
    def public_operations(
        query: oid_public.OperationsQuery,
        accept: Annotated[str, Header()] = "application/xml",
        api_key: str | None = None,
    ) -> Response:
        expected = config.data_key
        return public_operations_answer(store, query, accept=accept, api_key=api_key, expected=expected)

    @app.post(f"{oid_public.SERVICE_PATH}/{oid_public.ITEMS_PATH}")
    def public_items(
        query: oid_public.ItemsQuery,
        accept: Annotated[str, Header()] = "application/xml",
        api_key: str | None = None,
    ) -> Response:
        return public_items_answer(store, query, accept=accept, api_key=api_key, expected=config.data_key)

    # Admin routes, for tests and demos: set up operations and switch faults while running.

    @app.put("/admin/operations/{operation_id}/items", dependencies=auth)
    def put_items(operation_id: str, items: list[CertifiedItem]) -> list[CertifiedItem]:
        """The operation's certified products, replaced: leave a product out to put it out of scope."""
        return store.put_items(operation_id, items)

    @app.put("/admin/operations/{operation_id}", dependencies=auth)
    def put_operation(operation_id: str, operation: Operation) -> Operation:
        if operation.operation_id != operation_id:
            raise SandboxError(422, "invalid_request", "operation_id in the body differs from the path")
        return store.put_operation(operation)

    @app.get("/admin/faults", dependencies=auth)
    def get_faults() -> Faults:
        current: Faults = app.state.faults
        return current

    @app.put("/admin/faults", dependencies=auth)
    def put_faults(new: Faults) -> Faults:
        app.state.faults = new
        log.info("oid_sandbox.faults", **new.model_dump())
        return new

    return app
