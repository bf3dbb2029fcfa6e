"""Caps on the activity timeouts and retry backoff the workflows ask for, applied by one worker.

A worker killed mid-activity is only noticed when the activity's start-to-close timeout runs out, and a
retry chain backs off to minutes: right for production, too slow for a test that kills workers on purpose.
The workflow code stays as it is; this worker's interceptor shortens what it schedules. Timeouts and retry
policies are not part of what a replay compares, so capped and uncapped workers share histories safely.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.worker import (
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle


def _shorter(value: timedelta | None, cap: timedelta | None) -> timedelta | None:
    if cap is None:
        return value
    return cap if value is None else min(value, cap)


def capped_retry(policy: RetryPolicy | None, cap: timedelta) -> RetryPolicy:
    """The same policy (attempts, non-retryable errors kept) backing off to at most `cap` between tries."""
    policy = policy or RetryPolicy()
    return replace(
        policy,
        initial_interval=min(policy.initial_interval, cap),
        maximum_interval=min(policy.maximum_interval or cap, cap),
    )


class ActivityCaps(Interceptor):
    def __init__(self, timeout_cap: timedelta | None, retry_cap: timedelta | None) -> None:
        caps = (timeout_cap, retry_cap)

        def cap(input: StartActivityInput | StartLocalActivityInput) -> None:
            timeout, retry = caps
            input.start_to_close_timeout = _shorter(input.start_to_close_timeout, timeout)
            if retry is not None:
                input.retry_policy = capped_retry(input.retry_policy, retry)

        class _Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
                cap(input)
                return super().start_activity(input)

            def start_local_activity(self, input: StartLocalActivityInput) -> ActivityHandle[Any]:
                cap(input)
                return super().start_local_activity(input)

        class _Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(_Outbound(outbound))

        self._inbound = _Inbound

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return self._inbound


def activity_caps(timeout_seconds: float | None, retry_seconds: float | None) -> list[Interceptor]:
    """The worker's interceptors: none unless a cap is set."""
    if timeout_seconds is None and retry_seconds is None:
        return []
    timeout = None if timeout_seconds is None else timedelta(seconds=timeout_seconds)
    retry = None if retry_seconds is None else timedelta(seconds=retry_seconds)
    return [ActivityCaps(timeout, retry)]
