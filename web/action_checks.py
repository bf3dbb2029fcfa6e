"""What the API checks of a submission or an action against the request, before the workflow judges it.

Every document it names is a file in the document store that someone allowed on this request uploaded:
an exporter of the request's operation, or a reviewer (to this request, or outside any request when a
reviewer names it). A cancellation names issued certificates. Anything else is refused with 422 naming
the field: nothing reaches the workflow, and nobody is told anything. An exporter reads a request's file
only when it was uploaded for its operation, so a hash learnt elsewhere opens nothing.

Files stored before uploads were recorded (no `document_access` row at all) stay readable where a request
already names them, and must be uploaded again to be named anew.
"""

from __future__ import annotations

from activities.documents import DocumentStore
from domain import messages
from domain.request import DocumentReference
from domain.state import CertificateStatus, RequestState
from web.auth import User, UserRole
from web.errors import ApiError, FieldError


async def granted_upload(store: DocumentStore, user: User, operation_id: str | None, sha256: str) -> None:
    """A file just stored by `user`: an exporter's is its operation's; a reviewer's is the request's
    operation's (none: the certifier's own, until a reviewer names it from a request)."""
    reviewer = user.role is UserRole.REVIEWER
    own = operation_id if reviewer else user.operation_id
    await store.grant(sha256, own, user.user_id, reviewer)


async def check_references(
    store: DocumentStore, user: User, operation_id: str, references: list[tuple[str, DocumentReference]]
) -> None:
    """Each (field, reference) names a file uploaded for this operation; or, for a reviewer, one a reviewer
    uploaded, which the operation's requests may name from now on."""
    if not references:
        return
    grants = await store.access([r.sha256 for _, r in references])
    problems: list[FieldError] = []
    for field, reference in references:
        if reference.file_id != reference.sha256:
            message = "must be the file's sha256, as POST /documents answers"
            problems.append(FieldError(field=f"{field}.file_id", rule="file_id", message=message))
            continue
        granted = grants.get(reference.sha256, [])
        if any(operation == operation_id for operation, _ in granted):
            continue
        if user.role is UserRole.REVIEWER and any(by_reviewer for _, by_reviewer in granted):
            await store.grant(reference.sha256, operation_id, user.user_id, True)
            continue
        message = (
            f"no file with this sha256 was uploaded for operation {operation_id}: "
            "upload it first (POST /documents)"
        )
        problems.append(FieldError(field=f"{field}.sha256", rule="uploaded_document", message=message))
    if problems:
        first = problems[0]
        raise ApiError(422, "unknown_document", f"{first.field}: {first.message}", problems)


def referenced(action: messages.Action) -> list[tuple[str, DocumentReference]]:
    """The documents an action names, each with its field in the action's body."""
    match action:
        case messages.SubmitTransportDocument():
            return [("body.document", action.document)]
        case messages.RecordShipment():
            return [("body.transport_document", action.transport_document)]
    return []


def cancellation_problems(state: RequestState, action: messages.CancelCertificates) -> list[FieldError]:
    """A list of certificates to cancel names at least one, each an issued NOPIC of the request."""
    indexes = action.commodity_indexes
    if indexes is None:
        return []
    if not indexes:
        message = "name at least one certificate, or leave the list out to cancel them all"
        return [FieldError(field="body.commodity_indexes", rule="min_items", message=message)]
    problems = []
    for position, index in enumerate(indexes):
        if not 0 <= index < len(state.certificates):
            message = f"commodity {index} does not exist: the request has {len(state.certificates)}"
        elif (certificate := state.certificates[index]).status is not CertificateStatus.ISSUED:
            message = f"the NOPIC for {certificate.product_name} is {certificate.status}, not issued"
        else:
            continue
        field = f"body.commodity_indexes.{position}"
        problems.append(FieldError(field=field, rule="issued_certificate", message=message))
    return problems


async def check_action(
    store: DocumentStore, user: User, state: RequestState, action: messages.Action
) -> None:
    """422 for what the API can tell is wrong with the action on this request, before the workflow sees it."""
    await check_references(store, user, state.form.exporter.operation_id, referenced(action))
    if isinstance(action, messages.CancelCertificates):
        problems = cancellation_problems(state, action)
        if problems:
            first = problems[0]
            raise ApiError(422, "invalid_cancellation", f"{first.field}: {first.message}", problems)


async def may_read(store: DocumentStore, user: User, state: RequestState, sha256: str) -> bool:
    """A reviewer reads any of the request's files; an exporter those uploaded for its operation."""
    if user.role is UserRole.REVIEWER:
        return True
    granted = (await store.access([sha256])).get(sha256)
    return granted is None or any(operation == state.form.exporter.operation_id for operation, _ in granted)
