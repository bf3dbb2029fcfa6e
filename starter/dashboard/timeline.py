"""The request's timeline as a picture: receipt, ETD, reminders, customs deadline, end of timeframe, today.

Computed here and drawn by the template as inline SVG, so the page needs no script and no image request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.state import RequestState

WIDTH = 960
MARGIN = 70
AXIS_Y = 70


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    day: str
    kind: str  # css class: receipt, etd, reminder, deadline, end, today
    above: bool


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    axis_y: int
    start_x: float
    end_x: float
    marks: list[Mark]
    today_x: float


def _as_datetime(value: date | datetime, zone_of: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(12), tzinfo=zone_of.tzinfo)


def timeline(state: RequestState, now: datetime) -> Timeline:
    form = state.form
    zone = now.astimezone(state.policy.zone)
    points: list[tuple[datetime, str, str]] = [
        (form.received_at, "received", "receipt"),
        (_as_datetime(form.shipment.etd, zone), "ETD", "etd"),
    ]
    for offset in state.policy.reminder_offsets:
        days = offset / timedelta(days=1)
        points.append((state.customs_deadline - offset, f"reminder −{days:g}d", "reminder"))
    points.append((state.customs_deadline, "customs deadline", "deadline"))
    points.append((_as_datetime(form.timeframe.last_day, zone), "end of timeframe", "end"))

    first = min([p[0] for p in points] + [now]) - timedelta(days=1)
    last = max([p[0] for p in points] + [now]) + timedelta(days=1)
    span = (last - first).total_seconds()

    def x(at: datetime) -> float:
        return round(MARGIN + (WIDTH - 2 * MARGIN) * (at - first).total_seconds() / span, 1)

    marks = [
        Mark(
            x=x(at),
            label=label,
            day=at.astimezone(state.policy.zone).strftime("%d %b"),
            kind=kind,
            above=position % 2 == 0,
        )
        for position, (at, label, kind) in enumerate(sorted(points, key=lambda p: p[0]))
    ]
    return Timeline(
        width=WIDTH,
        height=150,
        axis_y=AXIS_Y,
        start_x=MARGIN,
        end_x=WIDTH - MARGIN,
        marks=marks,
        today_x=x(now),
    )
