"""Transport documents, shipment by shipment: the first shipment's rejected, with a grace period when the
customs deadline is at hand. Called by the handler of `reject-transport-document` (`handlers.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from workflows.nopic_request.alarms import Alarms

with workflow.unsafe.imports_passed_through():
    from domain.calendar import grace_end

# A rejection this close to the customs deadline (or after it) leaves no time to send another document:
# the policy's grace period opens.
NO_TIME_LEFT = timedelta(days=1)


class Shipments(Alarms):
    def _grace_from_now(self) -> datetime:
        # `holidays` sets up its country's rules on first use, outside the sandbox (see `run.lead_time`).
        with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
            return grace_end(self._state.policy, workflow.now())

    def open_grace_if_no_time_left(self) -> None:
        """A rejection at, after or within a day of the customs deadline leaves the policy's working days
        for a compliant document; the NOPICs are cancelled only when none came by then."""
        state = self._state
        if state.grace_until is None and state.customs_deadline - workflow.now() <= NO_TIME_LEFT:
            if state.policy.transport_grace_working_days > 0:
                state.grace_until = self._grace_from_now()
                state.grace_reminded = False
