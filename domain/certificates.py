"""Certificates and shipments: one NOPIC per commodity, shipments within what was certified."""

from __future__ import annotations

from datetime import date

from domain.request import NopicRequestForm
from domain.state import (
    Certificate,
    CertificateStatus,
    ReconciliationLine,
    ReportedQuantity,
    RequestState,
    ShipmentRecord,
    ShippedQuantity,
)


def one_nopic_per_commodity(form: NopicRequestForm) -> list[Certificate]:
    """The certificates a request needs: one per commodity, not yet issued."""
    return [
        Certificate(commodity_index=index, **commodity.commodity_data())
        for index, commodity in enumerate(form.commodities)
    ]


def shipment_problem(
    state: RequestState, shipped_on: date, quantities: list[ShippedQuantity], *, before_issue: bool = False
) -> str | None:
    """Why this shipment cannot be recorded under the request's NOPICs, or None when it can. Every shipment
    counts: the first one and the further ones. `before_issue`: the first shipment's, its NOPICs not yet
    issued (then only cancelled ones are refused)."""
    timeframe = state.form.timeframe
    if shipped_on not in timeframe:
        return (
            f"the shipment date {shipped_on} lies outside the timeframe "
            f"{timeframe.first_day} to {timeframe.last_day} the NOPICs cover"
        )
    indexes = [q.commodity_index for q in quantities]
    if len(set(indexes)) != len(indexes):
        return "each commodity appears once per shipment"
    for quantity in quantities:
        if quantity.commodity_index >= len(state.certificates):
            count = len(state.certificates)
            return f"commodity {quantity.commodity_index} does not exist: the request has {count}"
        certificate = state.certificates[quantity.commodity_index]
        in_force = (
            (CertificateStatus.ISSUED, CertificateStatus.PENDING)
            if before_issue
            else (CertificateStatus.ISSUED,)
        )
        if certificate.status not in in_force:
            return f"the NOPIC for {certificate.product_name} is {certificate.status}, not issued"
        shipped = state.shipped_kg(quantity.commodity_index)
        if shipped + quantity.net_kg > certificate.net_kg:
            remaining = certificate.net_kg - shipped
            return (
                f"{quantity.net_kg} kg of {certificate.product_name} exceeds the certified quantity: "
                f"{certificate.net_kg} kg certified, {shipped} kg already shipped, {remaining} kg remain"
            )
    return None


def reconciliation(state: RequestState) -> list[ReconciliationLine]:
    """Certified, shipped (every shipment's) and reported kg per commodity, at the end of the timeframe."""
    reported = {q.commodity_index: q.net_kg for q in state.reported_quantities or []}
    return [
        ReconciliationLine(
            commodity_index=certificate.commodity_index,
            product_name=certificate.product_name,
            nopic_number=certificate.number,
            certified_kg=certificate.net_kg,
            shipped_kg=state.shipped_kg(certificate.commodity_index),
            reported_kg=reported.get(certificate.commodity_index),
        )
        for certificate in state.certificates
    ]


def report_problem(state: RequestState, quantities: list[ReportedQuantity]) -> str | None:
    """Why this report of the kg shipped per commodity cannot be taken, or None."""
    indexes = [q.commodity_index for q in quantities]
    if len(set(indexes)) != len(indexes):
        return "each commodity appears once in the report"
    for index in indexes:
        if index >= len(state.certificates):
            return f"commodity {index} does not exist: the request has {len(state.certificates)}"
    return None


def commodities_of(state: RequestState, shipment: ShipmentRecord) -> list[Certificate]:
    """The issued certificates a shipment's goods travel under."""
    indexes = {q.commodity_index for q in shipment.quantities}
    return [
        c for c in state.certificates if c.commodity_index in indexes and c.status is CertificateStatus.ISSUED
    ]
