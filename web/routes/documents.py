"""`/requests/{id}/documents`: upload supporting documents (stored, then given to the workflow), read one."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from activities.documents import DocumentMissing, DocumentRejected, DocumentStore
from domain import messages
from domain.request import DocumentKind, DocumentReference
from domain.state import RequestState
from starter.client import ActionRefused, RequestClient
from web.action_checks import granted_upload, may_read
from web.auth import User
from web.deps import AppSettings, Db, Documents, ExporterOrReviewer, Now, Requests
from web.errors import ApiError, ErrorResponse, FieldError
from web.headers import attachment_headers
from web.metrics import count_action
from web.routes.requests import RequestIdPath
from web.uploads import IncomingFile, UploadLimits, read_upload
from web.visibility import visible_operation, visible_state

router = APIRouter(tags=["documents"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "No valid API token or session."},
    403: {"model": ErrorResponse, "description": "Signed in, but this role may not do this."},
    404: {"model": ErrorResponse, "description": "No such request or document, or not one of yours."},
    409: {"model": ErrorResponse, "description": "The workflow refused the documents; the message says why."},
    410: {"model": ErrorResponse, "description": "The document is known, but its file is gone."},
    413: {"model": ErrorResponse, "description": "A file, the files or the body are over their limit."},
    415: {"model": ErrorResponse, "description": "The body is not multipart/form-data."},
    422: {"model": ErrorResponse, "description": "A file or field breaks a rule; each is named."},
}


def _rejected(field: str, message: str) -> ApiError:
    message = message.removeprefix("file: ")  # the field names the file already
    return ApiError(
        422,
        "invalid_document",
        f"{field}: {message}",
        [FieldError(field=field, rule="document", message=message)],
    )


async def store_uploads(
    store: DocumentStore,
    user: User,
    uploads: list[tuple[IncomingFile, DocumentKind, str | None]],
    operation_id: str | None,
    field: str = "files",
) -> list[DocumentReference]:
    """Keep each uploaded (file, kind, supplier) in the document store, as `user`'s, for the requests of
    `operation_id` (none: the certifier's own, for a reviewer to name); a reference for each."""
    references = []
    for position, (incoming, kind, supplier) in enumerate(uploads):
        try:
            stored = await store.adopt(
                incoming.path, incoming.sha256, incoming.size, incoming.head, incoming.filename, user.username
            )
        except DocumentRejected as exc:
            raise _rejected(f"{field}.{position}", str(exc)) from exc
        await granted_upload(store, user, operation_id, stored.sha256)
        references.append(
            DocumentReference(
                kind=kind, file_id=stored.sha256, sha256=stored.sha256, supplier=supplier or None
            )
        )
    return references


async def deliver_documents(
    requests: RequestClient, user: User, request_id: str, references: list[DocumentReference], at: datetime
) -> RequestState:
    """Hand stored documents to the workflow: the definitive transport document is its own action."""
    # The action id comes from the content, so uploading the same files again is a retry, not a new action.
    digest = hashlib.sha256("|".join(f"{r.kind}:{r.sha256}:{r.supplier}" for r in references).encode())
    action_id = f"documents-{digest.hexdigest()[:40]}"
    definitive = [r for r in references if r.kind is DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE]
    supporting = [r for r in references if r.kind is not DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE]
    state: RequestState | None = None
    actions: list[tuple[str, messages.Action]] = []
    if supporting:
        actions.append(
            (
                "submit-documents",
                messages.SubmitDocuments(action_id=action_id, actor=user.actor, at=at, documents=supporting),
            )
        )
    for position, document in enumerate(definitive):
        actions.append(
            (
                "transport-document",
                messages.SubmitTransportDocument(
                    action_id=f"{action_id}-t{position}", actor=user.actor, at=at, document=document
                ),
            )
        )
    for name, action in actions:
        try:
            state = await requests.act(request_id, action)
        except ActionRefused:
            count_action(name, "refused")
            raise
        count_action(name, "accepted")
    assert state is not None
    return state


def _multipart(description: str, properties: dict[str, object], required: list[str]) -> dict[str, object]:
    """The body as the OpenAPI schema shows it: the route reads it as a stream (`web.uploads`)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


_FILES = {"type": "array", "items": {"type": "string", "format": "binary"}}
_STRINGS = {"type": "array", "items": {"type": "string"}}


@router.post(
    "/requests/{request_id}/documents",
    response_model=RequestState,
    summary="Upload supporting documents",
    description="Multipart: one `kind` per file, in the same order; `supplier` (optional, one per file, "
    "empty for none) names the supplier a transaction certificate or purchase invoice comes from. "
    "Only PDF, PNG and JPEG, recognised by their content. The answer is the request's new state.",
    responses=_RESPONSES,
    openapi_extra=_multipart(
        "The documents and their kinds.",
        {
            "files": _FILES,
            "kind": {"type": "array", "items": {"enum": [k.value for k in DocumentKind]}},
            "supplier": _STRINGS,
        },
        ["files", "kind"],
    ),
)
async def upload(
    request: Request,
    request_id: RequestIdPath,
    user: ExporterOrReviewer,
    requests: Requests,
    pool: Db,
    store: Documents,
    config: AppSettings,
    at: Now,
) -> RequestState:
    # Who may, before a byte of the body is read: the read model says, and names the operation the files
    # are for, without a workflow query.
    operation = await visible_operation(requests, pool, user, request_id)
    async with await read_upload(request, UploadLimits.from_settings(config), store.incoming) as body:
        files, kinds, suppliers = body.files_of("files"), body.getlist("kind"), body.getlist("supplier")
        if not files:
            raise _rejected("files", "give at least one file")
        if len(kinds) != len(files):
            raise _rejected("kind", f"give one kind per file: {len(files)} files, {len(kinds)} kinds")
        if suppliers and len(suppliers) != len(files):
            raise _rejected("supplier", f"give one supplier per file, or none: {len(files)} files")
        try:
            parsed = [DocumentKind(kind) for kind in kinds]
        except ValueError as exc:
            raise _rejected("kind", f"each is one of {', '.join(k.value for k in DocumentKind)}") from exc
        chosen = [
            (file, parsed[i], suppliers[i].strip() if suppliers else None) for i, file in enumerate(files)
        ]
        references = await store_uploads(store, user, chosen, operation)
    return await deliver_documents(requests, user, request_id, references, at)


class StoredReference(BaseModel):
    """A stored file: an action body refers to it with `sha256` as both `file_id` and `sha256`."""

    sha256: str
    media_type: str
    size_bytes: int
    original_name: str


@router.post(
    "/documents",
    status_code=201,
    response_model=StoredReference,
    summary="Store one file, for an action that refers to it",
    description="For the transport document of `transport-document` and `record-shipment`: store the file "
    "here, then name it in the action's body. Storing the same content twice gives the same answer.",
    responses={k: v for k, v in _RESPONSES.items() if k in (401, 403, 413, 422)},
    openapi_extra=_multipart(
        "A PDF, PNG or JPEG.", {"file": {"type": "string", "format": "binary"}}, ["file"]
    ),
)
async def store_one(
    request: Request, user: ExporterOrReviewer, store: Documents, config: AppSettings
) -> StoredReference:
    async with await read_upload(request, UploadLimits.from_settings(config), store.incoming) as body:
        file = body.file("file")
        if file is None or len(body.files) != 1:
            raise _rejected("file", "give exactly one file, in the field `file`")
        try:
            stored = await store.adopt(
                file.path, file.sha256, file.size, file.head, file.filename, user.username
            )
        except DocumentRejected as exc:
            raise _rejected("file", str(exc)) from exc
        await granted_upload(store, user, None, stored.sha256)
    return StoredReference.model_validate(stored.model_dump())


def request_documents(state: RequestState) -> list[DocumentReference]:
    """Every document the request refers to: the form's, the accepted transport document, shipments', and
    those a correction set aside (they stay readable with the audit trail)."""
    documents = list(state.form.documents)
    if state.transport_document is not None:
        documents.append(state.transport_document)
    documents += [shipment.transport_document for shipment in state.shipments]
    return documents + state.documents_set_aside


@router.get(
    "/requests/{request_id}/documents/{sha256}",
    summary="Download one of the request's documents",
    response_class=Response,
    responses={
        **_RESPONSES,
        200: {
            "content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}},
            "description": "The file.",
        },
    },
)
async def download(
    request_id: RequestIdPath,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    user: ExporterOrReviewer,
    requests: Requests,
    store: Documents,
) -> Response:
    state = await visible_state(requests, user, request_id)
    document = await store.get(sha256)
    known = sha256 in {d.sha256 for d in request_documents(state)}
    if document is None or not known or not await may_read(store, user, state, sha256):
        raise ApiError(404, "document_not_found", f"Request {request_id} has no document {sha256}.")
    try:
        content = await store.read(sha256)
    except DocumentMissing as exc:
        raise ApiError(
            410,
            "document_file_missing",
            f"The file of document {document.original_name!r} (sha256 {sha256}) of request {request_id} is "
            "missing from the document store: the service's operator restores it from the backup.",
        ) from exc
    return Response(
        content,
        media_type=document.media_type,
        # The stored name is the uploader's text: sent as a quoted, ASCII-only hint, never trusted further.
        headers=attachment_headers(_safe_name(document.original_name)),
    )


def _safe_name(name: str) -> str:
    return (
        "".join(c if c.isascii() and (c.isalnum() or c in "._- ") else "_" for c in name)[:100] or "document"
    )
