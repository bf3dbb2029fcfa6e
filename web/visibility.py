"""Reading a request as a given user: an exporter never learns that another operation's request exists."""

from __future__ import annotations

from domain.state import RequestState
from starter.client import RequestClient, RequestNotFound
from web.auth import User
from web.deps import may_see
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
