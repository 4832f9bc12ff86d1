"""When the hourly create quota of a report type is spent, a deferrable transfer waits for it in the triggerer."""

from __future__ import annotations

import time

from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from tests.dags.walmart_quota_dag import walmart_transfer_after_quota, walmart_transfer_quota_bounded
from tests.support.airflow_env import task_states, xcom_value


def test_spent_quota_is_waited_for_without_a_worker_slot(sim, airflow_db, tmp_path, mocker):
    # The quota of this report type is spent (by a request with another body, so nothing to reuse) and comes back
    # in a few seconds: longer than the transport waits inline (retry_max_delay), so the task defers.
    replenished = int((time.time() + 10) * 1000)
    sim.inject_fault("walmart.create", status=429, times=1, headers={"X-Next-Replenishment-Time": str(replenished)})
    waits = mocker.spy(DateTimeTrigger, "run")
    target = tmp_path / "items.csv"
    run = walmart_transfer_after_quota.test(run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    assert waits.call_count == 1
    assert sim.stats.throttled["walmart.create"] == 1 and sim.stats.calls["walmart.create"] == 2
    request_id = xcom_value(run, "transfer")["request_id"]
    assert target.read_bytes() == sim.walmart_report_csv(request_id, bom=False)


def test_quota_waits_are_bounded_in_total(sim, airflow_db, tmp_path, mocker):
    """Each 429 asks for 4 s more (each wait alone is under max_quota_wait=10); the third would make 12 s in all:
    the task stops waiting and fails instead of deferring again and again. Nothing is written."""
    now = time.time()
    for step in range(1, 6):
        replenished = int((now + 4 * step) * 1000)
        sim.inject_fault("walmart.create", status=429, times=1, headers={"X-Next-Replenishment-Time": str(replenished)})
    waits = mocker.spy(DateTimeTrigger, "run")
    target = tmp_path / "items.csv"
    run = walmart_transfer_quota_bounded.test(run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "failed"}
    assert waits.call_count == 2
    assert sim.stats.throttled["walmart.create"] == 3 and not sim.walmart_requests
    assert not target.exists()
