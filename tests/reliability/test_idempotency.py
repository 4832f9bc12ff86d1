"""Idempotent retries: a task retried after it created a report job reattaches to that job instead of creating another.

``dag.test()`` retries a failed task itself (retry_delay 0): the second try runs in the same DagRun with
``try_number`` 2, through the real task state store (``context["task_state_store"]``, kept by the API server
per task instance across tries). The first try is made to fail after the create either by a simulator fault
(the download keeps failing) or by a side effect that raises right after the create call, as a dying worker would.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.job_ledger import JobLedger
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from tests.dags import reliability_dags as dags
from tests.reliability.conftest import run, task_facts
from tests.support.airflow_env import simulator_connections

#: A download cut on each of the transfer's three opens fails the try (retryable: Airflow retries the task).
CUT_EVERY_OPEN = dict(cut_after_bytes=10, times=3)


class WorkerDied(Exception):
    """Stands for the worker process dying (the task fails; Airflow retries it)."""


def die_once_after(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[Any]:
    """Make ``owner.name`` run, then raise :class:`WorkerDied` on its first call only; returns its results."""
    original = getattr(owner, name)
    results: list[Any] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        results.append(result)
        if len(results) == 1:
            raise WorkerDied(f"worker died right after {name}")
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return results


def test_criteo_retry_after_failed_download_reattaches_through_the_state_store(sim, airflow_db, tmp_path, mocker):
    remembered = mocker.spy(JobLedger, "recall")
    sim.inject_fault("criteo.download", **CUT_EVERY_OPEN)
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_criteo_retry_lookback, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"].state == "success"
    assert task_facts(dag_run)["transfer"].try_number == 2
    # A lookback window is never served from Criteo's cache: one create means the retry reattached.
    assert sim.stats.calls["criteo.create"] == 1
    (report_id,) = sim.criteo_jobs
    assert remembered.spy_return_list == [None, report_id]
    assert target.read_bytes() == sim.criteo_report_bytes(report_id)


def test_criteo_retry_that_cannot_check_its_export_fails_again_instead_of_creating_another(sim, airflow_db, tmp_path, monkeypatch):
    """Try 1 fails after the create; try 2 cannot reach the status endpoint (503 until the transport gives up):
    it must not take "cannot check" for "gone" and create a second export; try 3 reattaches."""
    simulator_connections(sim, monkeypatch, max_retries=1)  # two attempts per call
    original = CriteoMpoReportToObjectStorageOperator.download

    def download_then_status_breaks(self: Any, report_id: str, destination: Any) -> Any:
        if not sim.stats.calls["criteo.download"]:
            sim.inject_fault("criteo.status", status=503, times=2)  # the next status check (try 2) fails
            sim.inject_fault("criteo.download", **CUT_EVERY_OPEN)  # this try fails
        return original(self, report_id, destination)

    monkeypatch.setattr(CriteoMpoReportToObjectStorageOperator, "download", download_then_status_breaks)
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_criteo_retry_lookback, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"] == ("success", 3)
    assert sim.stats.calls["criteo.create"] == 1 and len(sim.criteo_jobs) == 1
    assert target.read_bytes() == sim.criteo_report_bytes(next(iter(sim.criteo_jobs)))


def test_criteo_worker_dying_after_the_job_was_stored_reattaches(sim, airflow_db, tmp_path, monkeypatch):
    die_once_after(monkeypatch, JobLedger, "record")
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_criteo_retry_lookback, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"] == ("success", 2)
    assert sim.stats.calls["criteo.create"] == 1 and len(sim.criteo_jobs) == 1
    assert target.read_bytes() == sim.criteo_report_bytes(next(iter(sim.criteo_jobs)))


def test_criteo_worker_dying_before_the_job_was_stored_gets_the_cached_export(sim, airflow_db, tmp_path, monkeypatch):
    """The gap between the create call and storing its id: Criteo answers the identical (absolute) request
    with the export it already made, so the retry still ends with one export job."""
    created = die_once_after(monkeypatch, CriteoMpoHook, "create_report")
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_criteo_retry_interval, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"] == ("success", 2)
    assert len(sim.criteo_jobs) == 1
    assert created[0].job_id == created[1].job_id == next(iter(sim.criteo_jobs))
    assert target.read_bytes() == sim.criteo_report_bytes(created[0].job_id)


def test_criteo_create_operator_retry_reattaches(sim, airflow_db):
    """The create operator waiting for its export: the trigger's first status call answers "expired" (a retryable
    outcome: a refused permission would fail at once, see test_fault_matrix), the try fails, the retry reattaches."""
    sim.inject_fault("criteo.status", status=400, body={"errors": [{"code": "export-alreadyexpired", "title": "Expired"}]})
    dag_run = run(dags.rel_criteo_create_retry, logical_date=None)
    assert task_facts(dag_run)["create"] == ("success", 2)
    assert sim.stats.calls["criteo.create"] == 1 and len(sim.criteo_jobs) == 1


def test_walmart_retry_after_failed_download_reattaches_through_the_state_store(sim, airflow_db, tmp_path, mocker):
    remembered = mocker.spy(JobLedger, "recall")
    sim.inject_fault("walmart.blob", **CUT_EVERY_OPEN)
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_walmart_retry_state_store, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"] == ("success", 2)
    # reuse_existing=False: no list call; one create means the state store reattached the retry.
    assert sim.stats.calls["walmart.create"] == 1 and sim.stats.calls["walmart.list"] == 0
    (request_id,) = sim.walmart_requests
    assert remembered.spy_return_list == [None, request_id]
    assert target.read_bytes() == sim.walmart_report_csv(request_id, bom=False)


def test_walmart_worker_dying_before_the_request_was_stored_reuses_the_listed_request(sim, airflow_db, tmp_path, monkeypatch):
    created = die_once_after(monkeypatch, WalmartMarketplaceHook, "create_report_request")
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_walmart_retry_listed, destination=f"file://{target}")
    assert task_facts(dag_run)["transfer"] == ("success", 2)
    assert sim.stats.calls["walmart.create"] == 1 and len(sim.walmart_requests) == 1
    assert created[0].job_id == created[1].job_id
    assert target.read_bytes() == sim.walmart_report_csv(created[0].job_id, bom=False)
