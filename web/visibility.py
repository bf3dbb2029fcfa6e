"""Reading a request as a given user: an exporter never learns that another operation's request exists."""

from __future__ import annotations

import asyncpg

from activities.request_list import exporter_operation_of
from domain.state import RequestState
from starter.client import RequestClient, RequestNotFound
from web.auth import User
from web.deps import may_see, may_see_operation
from web.errors import ApiError


def not_found(request_id: str) -> ApiError:
    return ApiError(404, "request_not_found", f"There is no request {request_id!r}.")


async def visible_state(requests: RequestClient, user: User, request_id: str) -> RequestState:
    """The request's live state, or 404 when it does not exist or the user may not see it."""
    try:
        state = await requests.state(request_id)
    except RequestNotFound:
        raise not_found(request_id) from None
    if not may_see(user, state):
        raise not_found(request_id)
    return state


async def visible_operation(requests: RequestClient, pool: asyncpg.Pool, user: User, request_id: str) -> str:
    """The operation the request is for, or 404 as `visible_state` answers: for a route that needs no more
    of the request than who may see it. Read from the read model, one row by id, so no workflow query; a
    request without a row (its submission not yet listed, or unknown) from its state, as before."""
    operation_id = await exporter_operation_of(pool, request_id)
    if operation_id is None:
        return (await visible_state(requests, user, request_id)).form.exporter.operation_id
    if not may_see_operation(user, operation_id):
        raise not_found(request_id)
    return operation_id
