"""The request's timeline as a picture: receipt, ETD, reminders, customs deadline, end of timeframe, today.

Computed here and drawn by the template as inline SVG, so the page needs no script and no image request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.state import RequestState

WIDTH = 960
MARGIN = 70
AXIS_Y = 100
HEIGHT = 200
# Label rows, nearest first: (label y, day y) relative to the axis. A label takes the first row where it
# does not overlap the label before it, so close dates (reminders, deadline) stay readable.
_ROWS = ((-42, -28), (40, 54), (-74, -60), (72, 86))
_CHAR_WIDTH = 6.5  # px per character at the timeline's font size, roughly


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    day: str
    kind: str  # css class: receipt, etd, reminder, deadline, end
    label_y: int
    day_y: int

    @property
    def stem_y(self) -> int:
        """Where the line from the axis towards the label ends."""
        return self.day_y + 12 if self.label_y < 0 else self.label_y - 14


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

    marks: list[Mark] = []
    row_ends = [float("-inf")] * len(_ROWS)
    for at, label, kind in sorted(points, key=lambda p: p[0]):
        day = at.astimezone(state.policy.zone).strftime("%d %b")
        half = max(len(label), len(day)) * _CHAR_WIDTH / 2
        centre = x(at)
        row = next((r for r, end in enumerate(row_ends) if end + 8 < centre - half), len(_ROWS) - 1)
        row_ends[row] = centre + half
        label_y, day_y = _ROWS[row]
        marks.append(Mark(centre, label, day, kind, AXIS_Y + label_y, AXIS_Y + day_y))
    return Timeline(
        width=WIDTH,
        height=HEIGHT,
        axis_y=AXIS_Y,
        start_x=MARGIN,
        end_x=WIDTH - MARGIN,
        marks=marks,
        today_x=x(now),
    )
