"""What a request waits for next: every reminder and deadline of the procedure, computed from its state.

The workflow sleeps until the earliest of them and acts on all that are due then (`workflows/nopic_request/
timekeeping.py`); whatever changes the state (an ETA moved, a document in, a rejection) changes this list,
and the workflow plans again. Pure: the same state gives the same list, so a replay plans the same timers.

- Before departure: reminders of the items due before departure still missing (the phytosanitary
  certificate), at the policy's offsets before the ETD, and the departure itself, where whatever is still
  missing is flagged for the reviewers.
- Awaiting the first shipment's transport document: reminders before the customs deadline, then the
  deadline; after a rejection at (or within a day of) it, a grace period with one reminder, then its end.
- Active: a further shipment's rejected transport document (a reminder, then its deadline), the exporter
  asked for the net kg shipped a while before the NOPICs expire, and their expiry: the end of the timeframe,
  never before a shipment's customs deadline.

A reminder whose time has passed when it is planned is skipped (the exporter hears of the next one); a
deadline is never skipped: one found passed is acted on at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from domain.policy import Policy
from domain.state import RequestState, RequestStatus, Requirement

ONE_DAY = timedelta(days=1)


class DueKind(StrEnum):
    """What comes due, in the words of the timer's summary; reminders first when two fall together."""

    DEPARTURE_REMINDER = "departure reminder"
    TRANSPORT_REMINDER = "transport reminder"
    GRACE_REMINDER = "grace period reminder"
    SHIPMENT_REMINDER = "shipment document reminder"
    QUANTITIES_REPORT = "quantities report"
    DEPARTURE = "departure"
    CUSTOMS_DEADLINE = "customs deadline"
    GRACE_END = "end of the grace period"
    SHIPMENT_DEADLINE = "shipment document deadline"
    EXPIRY = "end of the timeframe"

    @property
    def is_reminder(self) -> bool:
        return self in _REMINDERS


_REMINDERS = frozenset(
    {
        DueKind.DEPARTURE_REMINDER,
        DueKind.TRANSPORT_REMINDER,
        DueKind.GRACE_REMINDER,
        DueKind.SHIPMENT_REMINDER,
    }
)
_ORDER = {kind: position for position, kind in enumerate(DueKind)}


@dataclass(frozen=True)
class Due:
    """One thing that comes due at `at`: a reminder of `deadline`, or the deadline itself."""

    kind: DueKind
    at: datetime
    deadline: datetime
    offset: timedelta | None = None
    shipment: int | None = None


def on_reminder_day(policy: Policy, deadline: datetime, offset: timedelta) -> datetime:
    """When the reminder `offset` before `deadline` goes out: at the policy's local time on that day; at
    the exact instant without one, or when that local time would not come before the deadline."""
    exact = deadline - offset
    if policy.reminder_time is None:
        return exact
    local = datetime.combine(exact.astimezone(policy.zone).date(), policy.reminder_time, tzinfo=policy.zone)
    return local if local < deadline else exact


def departure(state: RequestState) -> datetime:
    """Items due before departure are due when the ETD begins, in the certifier's time zone."""
    return datetime.combine(state.form.shipment.etd, time(0), tzinfo=state.policy.zone)


def timeframe_end(state: RequestState) -> datetime:
    """The NOPICs cover the timeframe's last day to its end, in the certifier's time zone."""
    last_day = state.form.timeframe.last_day
    return datetime.combine(last_day + ONE_DAY, time(0), tzinfo=state.policy.zone)


def expiry(state: RequestState) -> datetime:
    """When the NOPICs expire: the end of the timeframe, never before a shipment's customs deadline (nor
    while a transport document may still come)."""
    instants = [timeframe_end(state), state.customs_deadline]
    if state.grace_until is not None:
        instants.append(state.grace_until)
    for shipment in state.shipments:
        instants += [t for t in (shipment.customs_deadline, shipment.document_deadline) if t is not None]
    return max(instants)


def deadline_move_limit(state: RequestState) -> datetime | None:
    """The latest customs deadline an exporter may set alone: the timeframe's end plus the allowance."""
    allowance = state.policy.deadline_move_allowance
    return None if allowance is None else timeframe_end(state) + allowance


def due(state: RequestState) -> tuple[Due, ...]:
    """Everything still to come for the request in its status, earliest first."""
    status, policy = state.status, state.policy
    if status.is_final or status is RequestStatus.RECEIVED:
        return ()
    items: list[Due] = []
    if not state.departure_checked and state.missing(Requirement.BEFORE_DEPARTURE):
        leaving = departure(state)
        items += _reminders(DueKind.DEPARTURE_REMINDER, policy, leaving, state.departure_reminders_sent)
        items.append(Due(DueKind.DEPARTURE, leaving, leaving))
    if status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT:
        deadline = state.customs_deadline
        if state.grace_until is None:
            items += _reminders(DueKind.TRANSPORT_REMINDER, policy, deadline, state.reminders_sent)
            items.append(Due(DueKind.CUSTOMS_DEADLINE, deadline, deadline))
        else:
            end = max(state.grace_until, deadline)
            if not state.grace_reminded:
                items.append(Due(DueKind.GRACE_REMINDER, on_reminder_day(policy, end, ONE_DAY), end))
            items.append(Due(DueKind.GRACE_END, end, end))
    if status is RequestStatus.ACTIVE:
        for index, shipment in enumerate(state.shipments):
            document_due = shipment.document_deadline
            if document_due is None:
                continue
            if not shipment.reminded:
                at = on_reminder_day(policy, document_due, ONE_DAY)
                items.append(Due(DueKind.SHIPMENT_REMINDER, at, document_due, shipment=index))
            items.append(Due(DueKind.SHIPMENT_DEADLINE, document_due, document_due, shipment=index))
        end = expiry(state)
        if policy.quantities_report_before is not None and not state.quantities_asked:
            at = on_reminder_day(policy, end, policy.quantities_report_before)
            items.append(Due(DueKind.QUANTITIES_REPORT, at, end))
        items.append(Due(DueKind.EXPIRY, end, end))
    return tuple(sorted(items, key=lambda d: (d.at, _ORDER[d.kind], d.shipment or 0)))


def _reminders(kind: DueKind, policy: Policy, deadline: datetime, sent: list[timedelta]) -> list[Due]:
    return [
        Due(kind, on_reminder_day(policy, deadline, offset), deadline, offset=offset)
        for offset in policy.reminder_offsets
        if offset not in sent
    ]


def next_due(items: Sequence[Due], now: datetime) -> list[Due]:
    """What comes due next, all at once: the earliest item whose time has not passed (a reminder whose
    time passed is skipped, a deadline never), with every deadline already due by then."""
    live = [d for d in items if not (d.kind.is_reminder and d.at <= now)]
    if not live:
        return []
    until = max(min(d.at for d in live), now)
    return [d for d in live if d.at <= until]


class Attention(StrEnum):
    """What the reviewers' queues flag a request for, beyond its status."""

    GRACE_PERIOD_RUNNING = "grace_period_running"
    DEPARTED_WITH_DOCUMENTS_MISSING = "departed_with_documents_missing"
    DEADLINE_MOVE_PENDING = "deadline_move_pending"


def grace_running(state: RequestState) -> datetime | None:
    """The end of the grace period a rejected transport document left, first shipment's or a further one's."""
    if state.status.is_final:
        return None
    ends = [s.grace_until for s in state.shipments if s.grace_until is not None and s.document_deadline]
    if state.grace_until is not None and state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT:
        ends.append(max(state.grace_until, state.customs_deadline))
    return min(ends) if ends else None


def attention(state: RequestState) -> list[Attention]:
    """Grace periods running, items due before departure missing once it came, a move past the allowance
    waiting for a reviewer."""
    if state.status.is_final:
        return []
    flags = []
    if grace_running(state) is not None:
        flags.append(Attention.GRACE_PERIOD_RUNNING)
    if state.departed_missing:
        flags.append(Attention.DEPARTED_WITH_DOCUMENTS_MISSING)
    if state.pending_deadline_move is not None:
        flags.append(Attention.DEADLINE_MOVE_PENDING)
    return flags
