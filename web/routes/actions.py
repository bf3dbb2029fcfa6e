"""`/requests/{id}/actions/{action}`: one route per action a person takes on a request.

Each body is the action's message without who and when: the server fills in the signed-in user and the time.
`action_id` is optional; a client that may retry sends its own, and a repeated id changes nothing.
The workflow decides whether the action is allowed now: its refusal comes back as 409 with its reason.
"""

# No `from __future__ import annotations`: the routes are built in a loop, and FastAPI reads each body's
# class from the route function's annotations, which must therefore be real objects, not strings.

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import uuid4

import asyncpg
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from activities.documents import DocumentStore
from domain import messages
from domain.actions import ACTIONS, BY_MESSAGE, ActionSpec
from domain.request import NopicRequestForm
from domain.state import RequestState
from starter.client import ActionRefused, RequestClient
from web.action_checks import check_action, check_references
from web.auth import User, UserRole
from web.deps import Db, Documents, ExporterOrReviewer, Now, Requests, require
from web.errors import ApiError, ErrorResponse, FieldError
from web.metrics import count_action
from web.routes.certificates import refuse_a_number_held_elsewhere
from web.routes.requests import RequestIdPath, RequestSubmission, invalid
from web.text import refuse_control_characters
from web.visibility import visible_operation, visible_state

router = APIRouter(tags=["actions"])


def user_roles(spec: ActionSpec) -> tuple[UserRole, ...]:
    """The users who may take the action, in the list's words (`domain.actions`)."""
    return tuple(UserRole(role.value) for role in sorted(spec.roles))


_PERSON_FIELDS = {"action_id", "actor", "at"}


def body_model(message: type[messages.Action]) -> type[BaseModel]:
    """The action's HTTP body: its message's own fields, plus an optional `action_id`."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in message.model_fields.items()
        if name not in _PERSON_FIELDS
    }
    body: type[BaseModel] = create_model(
        f"{message.__name__}Body",
        __config__=ConfigDict(extra="forbid"),
        __doc__=message.__doc__,
        action_id=(
            messages.ActionId | None,
            Field(default=None, description="Your id for this action; repeating it changes nothing."),
        ),
        **fields,
    )
    return body


# Actions the API checks against the request before the workflow judges them (`web.action_checks`).
_CHECKED = (messages.SubmitTransportDocument, messages.RecordShipment, messages.CancelCertificates)


async def take_action(
    requests: RequestClient,
    pool: asyncpg.Pool,
    user: User,
    request_id: str,
    spec: ActionSpec,
    body: BaseModel,
    at: datetime,
    store: DocumentStore,
) -> RequestState:
    """Check who may see the request, build the message, check what it names, deliver it; count it."""
    refuse_control_characters(body.model_dump(mode="json"))
    state = None
    if issubclass(spec.message, _CHECKED):
        state = await visible_state(requests, user, request_id)  # its checks read the request (a query)
    elif user.role is not UserRole.REVIEWER:
        # Only who may see the request: its read-model row says, without a workflow query. Reviewers see
        # every request, and the update itself answers 404 for an unknown one.
        await visible_operation(requests, pool, user, request_id)
    data = body.model_dump(exclude={"action_id"})
    if spec.message is messages.UpdateEta and "expected_clearance" in body.model_fields_set:
        # Named, and null: the body clears the expected clearance explicitly (left out, it stays).
        cleared = data["expected_clearance"] is None
        data["clear_expected_clearance"] = data["clear_expected_clearance"] or cleared
    action_id = getattr(body, "action_id", None) or f"{spec.slug}-{uuid4().hex}"
    try:
        action = spec.message.model_validate({**data, "action_id": action_id, "actor": user.actor, "at": at})
    except ValidationError as exc:
        count_action(spec.slug, "invalid")
        raise invalid(exc) from exc
    if state is not None:
        try:
            await check_action(store, user, state, action)
        except ApiError:
            count_action(spec.slug, "invalid")
            raise
    try:
        await refuse_a_number_held_elsewhere(pool, request_id, action)
    except ActionRefused:
        count_action(spec.slug, "refused")
        raise
    return await deliver(requests, request_id, spec.slug, action)


async def deliver(
    requests: RequestClient, request_id: str, name: str, action: messages.Action
) -> RequestState:
    """Hand the action to the workflow and count how it went."""
    try:
        state = await requests.act(request_id, action)
    except ActionRefused:
        count_action(name, "refused")
        raise
    except Exception:
        count_action(name, "failed")
        raise
    count_action(name, "accepted")
    return state


def _route(spec: ActionSpec, body_type: type[BaseModel]) -> Callable[..., Awaitable[RequestState]]:
    async def route(
        request_id: RequestIdPath,
        body: body_type,  # type: ignore[valid-type]
        user: Annotated[User, Depends(require(*user_roles(spec)))],
        requests: Requests,
        pool: Db,
        store: Documents,
        at: Now,
    ) -> RequestState:
        return await take_action(requests, pool, user, request_id, spec, body, at, store)

    route.__name__ = spec.slug.replace("-", "_")
    return route


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No valid API token or session."},
    403: {"model": ErrorResponse, "description": "Signed in, but this role may not take this action."},
    404: {"model": ErrorResponse, "description": "No such request, or not one of yours."},
    409: {"model": ErrorResponse, "description": "The workflow refused the action; the message says why."},
    422: {"model": ErrorResponse, "description": "The body is malformed; each bad field is named."},
    503: {"model": ErrorResponse, "description": "The workflow engine does not answer; nothing changed."},
}

for _spec in ACTIONS:
    if _spec.own_route:
        continue
    roles = " or ".join(role.value for role in user_roles(_spec))
    router.add_api_route(
        f"/requests/{{request_id}}/actions/{_spec.slug}",
        _route(_spec, body_model(_spec.message)),
        methods=["POST"],
        response_model=RequestState,
        summary=_spec.summary,
        description=f"Who may: {roles}. The answer is the request's new state.",
        responses=_RESPONSES,
    )


class CorrectedData(BaseModel):
    """The whole request form as it should read now; the time of receipt stays the original."""

    model_config = ConfigDict(extra="forbid")

    action_id: messages.ActionId | None = Field(
        default=None, description="Your id for this action; repeating it changes nothing."
    )
    form: RequestSubmission


CORRECT = BY_MESSAGE[messages.CorrectRequestData]


@router.post(
    f"/requests/{{request_id}}/actions/{CORRECT.slug}",
    response_model=RequestState,
    summary=CORRECT.summary,
    description=f"Who may: {' or '.join(r.value for r in user_roles(CORRECT))}. Documents already held are "
    "kept; new references are added. The answer is the request's new state.",
    responses=_RESPONSES,
)
async def correct_request_data(
    request_id: RequestIdPath,
    body: CorrectedData,
    user: Annotated[User, Depends(require(*user_roles(CORRECT)))],
    requests: Requests,
    store: Documents,
    at: Now,
) -> RequestState:
    return await correct(requests, user, request_id, body.form, at, store, body.action_id)


async def correct(
    requests: RequestClient,
    user: User,
    request_id: str,
    submission: RequestSubmission,
    at: datetime,
    store: DocumentStore,
    action_id: str | None = None,
) -> RequestState:
    """Deliver corrected data: the form checked for this user, with the request's own time of receipt."""
    refuse_control_characters(submission.model_dump(mode="json"), "body.form")
    state = await visible_state(requests, user, request_id)
    if user.role is UserRole.EXPORTER and submission.exporter.operation_id != user.operation_id:
        raise ApiError(
            403, "other_operation", f"form.exporter.operation_id: you act for {user.operation_id} only."
        )
    data = submission.model_dump(exclude={"received_at"})
    try:
        form = NopicRequestForm.model_validate({**data, "received_at": state.form.received_at})
    except ValidationError as exc:
        count_action(CORRECT.slug, "invalid")
        raise invalid(exc, "body.form") from exc
    held = {d.file_id for d in state.form.documents}
    added = [(f"body.form.documents.{i}", d) for i, d in enumerate(form.documents) if d.file_id not in held]
    await check_references(store, user, state.form.exporter.operation_id, added)
    action = messages.CorrectRequestData(
        action_id=action_id or f"{CORRECT.slug}-{uuid4().hex}", actor=user.actor, at=at, form=form
    )
    return await deliver(requests, request_id, CORRECT.slug, action)


# Last, so every real action's route matches first: any other name is an unknown action, said plainly.
@router.post("/requests/{request_id}/actions/{action}", include_in_schema=False)
async def unknown_action(request_id: RequestIdPath, action: str, _: ExporterOrReviewer) -> None:
    names = ", ".join(spec.slug for spec in ACTIONS if spec is not BY_MESSAGE[messages.SubmitDocuments])
    message = f"there is no action {action!r}; the actions are: {names}"
    fields = [FieldError(field="action", rule="unknown_action", message=message)]
    raise ApiError(404, "unknown_action", message, fields)
