"""Cancelling issued NOPICs: which certificates await it, and when a request has nothing left in force.

A NOPIC stays valid in OID until it is cancelled there. USDA offers no API for that, so in manual mode a
cancellation is a task for staff (they cancel it in Global INTEGRITY and confirm it with
`record-cancellation`); in api mode the OID gateway cancels it. Either way the certificate is
`cancellation_pending` until then, and only a confirmed cancellation makes it `cancelled`.
"""

from __future__ import annotations

from domain.state import Certificate, CertificateStatus, RequestState

IN_FORCE = frozenset({CertificateStatus.ISSUED, CertificateStatus.CANCELLATION_PENDING})
"""Valid in OID: issued, or issued and not yet cancelled there."""


def open_cancellations(state: RequestState) -> list[Certificate]:
    """Every certificate of the request still to be cancelled in OID, current or superseded."""
    return [c for c in state.every_certificate if c.status is CertificateStatus.CANCELLATION_PENDING]


def awaiting_gateway(state: RequestState) -> list[Certificate]:
    """The open cancellations the OID gateway is to make (api mode): those it has not refused."""
    return [c for c in open_cancellations(state) if c.oid_failure is None]


def nothing_issued_left(state: RequestState) -> bool:
    """No certificate of the current data is issued any more (cancelled, pending cancellation, or never)."""
    return not any(c.status is CertificateStatus.ISSUED for c in state.certificates)


def same_certificate(a: Certificate, b: Certificate) -> bool:
    """The same NOPIC of the request: the same commodity and the same revision."""
    return a.commodity_index == b.commodity_index and a.revision == b.revision


def next_revision(state: RequestState, commodity_index: int) -> int:
    """The revision a new certificate of this commodity gets: one above any the request ever held."""
    held = [c.revision for c in state.every_certificate if c.commodity_index == commodity_index]
    return max(held) + 1 if held else 0


def awaiting_confirmation(state: RequestState, commodity_index: int, number: str | None) -> list[Certificate]:
    """This commodity's certificates (of this number, if given) whose cancellation awaits confirmation."""
    return [
        c
        for c in open_cancellations(state)
        if c.commodity_index == commodity_index and (number is None or c.number == number)
    ]


def cancellation_problem(
    state: RequestState, commodity_index: int, number: str | None
) -> tuple[Certificate | None, str | None]:
    """The one certificate `commodity_index` (and `number`) names among those awaiting cancellation, or why
    there is none."""
    if not any(c.commodity_index == commodity_index for c in state.every_certificate):
        return None, f"commodity {commodity_index} does not exist: the request has {len(state.certificates)}"
    found = awaiting_confirmation(state, commodity_index, number)
    if not found:
        which = f"NOPIC {number}" if number else f"commodity {commodity_index}"
        return None, f"no cancellation of {which} awaits confirmation"
    if len(found) > 1:
        numbers = ", ".join(c.number or "" for c in found)
        return None, f"two NOPICs of commodity {commodity_index} await cancellation ({numbers}): name one"
    return found[0], None
