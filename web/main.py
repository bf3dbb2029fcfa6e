"""The app factory of the HTTP service: `create_app(settings)` builds the FastAPI app.

Its lifespan opens the process's PostgreSQL pool (`app.state.db`) and Temporal client (`app.state.temporal`),
and builds from them the request client (`app.state.requests`), the document store (`app.state.documents`)
and the sealed NOPIC PDFs (`app.state.certificate_pdfs`). The pool and the client are lazy, so the service
starts, and `/health` reports what is down, even while a dependency is away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from activities.certificate_pdfs import CertificatePdfs
from activities.documents import DocumentStore
from activities.pdf import NopicPdfs
from activities.request_list import LIST_SERVER_SETTINGS
from core.db import create_pool, resolve_database_url
from core.settings import Settings
from core.temporal import connect
from starter.client import RequestClient
from web.dashboard import install_dashboard
from web.errors import install_error_handlers
from web.headers import SecurityHeaders
from web.limits import BodyLimits
from web.metrics import install_metrics
from web.routes import actions, certificates, documents, health, requests, users
from web.throttle import SignInThrottle


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url, embedded = await resolve_database_url(settings)
        # No session state is left on a connection here (no advisory session lock, LISTEN or SET), so none is
        # reset on its way back to the pool: two round trips less for each request that signs in and lists.
        app.state.db = await create_pool(
            url, min_size=0, server_settings=LIST_SERVER_SETTINGS, reset_sessions=False
        )
        app.state.temporal = await connect(settings, lazy=True)
        app.state.requests = RequestClient(app.state.temporal, settings.temporal_task_queue, app.state.db)
        app.state.documents = DocumentStore.from_settings(settings, app.state.db)
        pdfs = NopicPdfs.from_settings(settings)
        app.state.certificate_pdfs = CertificatePdfs(app.state.db, app.state.documents, pdfs)
        try:
            yield
        finally:
            await app.state.db.close()
            if embedded is not None:
                embedded.cleanup()

    app = FastAPI(title="nopic", summary="NOP Import Certificate requests", lifespan=lifespan)
    app.state.settings = settings
    app.state.sign_in_throttle = SignInThrottle.from_settings(settings)
    install_error_handlers(app)
    app.add_middleware(BodyLimits, upload_limit=settings.max_upload_request_bytes)
    install_metrics(app)
    # Added last, so it wraps the others: a refusal by the body limits carries the headers too.
    app.add_middleware(SecurityHeaders, https=settings.cookie_secure)
    routers = (health, requests, actions, certificates, documents, users)
    for router in (module.router for module in routers):
        app.include_router(router)
    install_dashboard(app, settings)
    return app
