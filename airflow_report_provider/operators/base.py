"""The base of every operator and transfer that submits a report job: one hook, one submitter, one wait.

``execute`` in each subclass reads top to bottom: validate the rendered arguments, submit (or reattach), wait
(deferring when ``deferrable``), deliver. The jobs live in small objects: :class:`~.submission.JobSubmitter`
(with this task's :class:`~.job_ledger.JobLedger`) and :class:`~.waiting.JobWait`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_report_provider.compat import BaseOperator, conf

from airflow_report_provider.common.exceptions import RateLimitedError
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.operators.job_ledger import JobLedger
from airflow_report_provider.operators.outcomes import fail_task, job_outcome
from airflow_report_provider.operators.report_api import ReportApi
from airflow_report_provider.operators.submission import JobSubmitter, request_fingerprint
from airflow_report_provider.operators.waiting import JobWait

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` from the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class ReportJobOperator(BaseOperator):
    """Submits one report job per run and waits for it. Subclasses set ``api`` and say how to create the job."""

    api: ClassVar[ReportApi]

    deferrable: bool
    poll_interval: float | None
    max_poll_interval: float | None
    timeout: Any

    @property
    def conn_id(self) -> str:
        return getattr(self, self.api.conn_id_field)

    @property
    def hook(self) -> Any:
        """The API's sync hook for this try (one hook, one HTTP session, for every call)."""
        return self.api.hook_for(self)

    def job_wait(self) -> JobWait:
        return JobWait(
            api=self.api,
            conn_id=self.conn_id,
            deferrable=self.deferrable,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            timeout=self.timeout,
            log=self.log,
        )

    def ledger(self, context: Context) -> JobLedger:
        return JobLedger(context, self.api.state_store_key, self.log)

    # -- the three steps ----------------------------------------------------------------------------------------
    def create_job(self, report: Any) -> ReportStatus:
        """Create (or, where the API allows, reuse) the API's job for ``report`` through the sync hook."""
        raise NotImplementedError

    def on_create_throttled(self, context: Context, error: RateLimitedError) -> None:
        """Called when a create is throttled for longer than the transport waits; may defer."""

    def submit(self, context: Context, report: Any) -> ReportStatus:
        """Reattach to this run's job from an earlier try (same request only), or create one."""
        submitter = JobSubmitter(self.hook, self.ledger(context), self.api.job_id_field, self.log)
        return submitter.submit(report, self.create_job, lambda error: self.on_create_throttled(context, error))

    def wait_until_done(self, status: ReportStatus, method_name: str) -> str:
        """The job id once the job is done: at once if it already is, else after deferring or polling."""
        if status.state is ReportState.SUCCEEDED:
            return status.job_id
        return self.job_wait().until_done(self, self.hook, status.job_id, method_name)

    def job_done(self, event: dict[str, Any] | None) -> str:
        """The job id of the trigger's event; fails the task with the job's status and code unless it is done."""
        return job_outcome(self.api.job_id_field, event, self.log)


__all__ = ["ReportJobOperator", "default_deferrable", "fail_task", "request_fingerprint"]
