"""The sandbox's stand-in for OID's public operation data: `rest/Operations` over the sandbox's operations,
`rest/Items` over their certified products.

It answers in the shape `activities.oid_public` reads (itself inferred from public code, see there): JSON
`{"operations": [...], "success": true}` when asked for JSON, else XML with the same element names; a
missing or wrong `api_key` gets api.data.gov's refusal. A page of one operation when the query names its
ID, else a page of all of them.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from fastapi import Response

from activities.oid_contract import Operation
from activities.oid_public import ItemsQuery, OperationsQuery
from devstack.oid_sandbox.store import SandboxStore
from domain.scope import CertifiedItem

XML_NAMESPACE = "http://schemas.datacontract.org/2004/07/IntegrityPubDataServices"


def public_record(operation: Operation) -> dict[str, str]:
    record = {
        "op_nopOpID": operation.operation_id,
        "op_name": operation.name,
        "op_status": operation.status,
        "op_certifierName": operation.certifier,
    }
    if operation.status_date is not None:
        record["op_statusEffectiveDate"] = operation.status_date.isoformat()
    return record


def item_record(item: CertifiedItem) -> dict[str, str]:
    record = {"itemName": item.name, "itemVarieties": ", ".join(item.varieties)}
    if item.status is not None:
        record["status"] = item.status
    return record


def _xml(records: list[dict[str, str]], result: str = "Operations", element_name: str = "Operation") -> bytes:
    ElementTree.register_namespace("a", XML_NAMESPACE)
    root = ElementTree.Element(f"{{{XML_NAMESPACE}}}{result}Result")
    ElementTree.SubElement(root, f"{{{XML_NAMESPACE}}}success").text = "true"
    operations = ElementTree.SubElement(root, f"{{{XML_NAMESPACE}}}{result.lower()}")
    for record in records:
        element = ElementTree.SubElement(operations, f"{{{XML_NAMESPACE}}}{element_name}")
        for name, value in record.items():
            ElementTree.SubElement(element, f"{{{XML_NAMESPACE}}}{name}").text = value
    answer: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return answer


def _refused_key(api_key: str | None, expected: str) -> Response | None:
    if api_key == expected:
        return None
    code = "API_KEY_MISSING" if not api_key else "API_KEY_INVALID"
    body = {"error": {"code": code, "message": "An API key was not supplied, or it is not valid."}}
    return Response(json.dumps(body), status_code=403, media_type="application/json")


def public_items_answer(
    store: SandboxStore, query: ItemsQuery, *, accept: str, api_key: str | None, expected: str
) -> Response:
    refused = _refused_key(api_key, expected)
    if refused is not None:
        return refused
    items = store.get_items(query.operation_id)
    page = items[query.start_index - 1 : query.start_index - 1 + query.count]
    records = [item_record(item) for item in page]
    if "json" in accept:
        return Response(json.dumps({"items": records, "success": True}), media_type="application/json")
    return Response(_xml(records, "Items", "item"), media_type="application/xml")


def public_operations_answer(
    store: SandboxStore, query: OperationsQuery, *, accept: str, api_key: str | None, expected: str
) -> Response:
    refused = _refused_key(api_key, expected)
    if refused is not None:
        return refused
    if query.operation_id is not None:
        found = store.get_operation(query.operation_id)
        operations = [found] if found is not None else []
    else:
        operations = store.list_operations()
    page = operations[query.start_index - 1 : query.start_index - 1 + query.count]
    records = [public_record(operation) for operation in page]
    if "json" in accept:
        return Response(json.dumps({"operations": records, "success": True}), media_type="application/json")
    return Response(_xml(records), media_type="application/xml")
