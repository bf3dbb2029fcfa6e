"""Replacing an issued NOPIC whose data must change, as TRACES NT's "copy as replacement" does.

After issue a NOPIC is not edited in OID: a new one, with the changed data (product name as labeled, net
kg, lot numbers), is issued for the commodity and the old one is cancelled there, through the one
cancellation model (`domain.cancellation`). The new certificate names the one it replaces (`replaces`), the
old one its replacement once that has a number (`replaced_by`). Here: why a replacement is refused, and
the certificate it makes; pure, so the workflow's validator and its handler judge alike.
"""

from __future__ import annotations

from typing import Any

from domain.cancellation import next_revision
from domain.messages import ReplaceCertificate
from domain.request import NopicRequestForm
from domain.state import Certificate, CertificateStatus, RequestState


def changed_data(certificate: Certificate, action: ReplaceCertificate) -> dict[str, Any]:
    """The fields the replacement changes, with their new values (those given and different)."""
    wanted = {
        "product_name": action.product_name,
        "net_kg": action.net_kg,
        "lot_numbers": action.lot_numbers,
    }
    return {
        name: value
        for name, value in wanted.items()
        if value is not None and value != getattr(certificate, name)
    }


def refused_replacement(state: RequestState, commodity_index: int) -> Certificate | None:
    """The commodity's pending replacement that OID refused to issue: a new replacement may take its place."""
    certificate = state.certificates[commodity_index]
    refused = certificate.status is CertificateStatus.PENDING and certificate.oid_failure is not None
    return certificate if refused and certificate.replaces is not None else None


def replacement_problem(state: RequestState, action: ReplaceCertificate) -> str | None:
    """Why this replacement cannot be made, or None (after the role and status checks)."""
    index = action.commodity_index
    if index >= len(state.certificates):
        return f"commodity_index: commodity {index} does not exist: the request has {len(state.certificates)}"
    certificate = state.certificates[index]
    if certificate.status is not CertificateStatus.ISSUED and refused_replacement(state, index) is None:
        if certificate.status is CertificateStatus.PENDING and certificate.replaces is not None:
            return (
                f"commodity_index: the NOPIC for {certificate.product_name} is already being replaced "
                f"(of {certificate.replaces}); record or await its number first"
            )
        return (
            f"commodity_index: the NOPIC for {certificate.product_name} is {certificate.status}; only an "
            "issued NOPIC can be replaced"
        )
    changes = changed_data(certificate, action)
    if not changes:
        return (
            "product_name, net_kg, lot_numbers: nothing changed; a replacement carries new data for "
            f"NOPIC {certificate.number or certificate.replaces}"
        )
    shipped = state.shipped_kg(index)
    net_kg = changes.get("net_kg")
    if net_kg is not None and net_kg < shipped:
        return (
            f"net_kg: {net_kg} kg of {certificate.product_name} is less than the {shipped} kg already "
            "shipped under its NOPIC"
        )
    return None


def replacement_of(state: RequestState, action: ReplaceCertificate) -> Certificate:
    """The new, pending certificate for the commodity: the changed data, the next revision (so its key at
    the OID gateway is new), and the number of the NOPIC it replaces."""
    held = state.certificates[action.commodity_index]
    refused = refused_replacement(state, action.commodity_index)
    replaces = refused.replaces if refused is not None else held.number
    return Certificate(
        **{**held.commodity_data(), **changed_data(held, action)},
        commodity_index=action.commodity_index,
        revision=next_revision(state, action.commodity_index),
        replaces=replaces,
    )


def form_with(form: NopicRequestForm, certificate: Certificate) -> NopicRequestForm:
    """The request's data with the commodity as its replacement certifies it."""
    commodities = list(form.commodities)
    index = certificate.commodity_index
    commodities[index] = commodities[index].model_copy(update=certificate.commodity_data())
    return form.model_copy(update={"commodities": commodities})
