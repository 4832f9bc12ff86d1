"""Failing well: which errors Airflow retries, and how a finished wait becomes a job id or a failed task."""

from __future__ import annotations

from typing import Any

from airflow_report_provider.common.exceptions import ReportJobFailedError, ReportProviderError
from airflow_report_provider.common.states import EVENT_STATUS_FOR_STATE, EventStatus, ReportStatus


def fail_task(error: BaseException) -> BaseException:
    """Turn a non-retryable provider error into ``AirflowFailException`` so Airflow does not retry it."""
    from airflow_report_provider.compat import AirflowFailException

    if isinstance(error, ReportProviderError) and not error.retryable:
        failure = AirflowFailException(str(error))
        failure.__cause__ = error
        return failure
    return error


def status_event(job_id_field: str, status: ReportStatus) -> dict[str, Any]:
    """The payload a trigger would send for a terminal status seen by a sync call."""
    detail = f": {status.message}" if status.message else ""
    return {
        "status": EVENT_STATUS_FOR_STATE[status.state].value,
        job_id_field: status.job_id,
        "message": f"{job_id_field} {status.job_id} is {status.raw_status}{detail}",
        "raw_status": status.raw_status,
    }


def job_outcome(job_id_field: str, event: dict[str, Any] | None, log: Any) -> str:
    """The job id of a successful event; fail the task with job id, status and code otherwise."""
    if not event:
        raise ReportJobFailedError("the trigger ended without an event")
    job_id = event.get(job_id_field)
    status = event.get("status")
    if status == EventStatus.SUCCESS.value:
        log.info("%s", event.get("message") or f"{job_id_field} {job_id} is done")
        return str(job_id)
    failure = ReportJobFailedError(
        f"{job_id_field} {job_id} did not complete ({status}): {event.get('message', '')}".rstrip(": "),
        job_id=job_id,
        status=status,
        code=event.get("code"),
    )
    # A retry helps after a timeout (it reattaches), a failed or expired job (it submits anew) or a passing
    # error; not after refused credentials, missing permissions or an invalid request.
    failure.retryable = bool(event.get("retryable", True))
    raise fail_task(failure)
