"""Certificates and shipments: one NOPIC per commodity, shipments within what was certified."""

from __future__ import annotations

from datetime import date

from domain.request import NopicRequestForm
from domain.state import (
    Certificate,
    CertificateStatus,
    ReconciliationLine,
    RequestState,
    ShippedQuantity,
)


def one_nopic_per_commodity(form: NopicRequestForm) -> list[Certificate]:
    """The certificates a request needs: one per commodity, not yet issued."""
    return [
        Certificate(commodity_index=index, **commodity.commodity_data())
        for index, commodity in enumerate(form.commodities)
    ]


def shipment_problem(state: RequestState, shipped_on: date, quantities: list[ShippedQuantity]) -> str | None:
    """Why this shipment cannot be recorded under the request's NOPICs, or None when it can."""
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
        if certificate.status is not CertificateStatus.ISSUED:
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
    """Certified and shipped kg per commodity, at the end of the timeframe."""
    return [
        ReconciliationLine(
            commodity_index=certificate.commodity_index,
            product_name=certificate.product_name,
            nopic_number=certificate.number,
            certified_kg=certificate.net_kg,
            shipped_kg=state.shipped_kg(certificate.commodity_index),
        )
        for certificate in state.certificates
    ]
