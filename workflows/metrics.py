"""The service's own metrics, emitted by the ReturnCase workflow through the SDK's meter (so they
are exported with the SDK's on the worker's Prometheus port, and never counted during replay)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.case import ReturnCase

CASES_OPENED = "returns_cases_opened"
CASES_CLOSED = "returns_cases_closed"
TIME_TO_CLOSE = "returns_time_to_resolution_days"
# Cases take hours to weeks, not the milliseconds the SDK's default buckets are made for.
BUCKETS = {TIME_TO_CLOSE: [0.04, 0.25, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90]}


def record_transition(before: ReturnCase | None, after: ReturnCase) -> None:
    """Count a case opened, or closed (by kind and status) with how long it was open."""
    meter = workflow.metric_meter()
    labels = {"kind": after.assessment.kind, "status": after.status}
    if before is None:
        meter.create_counter(CASES_OPENED, "return cases opened, by kind and first status").add(1, labels)
    if after.closed_at is not None and (before is None or before.closed_at is None):
        meter.create_counter(CASES_CLOSED, "return cases closed, by kind and final status").add(1, labels)
        days = (after.closed_at - after.opened_at).total_seconds() / 86400
        meter.create_histogram_float(TIME_TO_CLOSE, "days from intake to close", "d").record(days, labels)
