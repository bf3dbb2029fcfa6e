"""The `workflow.patched` ids of the workflow, each named once, with the change it guards.

Histories recorded before a change take the old branch; once no running request predates it, the patch is
deprecated (`workflow.deprecate_patch`) and later removed with its old branch (README, "Upgrading workflow
code safely").
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.rules import Change

OPERATIONS_CHECK = "oid-operations-check"
"""The operations check by the policy's source, bounded in time, recorded, confirmable by a reviewer; before
it, the gateway's look-up retried without end and any failure stopped issuance."""

NUMBER_CLAIMS = "oid-number-claims"
"""A NOPIC number typed by hand is claimed for its commodity before it is recorded; before, a number another
request held made the audit write fail on the unique constraint, again and again."""

CANCELLATION_TASKS = "oid-cancellation-tasks"
"""Cancelling marks certificates `cancellation_pending` (a staff task in manual mode, the gateway's job in
api mode) and a refusal or withdrawal cancels the NOPICs issued; before, the gateway was called inline
under the lock, a 404 counted as cancelled, a refusal cancelled nothing."""

KEEP_UNCHANGED_CERTIFICATES = "oid-keep-unchanged-certificates"
"""A correction keeps the NOPICs whose data did not change and cancels the others; before, it reset every
certificate, forgetting the numbers issued."""

ISSUE_REFUSAL_TOLD = "oid-issue-refusal-told"
"""OID's refusal to issue a NOPIC shows on the certificate and is mailed to the review team."""

PRODUCTS_IN_SCOPE = "scope-products-in-scope"
"""With OID as the source, the operations check also looks up the exporter's certified items and stops
issuance for a product not among them; before, only the operations' status was checked."""

ISSUE_WITHIN = "scope-oid-issue-within"
"""Creating a NOPIC through the gateway is bounded by the policy's `oid_issue_within`: out of time, issuance
stops as for a refusal (the certificate says OID did not answer, since when; the review team is told);
before, OID was retried without end."""

TIMEKEEPING = "paths-timekeeping"
"""Each waiting step waits on the request's whole schedule (`domain.schedule`: reminders at the local hour,
the departure, a grace period, further shipments' documents, the expiry); before, each step had its own
timers."""


def rule_change(change: Change) -> str:
    """The patch of one change of the rules (`domain.rules.Change`): `paths-deadlines`, `paths-shipments`,
    `paths-corrections`, `paths-references`; histories recorded before it are judged by the rule of their
    day."""
    return f"paths-{change}"


RECORDS_IN_THE_WORKER = "perf-records-local-activity"
"""Each state change is recorded by a local activity, run by the worker inside the workflow task that made
the change: no round trip through the server, no activity task, the change's input not copied into the
history; before, a regular activity (scheduled, started, completed, then a workflow task more)."""

CHECKED_IN_BEFORE_MAIL = "perf-checked-in-before-mail"
"""A request is checked in (its documents checked, its status set) as soon as it is recorded, and the review
team is mailed after: the submission's answer is the status it then has (`domain.intake`); before, the
request stayed `received`, actions waiting, until that mail was delivered."""

OPERATIONS_LOOKED_UP_TOGETHER = "perf-operations-looked-up-together"
"""With OID as the source, the operations check asks for both operations and the exporter's certified
products at once, and judges the answers in the same order as before; before, one after the other."""

MAIL_QUEUE = "perf-mail-queue"
"""The messages a change causes are queued by a local activity in the change's workflow task, and sent by
one activity per step once the request's lock is released: an action is answered without waiting for a
mail server, and the messages are not copied into the history; before, each was sent by an activity of its
own, awaited where it was caused, under the lock. Asked once, as the run starts."""

REPLACEMENT = "replace-after-issue"
"""A reviewer replaces an issued NOPIC (`replace-certificate`): the old one is cancelled through the one
cancellation model, a new one issued (the gateway's task, or a number recorded while the NOPICs are in
force) and linked to it both ways; histories recorded before it have no replacement in them."""


ASKED_AT_START = "perf-patches-asked-at-start"
"""Every patch is asked as a run starts, in its first workflow task, so each marker sits where no local
activity precedes it. A patch first asked right after a local activity is recorded in whichever workflow
task the worker's answer to that activity landed in; a replay, which resolves the local activity from its
marker at once, may ask it one task earlier, and fail ("patch marker ... no corresponding change command").
Runs started before this patch ask each patch where the code reaches it, as before."""


def every_patch() -> list[str]:
    """Every patch of the workflow but `ASKED_AT_START` itself, in the order they were added."""
    return [
        OPERATIONS_CHECK,
        NUMBER_CLAIMS,
        CANCELLATION_TASKS,
        KEEP_UNCHANGED_CERTIFICATES,
        ISSUE_REFUSAL_TOLD,
        PRODUCTS_IN_SCOPE,
        ISSUE_WITHIN,
        TIMEKEEPING,
        *(rule_change(change) for change in Change),
        RECORDS_IN_THE_WORKER,
        CHECKED_IN_BEFORE_MAIL,
        REPLACEMENT,
        OPERATIONS_LOOKED_UP_TOGETHER,
        MAIL_QUEUE,
    ]


def ask_at_start() -> None:
    """As a run starts: ask every patch now, when this run is one that does (see `ASKED_AT_START`); each
    later `workflow.patched` of the same id gives the same answer without a command."""
    if workflow.patched(ASKED_AT_START):
        for patch in every_patch():
            workflow.patched(patch)
