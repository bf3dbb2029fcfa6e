"""What one workflow's history holds, counted by kind: the engine work a request's lifecycle costs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench.engine import TwinPlan

_LOCAL_ACTIVITY = "core_local_activity"
_PATCH = "core_patch"


@dataclass
class HistoryCounts:
    events: int = 0
    workflow_tasks: int = 0
    updates: int = 0
    timers: int = 0
    search_attribute_upserts: int = 0
    patch_markers: int = 0
    activities: Counter[str] = field(default_factory=Counter)
    local_activities: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, events: list[HistoryEvent]) -> HistoryCounts:
        counts = cls(events=len(events))
        for event in events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                counts.workflow_tasks += 1
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                counts.updates += 1
            elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
                counts.timers += 1
            elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                counts.search_attribute_upserts += 1
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                counts.activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = event.marker_recorded_event_attributes
                if marker.marker_name == _PATCH:
                    counts.patch_markers += 1
                elif marker.marker_name == _LOCAL_ACTIVITY:
                    [data] = marker.details["data"].payloads
                    counts.local_activities[json.loads(data.data)["activity_type"]] += 1
        return counts

    def plan(self) -> TwinPlan:
        """The twin that costs the engine the same: as many updates, activities and timers."""
        return TwinPlan(
            updates=self.updates,
            activities=sum(self.activities.values()),
            local_activities=sum(self.local_activities.values()),
            timers=min(self.timers, self.updates),
        )

    def figures(self) -> dict[str, object]:
        return {
            "events": self.events,
            "workflow_tasks": self.workflow_tasks,
            "updates": self.updates,
            "timers": self.timers,
            "search_attribute_upserts": self.search_attribute_upserts,
            "patch_markers": self.patch_markers,
            "activities": dict(self.activities),
            "local_activities": dict(self.local_activities),
        }
