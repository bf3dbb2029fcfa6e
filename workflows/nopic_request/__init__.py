"""The NOPIC request workflow: the certifier's procedure, made durable.

One workflow per request. It reads like the procedure: receive the request and check its documents;
review it (approve, ask for corrections, refuse; the exporter may send documents, correct data or
withdraw); issue one NOPIC per commodity in OID; wait for the definitive transport document before the
customs-clearance deadline, reminding the exporter; keep the request active while shipments are made
within the timeframe; expire it at the end of the timeframe with a reconciliation.

- `workflow.py`: the `NopicRequest` class and its `run`: which step runs for which status.
- `procedure.py`: the steps, in the certifier's order.
- `operations.py`: the operations check before any NOPIC (OID's data within a time, or a reviewer).
- `cancellations.py`: the one place that cancels NOPICs, per mode (staff's task, or the OID gateway).
- `timekeeping.py`: while a step waits, the request keeps its time: whatever comes due next
  (`domain.schedule`) rings; `alarms.py`: what the reminders, the departure, a further shipment's
  document deadline and the ask for the kg shipped do when they ring.
- `shipments.py`, `moves.py`: further shipments and their documents; moves of the customs deadline.
- `handlers.py`: what people do: the updates, the signals and the `state` query.
- `oid_actions.py`: what people do about OID: record numbers typed by hand, confirm the operations, send
  back to review, confirm or retry a cancellation.
- `decisions.py`: the reviewer's decisions of the unhappy paths (corrections resolved, deadline moves
  accepted or declined) and the exporter's report of the kg shipped.
- `patches.py`: the `workflow.patched` ids, each with the change it guards.
- `run.py`: what one run shares: the state, its lock, recording a change, continue-as-new.
- `deadline.py`: waits for deadlines that move.
- `calls.py`: the activities it calls, with their timeouts and retry policies.

Who may do what, and why an action is refused, are pure rules in `domain/` (`actions.py`, `rules.py`).
"""

from workflows.nopic_request.handlers import ACTION_REFUSED
from workflows.nopic_request.workflow import NopicRequest

__all__ = ["ACTION_REFUSED", "NopicRequest"]
