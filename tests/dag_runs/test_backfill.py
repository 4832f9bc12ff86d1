"""Backfilling the windowed example DAG (``walmart_item_performance_backfill``) with dag.test per logical date.

Walmart accepts one report request per report type per hour, and each day of a backfill is a different request
(its own dataStartTime / dataEndTime), so against the real API a 30-day backfill takes about 30 hours. The
simulator enforces that quota per (client, reportType) whatever the body, like the API. The 30-day tests turn
it off (``walmart_create_limit_per_hour=0``) to run in seconds; ``test_hourly_quota_paces_the_backfill`` keeps
it on and shows what a real backfill does: the next window is refused with 429 within the hour, the DAG's retry
policy waits an hour, and the window is accepted once the hour has passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.common.exceptions import RateLimitedError
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.simulator import SimulatorConfig
from tests.support.airflow_env import connected_simulator, task_states, xcom_value

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "walmart_item_performance_backfill"
TASK_ID = "item_performance"
DAYS = 30
SEED = 7


def sim_config(**overrides: Any) -> SimulatorConfig:
    """Reports ready at the first poll (the example polls every minute in production), small files."""
    return SimulatorConfig(**{"walmart_job_seconds": 0, "walmart_rows": 25, "seed": SEED, **overrides})


@pytest.fixture(autouse=True)
def _short_first_poll(short_first_poll: None) -> None:
    """The examples poll at production intervals: their first poll waits that long (see ``short_first_poll``)."""


@pytest.fixture(scope="module")
def example_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLE_DAGS, bundle_path=EXAMPLE_DAGS, bundle_name="example-dags")
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture
def backfill_dag(example_dag: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The example DAG, starting on the first day backfilled here (its own start_date is a fixed day, and
    Airflow creates no task for a run before it)."""
    start = last_days(DAYS)[0]
    monkeypatch.setattr(example_dag, "start_date", start)
    for task in example_dag.tasks:
        monkeypatch.setattr(task, "start_date", start)
    return example_dag


@pytest.fixture
def unlimited_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with connected_simulator(sim_config(walmart_create_limit_per_hour=0), monkeypatch) as simulator:
        yield simulator



def last_days(count: int) -> list[datetime]:
    """The last ``count`` complete UTC days (the API refuses windows ending in the future), oldest first."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=count - i) for i in range(count)]


def run_day(dag: Any, day: datetime) -> Any:
    """dag.test for the run whose data interval is ``[day, day + 1)`` (its logical date is the interval's end)."""
    return dag.test(logical_date=day + timedelta(days=1))


def partition(reports: Path, day: datetime) -> Path:
    return reports / f"walmart/item_performance/dt={day:%Y-%m-%d}/item_performance.csv"


def partitions(reports: Path) -> list[str]:
    return sorted(p.parent.name for p in (reports / "walmart/item_performance").glob("dt=*/item_performance.csv"))


def requests_by_start(sim: Any) -> dict[str, Any]:
    return {r.payload["dataStartTime"]: r for r in sim.walmart_requests.values()}


def test_30_day_backfill_writes_30_partitions(backfill_dag, unlimited_sim, reports, airflow_db):
    days = last_days(DAYS)

    for day in days:
        assert task_states(run_day(backfill_dag, day)) == {TASK_ID: "success"}, day

    assert partitions(reports) == [f"dt={day:%Y-%m-%d}" for day in days]
    # One request per day, each for exactly its day: consecutive windows, no gap, no overlap.
    requests = requests_by_start(unlimited_sim)
    assert len(requests) == len(unlimited_sim.walmart_requests) == DAYS
    for day in days:
        request = requests[f"{day:%Y-%m-%d}T00:00:00Z"]
        assert request.payload == {
            "dataStartTime": f"{day:%Y-%m-%d}T00:00:00Z",
            "dataEndTime": f"{day:%Y-%m-%d}T23:59:59Z",
            "dateGranularity": "DAILY",
        }
        assert partition(reports, day).read_bytes() == unlimited_sim.walmart_report_csv(request.request_id, bom=False)
    assert len({partition(reports, day).read_bytes() for day in days}) == DAYS  # each day its own rows


def test_rerun_overwrites_partitions_with_the_same_bytes(backfill_dag, reports, airflow_db, monkeypatch):
    days = last_days(3)
    with connected_simulator(sim_config(walmart_create_limit_per_hour=0), monkeypatch) as first_sim:
        first = {day: xcom_value(run_day(backfill_dag, day), TASK_ID) for day in days}
        written = {day: partition(reports, day).read_bytes() for day in days}
        inodes = {day: partition(reports, day).stat().st_ino for day in days}

        # Re-run within the hour: the matching request is reused (no second create), the file rewritten.
        again = {day: xcom_value(run_day(backfill_dag, day), TASK_ID) for day in days}
        assert first_sim.stats.calls["walmart.create"] == len(days)
        for day in days:
            assert again[day]["request_id"] == first[day]["request_id"]
            assert partition(reports, day).read_bytes() == written[day]
            assert partition(reports, day).stat().st_ino != inodes[day]  # replaced by rename, not left alone

    # Another simulator with the same seed (new requests, new ids): the same bytes again.
    with connected_simulator(sim_config(walmart_create_limit_per_hour=0), monkeypatch) as second_sim:
        third = {day: xcom_value(run_day(backfill_dag, day), TASK_ID) for day in days}
        assert second_sim.stats.calls["walmart.create"] == len(days)
    for day in days:
        assert third[day]["request_id"] != first[day]["request_id"]
        assert third[day]["sha256"] == first[day]["sha256"]
        assert partition(reports, day).read_bytes() == written[day]
    assert sorted(p.name for p in partition(reports, days[0]).parent.iterdir()) == ["item_performance.csv"]


def test_hourly_quota_paces_the_backfill(backfill_dag, reports, airflow_db, monkeypatch, mocker):
    """With Walmart's real quota, the second day's create is refused until an hour has passed."""
    (task,) = backfill_dag.tasks
    # dag.test would sleep through the policy's one-hour retry delay: fail the try instead, and look at what the
    # retry policy decides for the error it raised.
    monkeypatch.setattr(task, "retries", 0)
    monkeypatch.setattr(task, "max_quota_wait", 0)  # fail the try rather than defer for the hour (tested elsewhere)
    create = mocker.spy(WalmartMarketplaceHook, "create_report_request")
    first_day, second_day = last_days(2)

    with connected_simulator(sim_config(walmart_create_limit_per_hour=1), monkeypatch) as sim:
        assert task_states(run_day(backfill_dag, first_day)) == {TASK_ID: "success"}

        assert task_states(run_day(backfill_dag, second_day)) == {TASK_ID: "failed"}
        assert sim.stats.throttled["walmart.create"] == 1
        assert not partition(reports, second_day).exists()
        refused = create.spy_exception
        assert isinstance(refused, RateLimitedError)
        decision = task.retry_policy.evaluate(refused, try_number=1, max_tries=7)
        assert (decision.action.value, decision.retry_delay) == ("retry", timedelta(hours=1))

        sim.advance_clock(3600)
        assert task_states(run_day(backfill_dag, second_day)) == {TASK_ID: "success"}
        assert partitions(reports) == [f"dt={first_day:%Y-%m-%d}", f"dt={second_day:%Y-%m-%d}"]
        assert len(sim.walmart_requests) == 2
