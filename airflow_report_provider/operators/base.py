"""What every operator, sensor and transfer of the provider shares: waiting for a report job, and failing well.

Waiting is either deferrable (the trigger polls, no worker slot is held; ``defer()`` gets the trigger's deadline
plus a buffer, as in the Airbyte provider) or blocking (the sync hook polls on the same adaptive schedule). Both
end in :meth:`ReportJobWaitMixin.check_event`, which fails the task with the job id, its status and the API's code.
Job ids are kept in Airflow 3.3's task state store so that a retried task reattaches instead of creating a new job.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import conf

from airflow_report_provider.common.exceptions import ReportJobFailedError, ReportProviderError
from airflow_report_provider.common.polling import PollSchedule, wait_for_terminal
from airflow_report_provider.common.states import EVENT_STATUS_FOR_STATE, EventStatus, ReportState, ReportStatus

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_report_provider.triggers.base import ReportJobTrigger

#: Extra time given to ``defer(timeout=...)`` beyond the trigger's own deadline, so the trigger's
#: ``timeout`` event (with its message) arrives before Airflow's generic deferral timeout.
DEFER_TIMEOUT_BUFFER = timedelta(minutes=5)


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` from the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def fail_task(error: BaseException) -> BaseException:
    """Turn a non-retryable provider error into ``AirflowFailException`` so Airflow does not retry it."""
    from airflow.sdk.exceptions import AirflowFailException

    if isinstance(error, ReportProviderError) and not error.retryable:
        failure = AirflowFailException(str(error))
        failure.__cause__ = error
        return failure
    return error


class ReportJobWaitMixin:
    """Wait for a report job (deferrable or blocking) and read the outcome. Mixed into BaseOperator subclasses."""

    #: The API's trigger class and guidance (set by each API's wrapper).
    trigger_class: ClassVar[type[ReportJobTrigger]]
    job_id_field: ClassVar[str]
    #: Key of the job id in the task state store (stable: renaming breaks in-flight retries).
    state_store_key: ClassVar[str]

    deferrable: bool
    poll_interval: float | None
    max_poll_interval: float | None
    timeout: Any
    log: Any

    # -- settings --------------------------------------------------------------------------------------------
    def wait_timeout_seconds(self) -> float:
        """How long to wait for the job (the operator's ``timeout``, else the trigger's default)."""
        value = self.timeout
        if value is None:
            return float(self.trigger_class.default_timeout_seconds)
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    def poll_schedule(self) -> PollSchedule:
        trigger = self.trigger_class
        return PollSchedule.for_api(
            api_minimum=trigger.api_min_poll_interval,
            api_maximum=trigger.api_max_poll_interval,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )

    def conn_id_value(self) -> str:
        raise NotImplementedError

    def sync_status(self, job_id: str) -> ReportStatus:
        """One status call through the sync hook."""
        raise NotImplementedError

    # -- task state store: reattach on retry ----------------------------------------------------------------
    @staticmethod
    def _store(context: Context) -> Any:
        try:
            return context.get("task_state_store")
        except Exception:  # pragma: no cover - outside a task
            return None

    def remember_job(self, context: Context, job_id: str) -> None:
        store = self._store(context)
        if store is not None:
            store.set(self.state_store_key, job_id)

    def remembered_job(self, context: Context) -> str | None:
        """The job this task created in an earlier try, if it is still usable (not failed or expired)."""
        store = self._store(context)
        job_id = store.get(self.state_store_key) if store is not None else None
        if not job_id:
            return None
        try:
            status = self.sync_status(str(job_id))
        except ReportProviderError as exc:
            self.log.warning("Job %s from an earlier try cannot be checked (%s); submitting a new one", job_id, exc)
            return None
        if status.state in (ReportState.FAILED, ReportState.EXPIRED):
            self.log.warning("Job %s from an earlier try is %s; submitting a new one", job_id, status.raw_status)
            return None
        self.log.info("Reattaching to job %s created by an earlier try (%s)", job_id, status.raw_status)
        return str(job_id)

    # -- waiting --------------------------------------------------------------------------------------------
    def defer_until_done(self, job_id: str, method_name: str, **trigger_kwargs: Any) -> None:
        """Hand the wait to the triggerer; resumes in ``method_name(context, event)``."""
        wait = self.wait_timeout_seconds()
        trigger = self.trigger_class(
            **{
                self.job_id_field: job_id,
                self.trigger_class.conn_id_field: self.conn_id_value(),
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "deadline": time.time() + wait,
                **trigger_kwargs,
            }
        )
        self.log.info("Deferring until %s %s is done (at most %.0f s)", self.job_id_field, job_id, wait)
        self.defer(trigger=trigger, method_name=method_name, timeout=timedelta(seconds=wait) + DEFER_TIMEOUT_BUFFER)  # type: ignore[attr-defined]

    def wait_blocking(self, job_id: str) -> dict[str, Any]:
        """Poll from the worker until the job is terminal; return the same payload a trigger event carries."""
        wait = self.wait_timeout_seconds()

        def log_poll(status: ReportStatus) -> None:
            self.log.info("%s %s is %s", self.job_id_field, job_id, status.raw_status)

        status = wait_for_terminal(
            lambda: self.sync_status(job_id), self.poll_schedule(), time.time() + wait, on_poll=log_poll
        )
        if status is None:
            return {
                "status": EventStatus.TIMEOUT.value,
                "message": f"{self.job_id_field} {job_id} was not ready within {wait:.0f} s",
                self.job_id_field: job_id,
            }
        message = f"{self.job_id_field} {job_id} is {status.raw_status}" + (f": {status.message}" if status.message else "")
        return {
            "status": EVENT_STATUS_FOR_STATE[status.state].value,
            "message": message,
            self.job_id_field: job_id,
            "raw_status": status.raw_status,
        }

    def check_event(self, event: dict[str, Any] | None) -> str:
        """Return the job id of a successful event; fail the task with job id, status and code otherwise."""
        if not event:
            raise ReportJobFailedError("the trigger ended without an event")
        job_id = event.get(self.job_id_field)
        status = event.get("status")
        if status == EventStatus.SUCCESS.value:
            self.log.info("%s", event.get("message") or f"{self.job_id_field} {job_id} is done")
            return str(job_id)
        raise ReportJobFailedError(
            f"{self.job_id_field} {job_id} did not complete ({status}): {event.get('message', '')}".rstrip(": "),
            job_id=job_id,
            status=status,
            code=event.get("code"),
        )
