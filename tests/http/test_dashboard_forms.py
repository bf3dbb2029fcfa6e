"""The dashboard's plain forms read as the API's bodies: a time from the date-time picker and the zone
chosen beside it, never typed as ISO text (`web.dashboard.forms`, no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from starlette.datastructures import FormData

from web.dashboard.forms import action_body, aware, local_and_zone, time_zones

ZONES = time_zones("Europe/Brussels")


@pytest.mark.parametrize(
    ("local", "zone", "expected"),
    [
        # Summer and winter in New York: the zone, not a typed offset, knows which applies.
        ("2027-07-01T08:00", "America/New_York", "2027-07-01T08:00:00-04:00"),
        ("2027-01-15T08:00", "America/New_York", "2027-01-15T08:00:00-05:00"),
        ("2027-03-30T23:15", "Europe/Brussels", "2027-03-30T23:15:00+02:00"),
        ("2027-03-30T23:15", None, "2027-03-30T23:15:00+00:00"),
    ],
)
def test_a_time_is_the_picker_s_local_value_in_the_zone_chosen_beside_it(
    local: str, zone: str | None, expected: str
) -> None:
    fields = [("eta", local), *([("eta_zone", zone)] if zone else [])]
    assert aware(FormData(fields), "eta") == expected


def test_what_cannot_be_read_is_passed_on_for_the_model_to_name_the_field() -> None:
    assert aware(FormData([("eta", "2027-07-01T08:00"), ("eta_zone", "Mars/Olympus")]), "eta") == (
        "2027-07-01T08:00:00 Mars/Olympus"
    )
    assert aware(FormData([("eta", "")]), "eta") is None


def test_a_time_is_shown_in_the_first_offered_zone_that_has_its_offset_then() -> None:
    assert ZONES[0] == "America/New_York" and "Europe/Brussels" in ZONES and ZONES[-1] == "UTC"
    chicago = datetime(2027, 7, 1, 8, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert local_and_zone(chicago, ZONES) == ("2027-07-01T08:00", "America/Chicago")
    assert local_and_zone(datetime(2027, 7, 1, 8, 0, tzinfo=UTC), ZONES) == ("2027-07-01T08:00", "UTC")
    assert local_and_zone(None, ZONES) == ("", "America/New_York")


def test_an_eta_update_from_the_dashboard_carries_the_zone_s_offset_and_its_own_action_id() -> None:
    form = FormData(
        [
            ("eta", "2027-10-02T08:00"),
            ("eta_zone", "America/Los_Angeles"),
            ("expected_clearance", ""),
            ("action_id", "ui-1234"),
        ]
    )
    assert action_body("update-eta", form) == {"eta": "2027-10-02T08:00:00-07:00", "action_id": "ui-1234"}
