"""Waiting for a report job: deferred to the triggerer (no worker slot held) or polled from the worker.

Both ways end in the same payload, read by :func:`~airflow_report_provider.operators.outcomes.job_outcome`.
``defer()`` gets the trigger's absolute deadline plus a buffer (as in the Airbyte provider), so the trigger's own
``timeout`` event, with its message, arrives before Airflow's generic deferral timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.exceptions import RateLimitedError
from airflow_report_provider.common.polling import wait_for_terminal
from airflow_report_provider.common.states import EventStatus, ReportStatus
from airflow_report_provider.common.validation import duration
from airflow_report_provider.operators.outcomes import job_outcome, status_event
from airflow_report_provider.operators.report_api import ReportApi

class JobStatusSource(Protocol):
    """What a wait polls: an API's sync hook."""

    protocol: Any

    def get_job_status(self, job_id: str) -> ReportStatus: ...


class Deferring(Protocol):
    """What a wait defers: the operator (``BaseOperator.defer``)."""

    def defer(self, *, trigger: Any, method_name: str, timeout: timedelta | None = None) -> Any: ...


#: Extra time given to ``defer(timeout=...)`` beyond the trigger's own deadline.
DEFER_TIMEOUT_BUFFER = timedelta(minutes=5)


def seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def check_wait_arguments(**durations: Any) -> None:
    """``poll_interval``, ``max_poll_interval``, ``timeout``: seconds or timedeltas, more than 0 (or None), checked
    when the DAG is parsed (``ReportValidationError`` naming the argument)."""
    for name, value in durations.items():
        duration(name, value)


@dataclass
class JobWait:
    """How long and how often to wait for one API's job, and where (triggerer or worker)."""

    api: ReportApi
    conn_id: str
    deferrable: bool
    poll_interval: float | None
    max_poll_interval: float | None
    timeout: Any
    log: Any

    def timeout_seconds(self) -> float:
        """The task's ``timeout``, else the API's default wait."""
        return self.api.default_timeout if self.timeout is None else seconds(self.timeout)

    def until_done(self, task: Deferring, hook: JobStatusSource, job_id: str, method_name: str) -> str:
        """Defer (the task resumes in ``method_name(context, event)``) or poll from the worker; the job id once done."""
        if self.deferrable:
            self.defer(task, job_id, method_name)
        return job_outcome(self.api.job_id_field, self.blocking(hook, job_id), self.log)

    def defer(self, task: Deferring, job_id: str, method_name: str) -> None:
        """Hand the wait to the triggerer; the trigger carries ids, conn id, poll settings and a deadline only."""
        wait = self.timeout_seconds()
        trigger = self.api.trigger_class(
            **{
                self.api.job_id_field: job_id,
                self.api.conn_id_field: self.conn_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "deadline": time.time() + wait,
            }
        )
        self.log.info("Deferring until %s %s is done (at most %.0f s)", self.api.job_id_field, job_id, wait)
        task.defer(trigger=trigger, method_name=method_name, timeout=timedelta(seconds=wait) + DEFER_TIMEOUT_BUFFER)

    def blocking(self, hook: JobStatusSource, job_id: str) -> dict[str, Any]:
        """Poll from the worker until the job is terminal; the same payload a trigger event carries."""
        wait = self.timeout_seconds()
        deadline, started = time.time() + wait, time.monotonic()
        field = self.api.job_id_field

        def log_poll(status: ReportStatus) -> None:
            self.log.info("%s %s is %s", field, job_id, status.raw_status)

        status = wait_for_terminal(
            lambda: self.poll_once(hook, job_id, deadline),
            self.api.poll_schedule(self.poll_interval, self.max_poll_interval),
            deadline,
            on_poll=log_poll,
        )
        event = (
            status_event(field, status)
            if status is not None
            else {"status": EventStatus.TIMEOUT.value, "message": f"{field} {job_id} was not ready within {wait:.0f} s", field: job_id}
        )
        metrics.job_waited(hook.protocol.api_name, event["status"], time.monotonic() - started)
        return event

    def poll_once(self, hook: JobStatusSource, job_id: str, deadline: float) -> ReportStatus:
        """One status call; a throttled one (a wait longer than the transport's own) is sent again after the
        wait the API asked for, unless that is past the deadline."""
        while True:
            try:
                return hook.get_job_status(job_id)
            except RateLimitedError as exc:
                if not exc.retry_after or time.time() + exc.retry_after >= deadline:
                    raise
                self.log.warning(
                    "%s %s: status check throttled; polling again in %.1f s", self.api.job_id_field, job_id, exc.retry_after
                )
                time.sleep(exc.retry_after)
