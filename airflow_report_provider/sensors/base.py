"""The report-job sensor every API shares: poke / reschedule through the sync hook, or defer to the trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_report_provider.compat import BaseSensorOperator

from airflow_report_provider.common.exceptions import RateLimitedError, ReportProviderError
from airflow_report_provider.common.states import EventStatus, ReportState
from airflow_report_provider.operators.arguments import is_runtime_value
from airflow_report_provider.operators.base import ReportJobOperator
from airflow_report_provider.operators.outcomes import fail_task, job_outcome, status_event
from airflow_report_provider.operators.report_api import ReportApi
from airflow_report_provider.operators.waiting import check_wait_arguments

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context


class ReportJobSensorBase(BaseSensorOperator):
    """Succeeds when the job is done; fails with the job id, status and code when it failed or expired.

    ``timeout`` is the sensor's own (seconds); in deferrable mode it becomes the trigger's absolute deadline.
    Subclasses set ``api`` and take the job id and connection id under the API's own argument names.
    """

    api: ClassVar[ReportApi]

    # The operators' own accessors, reused as they are (a sensor submits nothing, so it is no ReportJobOperator):
    # the connection id under the API's name, the sync hook kept for the try, the wait (deferred to the trigger),
    # and the outcome of the trigger's event.
    conn_id = ReportJobOperator.conn_id
    hook = ReportJobOperator.hook
    job_wait = ReportJobOperator.job_wait
    job_done = ReportJobOperator.job_done

    def __init__(
        self,
        *,
        job_id: Any,
        conn_id: str,
        deferrable: bool,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_wait_arguments(poll_interval=poll_interval, max_poll_interval=max_poll_interval)
        kwargs.setdefault("poke_interval", poll_interval if poll_interval is not None else self.api.min_poll_interval)
        super().__init__(**kwargs)
        setattr(self, self.api.job_id_field, job_id)
        setattr(self, self.api.conn_id_field, conn_id)
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        if not is_runtime_value(job_id):
            self.validate_job_id(job_id)

    def validate_job_id(self, job_id: Any) -> str:
        """The API's job id rule (raises ``ReportValidationError`` naming the argument)."""
        raise NotImplementedError

    @property
    def job_id(self) -> str:
        return getattr(self, self.api.job_id_field)

    def execute(self, context: Context) -> Any:
        try:
            self.validate_job_id(self.job_id)
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        if not self.deferrable:
            super().execute(context)
        elif not self.poke(context):
            self.job_wait().defer(self, self.job_id, "execute_complete")
        return self.job_id

    def poke(self, context: Context) -> bool:
        job_id = self.job_id
        try:
            status = self.hook.get_job_status(job_id)
        except RateLimitedError as exc:
            self.log.warning("%s %s: status check throttled (%s); poking again later", self.api.job_id_field, job_id, exc)
            return False
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        self.log.info("%s %s is %s", self.api.job_id_field, job_id, status.raw_status)
        if status.state is ReportState.SUCCEEDED:
            return True
        if status.state.is_terminal:
            job_outcome(self.api.job_id_field, status_event(self.api.job_id_field, status), self.log)
        return False

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger; fail unless the job is done (a timeout is a sensor timeout: ``soft_fail``
        skips the task, and it is not retried)."""
        if event and event.get("status") == EventStatus.TIMEOUT.value:
            from airflow_report_provider.compat import AirflowSensorTimeout, AirflowSkipException

            if self.soft_fail:
                raise AirflowSkipException(event.get("message", "sensor timed out"))
            raise AirflowSensorTimeout(event.get("message", "sensor timed out"))
        return self.job_done(event)


__all__ = ["EventStatus", "ReportJobSensorBase"]
