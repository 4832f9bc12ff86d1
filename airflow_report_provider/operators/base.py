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
from airflow_report_provider.operators.waiting import JobWait, check_wait_arguments

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` from the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class ReportJobOperator(BaseOperator):
    """Submits one report job per run and waits for it. Subclasses set ``api`` and say how to create the job.

    The wait arguments of every operator and transfer:

    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default: the API's minimum, backing off).
    :param max_poll_interval: cap of the back-off, seconds.
    :param timeout: seconds (or timedelta) to wait for the job before failing.
    """

    api: ClassVar[ReportApi]

    def __init__(
        self,
        *,
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_wait_arguments(poll_interval=poll_interval, max_poll_interval=max_poll_interval, timeout=timeout)
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout = timeout

    @property
    def conn_id(self) -> str:
        return getattr(self, self.api.conn_id_field)

    @property
    def hook(self) -> Any:
        """The API's sync hook for this try (one hook, one HTTP session, for every call)."""
        if getattr(self, "_hook", None) is None:  # made on first use, kept for the try: one HTTP session
            self._hook = self.api.hook_class(self.conn_id)
        return self._hook

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

    def build_report(self, context: Context) -> Any:
        """The API's validated request for this run (raises before any HTTP call)."""
        raise NotImplementedError

    def submit_job(self, context: Context) -> ReportStatus:
        """Build this run's request and submit it (or reattach to the job an earlier try made)."""
        return self.submit(context, self.build_report(context))

    def wait_until_done(self, status: ReportStatus, method_name: str) -> str:
        """The job id once the job is done: at once if it already is, else after deferring or polling."""
        if status.state is ReportState.SUCCEEDED:
            self.log.info("%s %s is already done", self.api.job_noun, status.job_id)
            return status.job_id
        return self.job_wait().until_done(self, self.hook, status.job_id, method_name)

    def job_done(self, event: dict[str, Any] | None) -> str:
        """The job id of the trigger's event; fails the task with the job's status and code unless it is done."""
        return job_outcome(self.api.job_id_field, event, self.log)


__all__ = ["ReportJobOperator", "default_deferrable", "fail_task", "request_fingerprint"]
