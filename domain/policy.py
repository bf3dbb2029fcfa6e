"""The certifier's policy for one request, taken from settings when the request starts.

A running workflow keeps the policy it started with, so changing settings never changes a request already
under way, and its history replays the same.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Listed once, at import: workflows decode policies inside their sandbox, where `holidays` may not import.
_HOLIDAY_COUNTRIES = frozenset(holidays.list_supported_countries())


class IssuanceMode(StrEnum):
    API = "api"  # the OID gateway creates each NOPIC and returns its number
    MANUAL = "manual"  # certifier staff create each NOPIC in OID by hand and record its number


class OperationsSource(StrEnum):
    """Who says that the exporter's and the importer's operations are Certified before any NOPIC."""

    OID = "oid"  # a look-up of OID's operation data (the public data service, or the OID gateway's)
    REVIEWER = "reviewer"  # a reviewer looks both up in OID's public search and confirms it


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_lead_working_days: int = Field(default=3, ge=0)
    reminder_offsets: list[timedelta] = Field(
        default_factory=lambda: [timedelta(days=3), timedelta(days=1)],
        description="Reminders to the exporter this long before the customs deadline.",
    )
    timezone: str = "Europe/Brussels"
    holiday_country: str = "BE"
    closure_dates: list[date] = Field(default_factory=list)
    issuance_mode: IssuanceMode = IssuanceMode.API
    continue_as_new_after_actions: int | None = Field(
        default=None,
        ge=1,
        description="Continue as new after this many actions even before Temporal suggests it (tests only).",
    )
    operations_check: OperationsSource = Field(
        default=OperationsSource.OID, description="Who confirms both operations are Certified before issue."
    )
    operations_check_timeout: timedelta = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        description="How long the look-up of an operation may take before the check counts as unavailable.",
    )
    # Added later: each default is what a request started before it did, so its history replays the same.
    reminder_time: time | None = Field(
        default=None,
        description="Local time (in `timezone`) at which a reminder goes out on the day it is due; none: at "
        "the exact offset before its deadline.",
    )
    transport_grace_working_days: int = Field(
        default=0,
        ge=0,
        description="Working days left for a compliant transport document after one is rejected at, after "
        "or within a day of the customs deadline; 0: none, the NOPICs are cancelled at the deadline.",
    )
    deadline_move_allowance: timedelta | None = Field(
        default=None,
        description="How far past the timeframe's last day an exporter may move the customs deadline; "
        "further only with a reviewer's consent. None: no limit.",
    )
    quantities_report_before: timedelta | None = Field(
        default=None,
        description="How long before the NOPICs expire the exporter is asked for the net kg actually "
        "shipped per commodity; none: not asked.",
    )
    oid_issue_within: timedelta | None = Field(
        default=None,
        gt=timedelta(0),
        description="How long creating one NOPIC through the OID gateway may take, retries included, before "
        "issuance stops (OID did not answer) and a reviewer may approve again; none: no bound.",
    )

    @field_validator("reminder_offsets")
    @classmethod
    def _positive_offsets(cls, value: list[timedelta]) -> list[timedelta]:
        if any(offset <= timedelta(0) for offset in value):
            raise ValueError("a reminder offset is a positive duration before the customs deadline")
        return sorted(set(value), reverse=True)

    @field_validator("deadline_move_allowance", "quantities_report_before")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(0):
            raise ValueError("a duration here is zero or more")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            message = f"unknown time zone {value!r} (use an IANA name such as Europe/Brussels)"
            raise ValueError(message) from error
        return value

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in _HOLIDAY_COUNTRIES:
            raise ValueError(f"the holidays package knows no public holidays for country {value!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
