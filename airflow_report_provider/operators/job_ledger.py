"""This task's report job, kept in Airflow's task state store so that a retry reattaches to it.

A record holds the job id, a digest of the request it was made for, and the DAG run's ``clear_number``:

- a **retry** (same clear number: Airflow retrying a failed try) reattaches to the job of the earlier try when it
  was made for the same request;
- a **clear** (``airflow tasks clear``, "Clear" in the UI: the run's clear number grows) submits afresh;
- a job whose file was **delivered** is consumed: the record is deleted when the task succeeds.

The store is scoped to the task instance, map index included, so each mapped instance keeps its own job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_report_provider.compat import task_state_store


@dataclass(frozen=True)
class JobRecord:
    """What the store holds for one task instance."""

    job_id: str
    fingerprint: str | None
    clear_number: int | None

    @classmethod
    def from_stored(cls, stored: Any) -> JobRecord | None:
        if isinstance(stored, dict) and stored.get("id"):
            return cls(str(stored["id"]), stored.get("fingerprint"), stored.get("clear_number"))
        if isinstance(stored, (str, int)) and str(stored):  # written by an earlier version: a bare id
            return cls(str(stored), None, None)
        return None

    def as_stored(self) -> dict[str, Any]:
        return {"id": self.job_id, "fingerprint": self.fingerprint, "clear_number": self.clear_number}


class JobLedger:
    """Read, write and consume this task instance's job record."""

    def __init__(self, context: Any, key: str, log: Any) -> None:
        self.store = task_state_store(context)
        dag_run = context.get("dag_run")
        self.clear_number: int = int(getattr(dag_run, "clear_number", 0) or 0)
        self.key = key
        self.log = log

    def recall(self, fingerprint: str) -> str | None:
        """The job an earlier try of this same run made for this same request, if any."""
        record = JobRecord.from_stored(self.store.get(self.key)) if self.store is not None else None
        if record is None:
            return None
        if record.clear_number is not None and record.clear_number != self.clear_number:
            self.log.info("Job %s belongs to the run before it was cleared; submitting a new one", record.job_id)
            return None
        if record.fingerprint and record.fingerprint != fingerprint:
            self.log.warning("Job %s from an earlier try asked for something else; submitting a new one", record.job_id)
            return None
        return record.job_id

    def record(self, job_id: str, fingerprint: str) -> None:
        """Remember the job for a later try of this run."""
        if self.store is not None:
            self.store.set(self.key, JobRecord(job_id, fingerprint, self.clear_number).as_stored())

    def consume(self) -> None:
        """The job's outcome was delivered: a later run of this task (a clear) submits afresh."""
        if self.store is not None:
            self.store.delete(self.key)
