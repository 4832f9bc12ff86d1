"""Submitting a report job once per run: reattach to this run's job from an earlier try, or create one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from airflow_report_provider.common.exceptions import (
    RateLimitedError,
    ReportExpiredError,
    ReportNotFoundError,
    ReportProviderError,
)
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.operators.job_ledger import JobLedger
from airflow_report_provider.operators.outcomes import fail_task, job_outcome, status_event


def request_fingerprint(report: Any) -> str:
    """A short stable digest of a report request (its ``fingerprint()``), stored with the job id."""
    raw = report.fingerprint() if hasattr(report, "fingerprint") else repr(report)
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


class JobSubmitter:
    """Submits one task's report job through the sync hook, remembering it in the task's :class:`JobLedger`."""

    def __init__(self, hook: Any, ledger: JobLedger, job_id_field: str, log: Any) -> None:
        self.hook = hook
        self.ledger = ledger
        self.job_id_field = job_id_field
        self.log = log

    def submit(
        self,
        report: Any,
        create: Callable[[Any], ReportStatus],
        on_throttled: Callable[[RateLimitedError], None] | None = None,
    ) -> ReportStatus:
        """The status of this run's job for ``report``: reattached, or created by ``create(report)``.

        A create refused for good fails the task without retries; ``on_throttled`` may defer a throttled create.
        A job that is already Failure / ERROR (e.g. a cached identical request) fails the task.
        """
        fingerprint = request_fingerprint(report)
        previous = self.reattachable(fingerprint)
        if previous is not None:
            return previous
        self.log.info("Submitting %s", report.describe() if hasattr(report, "describe") else report)
        try:
            status = create(report)
        except RateLimitedError as exc:
            if on_throttled is not None:
                on_throttled(exc)
            raise fail_task(exc) from exc
        except ReportProviderError as exc:
            raise fail_task(exc) from exc
        self.ledger.record(status.job_id, fingerprint)
        self.log.info("%s %s is %s", self.job_id_field, status.job_id, status.raw_status)
        if status.state in (ReportState.FAILED, ReportState.EXPIRED):
            job_outcome(self.job_id_field, status_event(self.job_id_field, status), self.log)
        return status

    def reattachable(self, fingerprint: str) -> ReportStatus | None:
        """The status of the job an earlier try of this run made for the same request, if it is still usable."""
        job_id = self.ledger.recall(fingerprint)
        if job_id is None:
            return None
        try:
            status = self.hook.get_job_status(job_id)
        except (ReportNotFoundError, ReportExpiredError) as exc:
            self.log.warning("Job %s from an earlier try is gone (%s); submitting a new one", job_id, exc)
            return None
        except ReportProviderError as exc:
            # Not knowing is not "gone": a new job now could duplicate one that is still running. Fail this try
            # (the record stays) and let the next one check again.
            self.log.warning("Job %s from an earlier try cannot be checked now (%s)", job_id, exc)
            raise fail_task(exc) from exc
        if status.state in (ReportState.FAILED, ReportState.EXPIRED):
            self.log.warning("Job %s from an earlier try is %s; submitting a new one", job_id, status.raw_status)
            return None
        self.log.info("Reattaching to job %s created by an earlier try (%s)", job_id, status.raw_status)
        return status
