"""The operations check before any NOPIC: are the exporter's and the importer's operations Certified in OID?

The policy names the source. `oid`: both are looked up in OID's operation data (the public data service,
or the OID gateway's look-up), each within the policy's time; the answer goes into the audit trail.
`reviewer`: a reviewer looks both up in OID's public search and confirms (`confirm-operations`). When OID
does not answer in time, the check is unavailable, says why on the request page and in the issuing queue,
and a reviewer may confirm by hand. An operation OID lists as anything but Certified stops issuance with
the reason, as before; so does a product of the request that is not among the exporter's certified items
in OID (`domain.scope`), when the source lists them (the public data service does, the gateway does not).
A reviewer's confirmation covers the products in scope too. The wait is for a condition, outside the
request's lock, so every action goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.nopic_request import calls, patches
from workflows.nopic_request.cancellations import Cancellations

with workflow.unsafe.imports_passed_through():
    from activities.oid import OperationNotFound
    from domain.policy import OperationsSource
    from domain.scope import out_of_scope
    from domain.state import SYSTEM, OperationsCheck
    from domain.state import OperationsCheckStatus as Check
    from domain.state import RequestStatus as Status

ROLES = ("exporter", "importer")
T = TypeVar("T")


class OperationsChecks(Cancellations):
    def _set_check(self, status: Check, detail: str | None = None) -> OperationsCheck:
        check = OperationsCheck(status=status, since=workflow.now(), detail=detail)
        self._state.operations_check = check
        return check

    async def check_operations(self) -> str | None:
        """Wait until both operations are confirmed Certified, the request leaves `issuing`, or it must
        continue as new; the reason when OID says one is not Certified (issuance then stops)."""
        state = self._state
        if state.operations_check is not None and state.operations_check.passed:
            return None  # confirmed for this approval already (a run that continued as new)
        if not workflow.patched(patches.OPERATIONS_CHECK):
            blocked = await self.check_operations_certified()
            self._operations_checked = blocked is None
            return blocked
        if state.policy.operations_check is OperationsSource.REVIEWER:
            self._set_check(
                Check.TO_CONFIRM,
                "a reviewer looks both operations up in OID and confirms them, with each product of the "
                "request among the exporter's certified products",
            )
        else:
            blocked = await self._look_up_in_oid()
            if blocked is not None:
                return blocked
        await workflow.wait_condition(
            lambda: (
                self._operations_passed or state.status is not Status.ISSUING or self._continue_as_new_due()
            )
        )
        return None

    async def _look_up_in_oid(self) -> str | None:
        """Both operations from OID's data, each within what is left of the policy's time."""
        state = self._state
        within = state.policy.operations_check_timeout
        deadline = workflow.now() + within
        self._set_check(Check.CHECKING, f"asking OID, until {deadline.isoformat(timespec='minutes')}")
        form = state.form
        found = []
        operations = (form.exporter.operation_id, form.importer.operation_id)
        asked: dict[str, Any] = {}
        if workflow.patched(patches.OPERATIONS_LOOKED_UP_TOGETHER):
            asked = await self._ask_together(deadline, workflow.patched(patches.PRODUCTS_IN_SCOPE))
        for role, operation_id in zip(ROLES, operations, strict=True):
            try:
                ask = partial(calls.lookup_operation, operation_id, within=_left(deadline))
                operation = await _answer(asked, role, ask)
            except ActivityError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError) and cause.type == OperationNotFound.error_type:
                    reason = f"the {role}'s operation {operation_id} is not listed in OID: {cause.message}"
                    return await self._not_certified(reason)
                why = calls.unanswered(error, within) or calls.failure_reason(error)
                await self._unavailable(f"the {role}'s operation {operation_id} could not be checked: {why}")
                return None
            if not operation.certified:
                return await self._not_certified(
                    f"the {role}'s operation {operation_id} ({operation.name}) is {operation.status!r} "
                    "in OID, not Certified: NOPICs cannot be issued for it"
                )
            since = f" since {operation.status_date}" if operation.status_date else ""
            found.append(f"{role} {operation_id} ({operation.name}) Certified{since}")
        if workflow.patched(patches.PRODUCTS_IN_SCOPE):
            scope = await self._look_up_scope(within, deadline, asked)
            if scope is None:
                return None  # unavailable: a reviewer may confirm by hand
            in_scope, detail = scope
            if not in_scope:
                return await self._not_certified(detail)
            found.append(detail)
        if state.status is Status.ISSUING:
            async with self._lock:
                self._set_check(Check.CERTIFIED, "OID lists " + "; ".join(found))
                await self._record("operations_checked", SYSTEM, detail="OID lists " + "; ".join(found))
        return None

    async def _ask_together(self, deadline: datetime, with_scope: bool) -> dict[str, Any]:
        """Both operations, and the exporter's certified products, asked at once, each within the check's
        time: each answer (or its failure) by what it answers, judged in the same order as one by one."""
        form = self._state.form
        look_ups: dict[str, Awaitable[Any]] = {
            "exporter": calls.lookup_operation(form.exporter.operation_id, within=_left(deadline)),
            "importer": calls.lookup_operation(form.importer.operation_id, within=_left(deadline)),
        }
        if with_scope:
            look_ups["scope"] = calls.lookup_certified_items(
                form.exporter.operation_id, within=_left(deadline)
            )
        answers = await asyncio.gather(*look_ups.values(), return_exceptions=True)
        return dict(zip(look_ups, answers, strict=True))

    async def _look_up_scope(
        self, within: timedelta, deadline: datetime, asked: dict[str, Any]
    ) -> tuple[bool, str] | None:
        """Whether every commodity is among the exporter's certified products in OID, with what to say of
        it; None when OID could not say in time (the check is then unavailable, as for the operations)."""
        state = self._state
        operation_id = state.form.exporter.operation_id
        try:
            ask = partial(calls.lookup_certified_items, operation_id, within=_left(deadline))
            listed = await _answer(asked, "scope", ask)
        except ActivityError as error:
            why = calls.unanswered(error, within) or calls.failure_reason(error)
            await self._unavailable(
                f"the products certified for the exporter's operation {operation_id} could not be "
                f"checked: {why}"
            )
            return None
        if not listed.listed:
            return True, "products in scope not listed by this source (the gateway refuses one out of scope)"
        missing = out_of_scope(state.form.commodities, listed.items)
        if missing:
            names = ", ".join(repr(name) for name in missing)
            certified = ", ".join(item.name for item in listed.items if item.certified) or "none"
            verb = "is" if len(missing) == 1 else "are"
            return False, (
                f"{names} {verb} not among the products OID lists as certified for the exporter's operation "
                f"{operation_id} (certified: {certified}): NOPICs cannot be issued for a product out of "
                "the exporter's scope"
            )
        return True, f"every product in the exporter's scope ({len(state.form.commodities)} checked)"

    async def check_operations_certified(self) -> str | None:
        """Why NOPICs cannot be issued for these operations, or None when both are certified in OID.
        The check of runs recorded before the `oid-operations-check` patch (`check_operations` since)."""
        form = self._state.form
        for role, operation_id in (
            ("exporter", form.exporter.operation_id),
            ("importer", form.importer.operation_id),
        ):
            try:
                operation = await calls.lookup_operation(operation_id)
            except ActivityError as error:
                reason = calls.failure_reason(error)
                return f"the {role}'s operation {operation_id} could not be checked in OID: {reason}"
            if not operation.certified:
                return (
                    f"the {role}'s operation {operation_id} ({operation.name}) is {operation.status!r} "
                    "in OID, not Certified: NOPICs cannot be issued for it"
                )
        return None

    async def _unavailable(self, reason: str) -> None:
        """OID could not say in time: the check is unavailable, and a reviewer may confirm by hand."""
        if self._state.status is Status.ISSUING:
            async with self._lock:
                self._set_check(Check.UNAVAILABLE, reason)
                await self._record("operations_check_unavailable", SYSTEM, detail=reason)

    async def _not_certified(self, reason: str) -> str:
        self._set_check(Check.NOT_CERTIFIED, reason)
        return reason


async def _answer(asked: dict[str, Any], key: str, ask: Callable[[], Awaitable[T]]) -> T:
    """The answer asked at once under `key` (its failure raised again); else asked now."""
    if key not in asked:
        return await ask()
    answer = asked[key]
    if isinstance(answer, BaseException):
        raise answer
    return cast(T, answer)


def _left(deadline: datetime) -> timedelta:
    """The time left before `deadline`, never less than a second (an activity needs a positive timeout)."""
    return max(deadline - workflow.now(), timedelta(seconds=1))
