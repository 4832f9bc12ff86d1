"""The report-job sensor every API shares: poke / reschedule through the sync hook, or defer to the trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_report_provider.common.exceptions import RateLimitedError, ReportProviderError
from airflow_report_provider.common.states import EVENT_STATUS_FOR_STATE, EventStatus, ReportState
from airflow_report_provider.operators.base import ReportJobWaitMixin, fail_task

if TYPE_CHECKING:
    from airflow.sdk import Context


class ReportJobSensorBase(ReportJobWaitMixin, BaseSensorOperator):
    """Succeeds when the job is done; fails with the job id, status and code when it failed or expired.

    ``timeout`` is the sensor's own (seconds); in deferrable mode it becomes the trigger's absolute deadline.
    """

    def __init__(self, *, deferrable: bool, max_poll_interval: float | None = None, **kwargs: Any) -> None:
        poll_interval = kwargs.pop("poll_interval", None)
        kwargs.setdefault("poke_interval", poll_interval if poll_interval is not None else self.trigger_class.api_min_poll_interval)
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    def job_id_value(self) -> str:
        return getattr(self, self.job_id_field)

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            if not self.poke(context):
                self.defer_until_done(self.job_id_value(), "execute_complete")
            return self.job_id_value()
        super().execute(context)
        return self.job_id_value()

    def poke(self, context: Context) -> bool:
        job_id = self.job_id_value()
        try:
            status = self.sync_status(job_id)
        except RateLimitedError as exc:
            self.log.warning("%s %s: status check throttled (%s); poking again later", self.job_id_field, job_id, exc)
            return False
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        self.log.info("%s %s is %s", self.job_id_field, job_id, status.raw_status)
        if status.state is ReportState.SUCCEEDED:
            return True
        if status.state.is_terminal:
            self.check_event(
                {
                    "status": EVENT_STATUS_FOR_STATE[status.state].value,
                    self.job_id_field: job_id,
                    "message": f"{self.job_id_field} {job_id} is {status.raw_status}",
                }
            )
        return False

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger; fail unless the job is done (a timeout is a sensor timeout: ``soft_fail``
        skips the task, and it is not retried)."""
        if event and event.get("status") == EventStatus.TIMEOUT.value:
            from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

            if self.soft_fail:
                raise AirflowSkipException(event.get("message", "sensor timed out"))
            raise AirflowSensorTimeout(event.get("message", "sensor timed out"))
        return self.check_event(event)


__all__ = ["EventStatus", "ReportJobSensorBase"]
