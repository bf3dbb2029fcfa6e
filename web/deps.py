"""Dependencies every route declares in its signature: who is calling, and what the route needs.

A caller proves who it is with an API token (`Authorization: Bearer nopic_...`) or with the dashboard's
session cookie. A cookie travels by itself with every request a browser makes, so an unsafe method that
relies on it must also carry the session's CSRF token (the `X-CSRF-Token` header here, a hidden form field
in the dashboard). Missing or bad credentials answer 401; the wrong role answers 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from activities.certificate_pdfs import CertificatePdfs
from activities.documents import DocumentStore
from core.settings import Settings
from domain.state import RequestState
from starter.client import RequestClient
from web import auth
from web.auth import User, UserRole
from web.throttle import SignInThrottle

SESSION_COOKIE = "nopic_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token, as `nopic users create` (or the first `nopic up`) prints it once.",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The dashboard's session; unsafe methods also need the session's `X-CSRF-Token` header.",
)


# The dependencies below are `async def` though none awaits: FastAPI runs a plain `def` dependency on a
# worker thread, a hand-off to another thread and back for each one of every request (measured: the
# threads' wake-ups were a share of the request list's time on a busy machine).


async def now() -> datetime:
    return datetime.now(UTC)


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def db(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.db
    return pool


async def request_client(request: Request) -> RequestClient:
    client: RequestClient = request.app.state.requests
    return client


async def document_store(request: Request) -> DocumentStore:
    store: DocumentStore = request.app.state.documents
    return store


async def certificate_pdfs(request: Request) -> CertificatePdfs:
    pdfs: CertificatePdfs = request.app.state.certificate_pdfs
    return pdfs


Now = Annotated[datetime, Depends(now)]
Db = Annotated[asyncpg.Pool, Depends(db)]
AppSettings = Annotated[Settings, Depends(settings)]
Requests = Annotated[RequestClient, Depends(request_client)]
Documents = Annotated[DocumentStore, Depends(document_store)]
Pdfs = Annotated[CertificatePdfs, Depends(certificate_pdfs)]


def unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def session_from_cookie(pool: asyncpg.Pool, value: str | None, at: datetime) -> auth.Session | None:
    return await auth.session_for(pool, value, at) if value else None


async def current_user(
    request: Request,
    pool: Db,
    at: Now,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_id: Annotated[str | None, Depends(session_scheme)],
) -> User:
    if token is not None:
        try:
            user = await auth.user_for_token(pool, token.credentials, at)
        except auth.TokenExpired as exc:
            raise unauthenticated(str(exc)) from exc
        if user is None:
            raise unauthenticated("The API token is unknown or revoked.")
        return user
    session = await session_from_cookie(pool, session_id, at)
    if session is None:
        raise unauthenticated("Sign in: send an API token as `Authorization: Bearer <token>`.")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not auth.same_secret(sent, session.csrf_token):
            raise HTTPException(
                403, f"A session-authenticated {request.method} needs the {CSRF_HEADER} header."
            )
    return session.user


def require(*roles: UserRole) -> Callable[..., Awaitable[User]]:
    """A dependency that lets through only users with one of `roles` (403 for the others)."""
    names = " or ".join(role.value for role in roles)

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise HTTPException(403, f"Only a {names} may do this; you are signed in as a {user.role.value}.")
        return user

    return dependency


# Who may call a route, as it reads in the route's signature.
Exporter = Annotated[User, Depends(require(UserRole.EXPORTER))]
Reviewer = Annotated[User, Depends(require(UserRole.REVIEWER))]
Admin = Annotated[User, Depends(require(UserRole.ADMIN))]
ExporterOrReviewer = Annotated[User, Depends(require(UserRole.EXPORTER, UserRole.REVIEWER))]
AnyUser = Annotated[User, Depends(current_user)]


def may_see_operation(user: User, operation_id: str) -> bool:
    """Who sees a request for `operation_id`: reviewers every one; an exporter only its own operation's.
    The one statement of the rule, whether the operation comes from the live state or the read model."""
    if user.role is UserRole.REVIEWER:
        return True
    return user.role is UserRole.EXPORTER and operation_id == user.operation_id


def may_see(user: User, state: RequestState) -> bool:
    return may_see_operation(user, state.form.exporter.operation_id)


def session_lifetime(config: Settings) -> timedelta:
    return timedelta(hours=config.session_hours)


async def sign_in_throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle


async def client_address(request: Request) -> str:
    """Who is calling, as far as this process can tell (behind a proxy: see the README)."""
    return request.client.host if request.client else "unknown"


Throttle = Annotated[SignInThrottle, Depends(sign_in_throttle)]
ClientAddress = Annotated[str, Depends(client_address)]
