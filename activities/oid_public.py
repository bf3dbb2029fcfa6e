"""OID's public operation data: is this operation Certified? The look-up behind the operations check.

The port `OperationRegistry` is what the check needs: one operation by its NOP operation ID, and the products
it is certified for (the scope check of the request's products, `domain.scope`). Two adapters
implement it: `PublicDataOperations` below, over the INTEGRITY public data web service, and the OID gateway
(`activities.oid_http.HttpOidGateway`), whose contract has an operation look-up of its own. The worker
uses the public data service when an OID data key is configured, else the gateway.

What is known of the public data service (DOMAIN.md, "OID as it is"), and what this adapter infers:
- It lives at `.../IntegrityPubDataServices/OidPublicDataService.svc` and is keyed by an api.data.gov API
  key; public code passes the key as the `api_key` query parameter, as this adapter does.
- `rest/Operations` is a POST whose JSON body pages through the operations (`startIdx`, `count`, with
  `countries` and `states` filters). Public code filters `rest/Items` by `operationId`; that
  `rest/Operations` takes the same filter is inferred. So the adapter also checks the ID of every operation
  that comes back, and an answer without it means "not listed in OID".
- Answers are XML by default. Public code that asks for JSON (`Accept: application/json`) reads
  `{"operations": [...], "success": true|false, "errorMessage": ...}`, each operation with `op_nopOpID`,
  `op_name`, `op_status` and `op_certifierName`: the names this adapter reads. It asks for JSON and reads an
  XML answer too (elements of the same names, in whatever namespace). The status date's name
  (`op_statusEffectiveDate`) is a guess; it is shown when present and never needed.
- A public note says the OData form was retired in May 2026 and that a newer `OIDPublicAPI` path exists; so
  the service's URL is a setting (`NOPIC_OID_DATA_URL`), and whatever it answers that this adapter cannot
  read makes the check unavailable, never a NOPIC: a reviewer then confirms both operations by hand.
- `rest/Items` (an operation's certified items, the products in its scope) is a POST of the same kind
  (`startIdx`, `count`, `operationId`), as public code calls it. Public code reads its XML answer as
  elements `item` whose children include `itemName`, `itemVarieties`, `otherItems` and `status` (it reads
  them lower-cased, so the case is a guess): this adapter reads those names in any case, in XML or in JSON
  (`{"items": [...]}`, inferred from the operations' JSON form), pages through up to `MAX_ITEM_PAGES`
  pages, and leaves the match with the request's products to `domain.scope`.
The local OID sandbox serves `rest/Operations` and `rest/Items` in this shape (`devstack/oid_sandbox`).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from datetime import date
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio import activity

from activities.oid import LookupOperationInput, OidError, Operation, OperationNotFound
from activities.oid_http import OidUnavailable
from core.settings import Settings
from domain.scope import CertifiedItem

SERVICE_PATH = "/IntegrityPubDataServices/OidPublicDataService.svc"
OPERATIONS_PATH = "rest/Operations"
ITEMS_PATH = "rest/Items"
API_KEY_PARAMETER = "api_key"
# An operation lists tens of products, rarely hundreds: a page of 100, and no more than 10 pages.
ITEMS_PAGE = 100
MAX_ITEM_PAGES = 10
# An answer larger than this is not one operation's record: refused rather than parsed.
MAX_ANSWER_BYTES = 2 * 1024 * 1024


class OperationsQuery(BaseModel):
    """The body of `rest/Operations`: a page of operations, here filtered to one operation ID."""

    model_config = ConfigDict(populate_by_name=True)

    start_index: int = Field(default=1, ge=1, alias="startIdx")
    count: int = Field(default=10, ge=1, le=100)
    operation_id: str | None = Field(default=None, alias="operationId")
    countries: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)


class PublicOperation(BaseModel):
    """One operation as the public data service lists it (field names as public code reads them)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    operation_id: str = Field(alias="op_nopOpID")
    name: str = Field(alias="op_name")
    status: str = Field(alias="op_status")
    certifier: str | None = Field(default=None, alias="op_certifierName")
    status_date: date | None = Field(default=None, alias="op_statusEffectiveDate")


class OperationsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    operations: list[PublicOperation] = Field(default_factory=list)
    success: bool = True
    error_message: str | None = Field(default=None, alias="errorMessage")


def _local(tag: str) -> str:
    """An element's name without its namespace: `{uri}op_name` and `op_name` alike."""
    return tag.rpartition("}")[2]


def parse_xml(content: bytes) -> OperationsAnswer:
    """The XML answer: every element that holds an `op_nopOpID` child is one operation."""
    root = ElementTree.fromstring(content)
    operations: list[dict[str, Any]] = []
    success, error_message = True, None
    for element in root.iter():
        name = _local(element.tag)
        if name == "success" and element.text:
            success = element.text.strip().lower() == "true"
        elif name == "errorMessage" and element.text:
            error_message = element.text.strip()
        fields = {_local(child.tag): (child.text or "").strip() for child in element}
        if "op_nopOpID" in fields:
            operations.append({key: value for key, value in fields.items() if value})
    return OperationsAnswer.model_validate(
        {"operations": operations, "success": success, "errorMessage": error_message}
    )


def parse_answer(response: httpx.Response) -> OperationsAnswer:
    if len(response.content) > MAX_ANSWER_BYTES:
        raise OidUnavailable(f"OID's operation data answered {len(response.content)} bytes for one operation")
    try:
        if "xml" in response.headers.get("content-type", ""):
            return parse_xml(response.content)
        return OperationsAnswer.model_validate_json(response.content)
    except (ElementTree.ParseError, ValidationError, ValueError) as error:
        raise OidUnavailable(f"OID's operation data answered what nopic cannot read: {error}") from error


class ItemsQuery(BaseModel):
    """The body of `rest/Items`: a page of one operation's certified items."""

    model_config = ConfigDict(populate_by_name=True)

    start_index: int = Field(default=1, ge=1, alias="startIdx")
    count: int = Field(default=ITEMS_PAGE, ge=1, le=ITEMS_PAGE)
    operation_id: str = Field(alias="operationId")


def _item(fields: dict[str, Any]) -> CertifiedItem | None:
    """One item from its fields (names in any case); none without a name."""
    lowered = {key.lower(): value for key, value in fields.items()}
    name = str(lowered.get("itemname") or "").strip()
    if not name:
        return None
    varieties = [
        part.strip()
        for key in ("itemvarieties", "otheritems")
        for part in re.split(r"[,;\n]", str(lowered.get(key) or ""))
        if part.strip()
    ]
    status = str(lowered.get("status") or "").strip() or None
    return CertifiedItem(name=name, varieties=varieties, status=status)


def parse_items(response: httpx.Response) -> tuple[list[CertifiedItem], int]:
    """The items of one page of `rest/Items`, and how many records the page held."""
    if len(response.content) > MAX_ANSWER_BYTES:
        raise OidUnavailable(f"OID's item data answered {len(response.content)} bytes for one page")
    records: list[dict[str, Any]] = []
    try:
        if "xml" in response.headers.get("content-type", ""):
            for element in ElementTree.fromstring(response.content).iter():
                fields = {_local(child.tag): (child.text or "").strip() for child in element}
                if any(key.lower() == "itemname" for key in fields):
                    records.append(fields)
        else:
            answer = json.loads(response.content)
            found: object = next((v for k, v in answer.items() if k.lower() == "items"), [])
            if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
                raise ValueError("`items` is not a list of records")
            if answer.get("success") is False:
                raise OidError(f"OID's item data refused the look-up: {answer.get('errorMessage')}")
            records = found
    except (ElementTree.ParseError, ValidationError, ValueError, AttributeError) as error:
        raise OidUnavailable(f"OID's item data answered what nopic cannot read: {error}") from error
    return [item for record in records if (item := _item(record)) is not None], len(records)


class OperationRegistry(Protocol):
    async def lookup_operation(self, operation_id: str) -> Operation:
        """The operation with this NOP operation ID; raises OperationNotFound when OID lists none."""
        ...

    async def certified_items(self, operation_id: str) -> list[CertifiedItem] | None:
        """The products OID lists as certified for this operation; none when this source lists no items."""
        ...


class PublicDataOperations:
    """`OperationRegistry` over the INTEGRITY public data web service (or the sandbox's stand-in)."""

    def __init__(self, client: httpx.AsyncClient, api_key: str) -> None:
        self._client = client
        self._api_key = api_key

    @classmethod
    def from_settings(cls, settings: Settings) -> PublicDataOperations:
        assert settings.oid_data_key is not None, "the public data service needs NOPIC_OID_DATA_KEY"
        client = httpx.AsyncClient(
            base_url=settings.oid_data_service_url.rstrip("/") + "/", timeout=settings.oid_timeout_seconds
        )
        return cls(client, settings.oid_data_key)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            response = await self._client.post(
                path,
                params={API_KEY_PARAMETER: self._api_key},
                json=body,
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as error:
            message = f"OID's operation data did not answer in time ({type(error).__name__})"
            raise OidUnavailable(message) from error
        except httpx.TransportError as error:
            raise OidUnavailable(f"OID's operation data could not be reached: {error!r}") from error
        answered = f"{response.status_code} {response.text[:200]}"
        if response.status_code >= 500 or response.status_code == 429:
            raise OidUnavailable(f"OID's operation data answered {answered}")
        if response.status_code != 200:
            # A refused key or request: retrying cannot change it, and it says nothing of the operation.
            raise OidError(f"OID's operation data refused the look-up: {answered}")
        return response

    async def certified_items(self, operation_id: str) -> list[CertifiedItem] | None:
        items: list[CertifiedItem] = []
        for page in range(MAX_ITEM_PAGES):
            query = ItemsQuery(start_index=1 + page * ITEMS_PAGE, operation_id=operation_id)
            found, records = parse_items(await self._post(ITEMS_PATH, query.model_dump(by_alias=True)))
            items += found
            if records < ITEMS_PAGE:
                break
        return items

    async def lookup_operation(self, operation_id: str) -> Operation:
        query = OperationsQuery(operation_id=operation_id)
        response = await self._post(OPERATIONS_PATH, query.model_dump(by_alias=True, exclude_none=True))
        answer = parse_answer(response)
        if not answer.success:
            raise OidError(f"OID's operation data refused the look-up: {answer.error_message or 'no reason'}")
        for found in answer.operations:
            if found.operation_id == operation_id:
                return Operation(
                    operation_id=found.operation_id,
                    name=found.name,
                    status=found.status,
                    certifier=found.certifier,
                    status_date=found.status_date,
                )
        raise OperationNotFound(f"OID lists no operation with NOP operation ID {operation_id}")


class CertifiedItems(BaseModel):
    """What the source lists as the operation's certified products; `listed` false: it lists none at all
    (the OID gateway's contract has no items), so the scope is not checked by this source."""

    listed: bool
    items: list[CertifiedItem] = Field(default_factory=list)


class OperationActivities:
    """The operations check's look-up, on whichever registry the worker was given."""

    def __init__(self, registry: OperationRegistry) -> None:
        self._registry = registry

    @activity.defn
    async def lookup_operation(self, input: LookupOperationInput) -> Operation:
        return await self._registry.lookup_operation(input.operation_id)

    @activity.defn
    async def lookup_certified_items(self, input: LookupOperationInput) -> CertifiedItems:
        items = await self._registry.certified_items(input.operation_id)
        return CertifiedItems(listed=items is not None, items=items or [])
