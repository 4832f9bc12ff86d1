"""What every operator, sensor and transfer of the provider shares: waiting for a report job, and failing well.

Waiting is either deferrable (the trigger polls, no worker slot is held; ``defer()`` gets the trigger's deadline
plus a buffer, as in the Airbyte provider) or blocking (the sync hook polls on the same adaptive schedule). Both
end in :meth:`ReportJobWaitMixin.check_event`, which fails the task with the job id, its status and the API's code.
Job ids are kept in Airflow 3.3's task state store so that a retried task reattaches instead of creating a new job.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import conf

from airflow_report_provider.common import metrics
from airflow_report_provider.common.exceptions import (
    RateLimitedError,
    ReportExpiredError,
    ReportJobFailedError,
    ReportNotFoundError,
    ReportProviderError,
)
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


def request_fingerprint(report: Any) -> str:
    """A short stable digest of a report request (its ``fingerprint()``), stored with the job id."""
    raw = report.fingerprint() if hasattr(report, "fingerprint") else repr(report)
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_templated(value: Any) -> bool:
    """True when ``value`` (or anything inside it) is a Jinja template, checked at execute time instead of parse time."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple, set)):
        return any(is_templated(v) for v in value)
    if isinstance(value, dict):
        return any(is_templated(v) for v in value.values())
    return False


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
    #: The API's sync hook class (its first argument is the connection id).
    hook_class: ClassVar[type]
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

    @property
    def hook(self) -> Any:
        """The API's sync hook for this task (one hook, one HTTP session, for every call of a try)."""
        if getattr(self, "_hook", None) is None:
            self._hook = self.hook_class(self.conn_id_value())
        return self._hook

    def sync_status(self, job_id: str) -> ReportStatus:
        """One status call through the sync hook."""
        return self.hook.get_job_status(job_id)

    # -- task state store: reattach on retry ----------------------------------------------------------------
    @staticmethod
    def _store(context: Context) -> Any:
        try:
            return context.get("task_state_store")
        except Exception:  # pragma: no cover - outside a task
            return None

    def remember_job(self, context: Context, job_id: str, fingerprint: str | None = None) -> None:
        """Keep the job id (and what it was asked for) in the task state store for a later try."""
        store = self._store(context)
        if store is not None:
            store.set(self.state_store_key, {"id": job_id, "fingerprint": fingerprint})

    def remembered_job(self, context: Context, fingerprint: str | None = None) -> str | None:
        """The job this task created in an earlier try, if it is for the same request and still usable."""
        store = self._store(context)
        stored = store.get(self.state_store_key) if store is not None else None
        if not stored:
            return None
        job_id, stored_fingerprint = (stored.get("id"), stored.get("fingerprint")) if isinstance(stored, dict) else (stored, None)
        if fingerprint and stored_fingerprint and fingerprint != stored_fingerprint:
            self.log.warning("Job %s from an earlier try asked for something else; submitting a new one", job_id)
            return None
        try:
            status = self.sync_status(str(job_id))
        except (ReportNotFoundError, ReportExpiredError) as exc:
            self.log.warning("Job %s from an earlier try is gone (%s); submitting a new one", job_id, exc)
            return None
        except ReportProviderError as exc:
            # Not knowing is not "gone": a new job now could duplicate one that is still running. Fail this try
            # (the id stays stored) and let the next one check again.
            self.log.warning("Job %s from an earlier try cannot be checked now (%s)", job_id, exc)
            raise fail_task(exc) from exc
        if status.state in (ReportState.FAILED, ReportState.EXPIRED):
            self.log.warning("Job %s from an earlier try is %s; submitting a new one", job_id, status.raw_status)
            return None
        self.log.info("Reattaching to job %s created by an earlier try (%s)", job_id, status.raw_status)
        return str(job_id)

    # -- submit ---------------------------------------------------------------------------------------------
    def create_job(self, report: Any) -> ReportStatus:
        """Create (or, where the API allows, reuse) the API's job for ``report`` through the sync hook."""
        raise NotImplementedError

    def on_create_throttled(self, error: RateLimitedError) -> None:
        """Called when a create is throttled for longer than the transport waits; may defer."""

    def submit(self, context: Context, report: Any) -> ReportStatus:
        """Reattach to this task's job from an earlier try (same request only), or create one; remember its id."""
        fingerprint = request_fingerprint(report)
        previous = self.remembered_job(context, fingerprint)
        if previous is not None:
            return self.sync_status(previous)
        self.log.info("Submitting %s", report.describe() if hasattr(report, "describe") else report)
        try:
            status = self.create_job(report)
        except RateLimitedError as exc:
            self.on_create_throttled(exc)
            raise fail_task(exc) from exc
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        self.remember_job(context, status.job_id, fingerprint)
        self.log.info("%s %s is %s", self.job_id_field, status.job_id, status.raw_status)
        if status.state in (ReportState.FAILED, ReportState.EXPIRED):  # e.g. a cached identical request that failed
            detail = f": {status.message}" if status.message else ""
            self.check_event(
                {
                    "status": EVENT_STATUS_FOR_STATE[status.state].value,
                    self.job_id_field: status.job_id,
                    "message": f"{self.job_id_field} {status.job_id} is {status.raw_status}{detail}",
                }
            )
        return status

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

    def wait_until_done(self, job_id: str, method_name: str) -> str:
        """Defer (the task resumes in ``method_name``) or poll from the worker; the job id once it is done."""
        if self.deferrable:
            self.defer_until_done(job_id, method_name)
        return self.check_event(self.wait_blocking(job_id))

    def wait_blocking(self, job_id: str) -> dict[str, Any]:
        """Poll from the worker until the job is terminal; return the same payload a trigger event carries."""
        wait = self.wait_timeout_seconds()
        deadline, started = time.time() + wait, time.monotonic()

        def log_poll(status: ReportStatus) -> None:
            self.log.info("%s %s is %s", self.job_id_field, job_id, status.raw_status)

        status = wait_for_terminal(
            lambda: self._status_when_allowed(job_id, deadline), self.poll_schedule(), deadline, on_poll=log_poll
        )
        if status is None:
            return {
                "status": EventStatus.TIMEOUT.value,
                "message": f"{self.job_id_field} {job_id} was not ready within {wait:.0f} s",
                self.job_id_field: job_id,
            }
        message = f"{self.job_id_field} {job_id} is {status.raw_status}" + (f": {status.message}" if status.message else "")
        metrics.job_waited(self.hook.protocol.api_name, EVENT_STATUS_FOR_STATE[status.state].value, time.monotonic() - started)
        return {
            "status": EVENT_STATUS_FOR_STATE[status.state].value,
            "message": message,
            self.job_id_field: job_id,
            "raw_status": status.raw_status,
        }

    def _status_when_allowed(self, job_id: str, deadline: float) -> ReportStatus:
        """One status call; a throttled one (a wait longer than the transport's own) is sent again after the
        wait the API asked for, unless that is past the deadline."""
        while True:
            try:
                return self.sync_status(job_id)
            except RateLimitedError as exc:
                if not exc.retry_after or time.time() + exc.retry_after >= deadline:
                    raise
                self.log.warning(
                    "%s %s: status check throttled; polling again in %.1f s", self.job_id_field, job_id, exc.retry_after
                )
                time.sleep(exc.retry_after)

    def check_event(self, event: dict[str, Any] | None) -> str:
        """Return the job id of a successful event; fail the task with job id, status and code otherwise."""
        if not event:
            raise ReportJobFailedError("the trigger ended without an event")
        job_id = event.get(self.job_id_field)
        status = event.get("status")
        if status == EventStatus.SUCCESS.value:
            self.log.info("%s", event.get("message") or f"{self.job_id_field} {job_id} is done")
            return str(job_id)
        failure = ReportJobFailedError(
            f"{self.job_id_field} {job_id} did not complete ({status}): {event.get('message', '')}".rstrip(": "),
            job_id=job_id,
            status=status,
            code=event.get("code"),
        )
        # A retry helps after a timeout (it reattaches), a failed or expired job (it submits anew) or a passing
        # error; not after refused credentials, missing permissions or an invalid request.
        failure.retryable = bool(event.get("retryable", True))
        raise fail_task(failure)
