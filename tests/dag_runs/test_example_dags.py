"""The example DAGs, unchanged, run with real Airflow (dag.test()) against the simulator into file://.

They read their destination from the Variable ``reports_destination`` (set here through
``AIRFLOW_VAR_REPORTS_DESTINATION``) and use the default connection ids, which the fixtures point at the
simulator: the same way ``make demo`` and docker-compose run them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.simulator import SimulatorConfig
from tests.support.airflow_env import connected_simulator, task_states, xcom_value

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
EXAMPLE_DAG_IDS = {
    "criteo_mpo_hourly",
    "walmart_item_report_daily",
    "walmart_item_performance_backfill",
    "criteo_mpo_hourly_summary",
}
ASSET_NAME = "criteo_mpo_hourly_report"
#: A past hour: dag.test(logical_date=05:00) runs the interval [04:00, 05:00).
HOUR_RUN = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _short_first_poll(short_first_poll: None) -> None:
    """The examples poll at production intervals: their first poll waits that long (see ``short_first_poll``)."""


@pytest.fixture(scope="module")
def example_dags() -> dict[str, Any]:
    """The example DAGs as Airflow parses them (the ``example-dags`` bundle of the test session)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=EXAMPLE_DAGS, bundle_path=EXAMPLE_DAGS, bundle_name="example-dags")
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def fast_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Jobs that are ready at the first poll, so the examples' production poll intervals never wait."""
    config = SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0, criteo_rows=40, walmart_rows=40)
    with connected_simulator(config, monkeypatch) as simulator:
        yield simulator



def files_under(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def only_criteo_job(sim: Any) -> Any:
    (job,) = sim.criteo_jobs.values()
    return job


def only_walmart_request(sim: Any) -> Any:
    (request,) = sim.walmart_requests.values()
    return request


def asset_events(name: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == name)
            .all()
        )
        session.expunge_all()
        return rows


# -- structure ------------------------------------------------------------------------------------------------


def test_example_dags_import_cleanly(example_dags):
    from airflow.sdk import CronDataIntervalTimetable

    assert EXAMPLE_DAG_IDS <= set(example_dags)
    for dag_id in EXAMPLE_DAG_IDS - {"criteo_mpo_hourly_summary"}:
        # Every report DAG has real data intervals (a plain cron string would give point-in-time runs).
        assert isinstance(example_dags[dag_id].timetable, CronDataIntervalTimetable), dag_id
    assert example_dags["walmart_item_performance_backfill"].catchup is True
    assert example_dags["walmart_item_performance_backfill"].max_active_runs == 1
    assert example_dags["walmart_item_report_daily"].catchup is False  # a snapshot cannot be backfilled
    for dag_id in EXAMPLE_DAG_IDS - {"criteo_mpo_hourly_summary"}:
        (task,) = example_dags[dag_id].tasks
        assert task.deferrable is True, dag_id
    for dag_id in COMPOSED_DAG_IDS:
        assert isinstance(example_dags[dag_id].timetable, CronDataIntervalTimetable), dag_id


def test_consumer_is_scheduled_on_the_asset_the_transfer_writes(example_dags):
    (transfer,) = example_dags["criteo_mpo_hourly"].tasks
    (outlet,) = transfer.outlets
    consumer = example_dags["criteo_mpo_hourly_summary"]
    assert outlet.name == ASSET_NAME
    assert consumer.timetable.asset_condition.objects == (outlet,)


# -- Criteo hourly ----------------------------------------------------------------------------------------------


def test_criteo_mpo_hourly_writes_the_hour_partition(example_dags, fast_sim, reports, airflow_db):
    run = example_dags["criteo_mpo_hourly"].test(logical_date=HOUR_RUN)

    assert task_states(run) == {"export_hour": "success"}
    job = only_criteo_job(fast_sim)
    assert job.attributes["startDate"] == "2026-11-23T04:00:00Z"
    assert job.attributes["endDate"] == "2026-11-23T05:00:00Z"
    assert "lookbackWindow" not in job.attributes
    assert files_under(reports) == ["criteo_mpo/dt=2026-11-23/utc_hour=04/report.csv"]
    written = reports / "criteo_mpo/dt=2026-11-23/utc_hour=04/report.csv"
    assert written.read_bytes() == fast_sim.criteo_report_bytes(job.export_id)
    result = xcom_value(run, "export_hour")
    assert result["report_id"] == job.export_id and result["bytes"] == written.stat().st_size
    # The outlet Asset got an event from this run: downstream DAGs are scheduled on it.
    assert any(e.source_run_id == run.run_id for e in asset_events(ASSET_NAME))


def test_criteo_latency_wait_defers_then_submits_the_interval(example_dags, fast_sim, reports, airflow_db, monkeypatch, mocker):
    """A window that ends now is submitted only once ``data_latency`` has passed, from the triggerer's wake-up."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.sdk import DeltaDataIntervalTimetable

    dag = example_dags["criteo_mpo_hourly"]
    (task,) = dag.tasks
    # The example's hourly cron only has intervals ending on the hour; a delta timetable gives one ending now.
    monkeypatch.setattr(dag, "timetable", DeltaDataIntervalTimetable(timedelta(hours=1)))
    monkeypatch.setattr(task, "data_latency", timedelta(seconds=2))
    trigger_init = mocker.spy(DateTimeTrigger, "__init__")
    trigger_run = mocker.spy(DateTimeTrigger, "run")
    now = datetime.now(timezone.utc).replace(microsecond=0)

    run = dag.test(logical_date=now)

    assert task_states(run) == {"export_hour": "success"}
    settled = now + timedelta(seconds=2)
    # It deferred on a DateTimeTrigger (built by the operator, rebuilt by the triggerer) for end + data_latency...
    assert trigger_run.call_count == 1
    assert {call.kwargs["moment"] for call in trigger_init.call_args_list} == {settled}
    # ...and created the export only after that moment, for exactly the interval.
    job = only_criteo_job(fast_sim)
    assert job.created_at >= settled.timestamp()
    assert job.attributes["startDate"] == (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert job.attributes["endDate"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    hour = (now - timedelta(hours=1)).strftime("dt=%Y-%m-%d/utc_hour=%H")
    assert (reports / "criteo_mpo" / hour / "report.csv").read_bytes() == fast_sim.criteo_report_bytes(job.export_id)


def test_settled_window_is_submitted_without_waiting(example_dags, fast_sim, reports, airflow_db, mocker):
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    trigger_init = mocker.spy(DateTimeTrigger, "__init__")
    run = example_dags["criteo_mpo_hourly"].test(logical_date=HOUR_RUN)
    assert task_states(run) == {"export_hour": "success"}
    assert trigger_init.call_count == 0


# -- asset consumer ---------------------------------------------------------------------------------------------


def test_asset_consumer_summarises_the_latest_report(example_dags, fast_sim, reports, airflow_db):
    producer = example_dags["criteo_mpo_hourly"].test(logical_date=HOUR_RUN)
    assert task_states(producer) == {"export_hour": "success"}

    run = example_dags["criteo_mpo_hourly_summary"].test()

    assert task_states(run) == {"summarise": "success"}
    partition = reports / "criteo_mpo/dt=2026-11-23/utc_hour=04"
    summary = json.loads((partition / "_summary.json").read_text())
    rows = list(csv.DictReader(io.StringIO((partition / "report.csv").read_text())))
    assert summary["rows"] == len(rows) == 40
    assert summary["clicks"] == round(sum(float(r["Clicks"]) for r in rows), 2)
    assert summary["cost"] == round(sum(float(r["Cost"]) for r in rows), 2)
    assert summary["sha256"] == xcom_value(producer, "export_hour")["sha256"]
    (returned,) = xcom_value(run, "summarise")
    assert returned["report"].endswith("criteo_mpo/dt=2026-11-23/utc_hour=04/report.csv")


# -- Walmart ----------------------------------------------------------------------------------------------------


def test_walmart_item_report_daily_writes_todays_snapshot(example_dags, fast_sim, reports, airflow_db, capfd):
    run = example_dags["walmart_item_report_daily"].test(logical_date=datetime(2026, 11, 23, 6, tzinfo=timezone.utc))

    assert task_states(run) == {"item_report": "success"}
    # The run stands for a past interval: the log says the snapshot is today's, not that interval's.
    assert "is a snapshot report" in capfd.readouterr().out
    request = only_walmart_request(fast_sim)
    assert (request.report_type, request.report_version) == ("ITEM", "v4")
    assert not request.payload  # a snapshot: no date fields
    # Partition = the day the snapshot was taken, the end of the interval [11-22 06:00, 11-23 06:00).
    assert files_under(reports) == ["walmart/item/dt=2026-11-23/items.csv"]
    written = reports / "walmart/item/dt=2026-11-23/items.csv"
    assert written.read_bytes() == fast_sim.walmart_report_csv(request.request_id, bom=False)  # the CSV inside the zip
    assert xcom_value(run, "item_report")["format"] == "zip"


def test_walmart_item_performance_writes_the_day_window(example_dags, fast_sim, reports, airflow_db):
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - timedelta(days=1)

    run = example_dags["walmart_item_performance_backfill"].test(logical_date=today)

    assert task_states(run) == {"item_performance": "success"}
    request = only_walmart_request(fast_sim)
    assert (request.report_type, request.report_version) == ("ITEM_PERFORMANCE", "v3")
    assert request.payload == {
        "dataStartTime": day.strftime("%Y-%m-%dT00:00:00Z"),
        "dataEndTime": day.strftime("%Y-%m-%dT23:59:59Z"),
        "dateGranularity": "DAILY",
    }
    path = f"walmart/item_performance/dt={day:%Y-%m-%d}/item_performance.csv"
    assert files_under(reports) == [path]
    assert (reports / path).read_bytes() == fast_sim.walmart_report_csv(request.request_id, bom=False)


# -- the composed examples: TaskFlow chain, advertiser fan-out, mapped Walmart report types ---------------------------
COMPOSED_DAG_IDS = {"criteo_mpo_taskflow_chain", "criteo_mpo_advertiser_fanout", "walmart_report_types"}


def test_composed_examples_import_with_their_dependencies(example_dags):
    assert COMPOSED_DAG_IDS <= set(example_dags)
    chain = example_dags["criteo_mpo_taskflow_chain"]
    assert chain.get_task("create_export").upstream_task_ids == {"active_advertisers", "morning_window"}
    assert chain.get_task("land_export").upstream_task_ids == {"create_export", "wait_for_export"}
    assert example_dags["criteo_mpo_advertiser_fanout"].get_task("export_advertisers").upstream_task_ids == {"advertiser_groups"}


def test_taskflow_chain_example_lands_the_created_export(example_dags, fast_sim, reports, airflow_db):
    run = example_dags["criteo_mpo_taskflow_chain"].test(logical_date=datetime(2026, 11, 23, 6, tzinfo=timezone.utc))
    assert set(task_states(run).values()) == {"success"}
    job = only_criteo_job(fast_sim)
    assert job.attributes["advertiserIds"] == ["123", "456"]
    assert job.window == (datetime(2026, 11, 23, 0, tzinfo=timezone.utc), datetime(2026, 11, 23, 6, tzinfo=timezone.utc))
    assert files_under(reports) == ["criteo_mpo_chain/dt=2026-11-23/report.csv"]
    assert (reports / "criteo_mpo_chain/dt=2026-11-23/report.csv").read_bytes() == fast_sim.criteo_report_bytes(job.export_id)


def test_advertiser_fanout_example_lands_one_export_per_group(example_dags, fast_sim, reports, airflow_db):
    run = example_dags["criteo_mpo_advertiser_fanout"].test(logical_date=HOUR_RUN)
    assert set(task_states(run).values()) == {"success"}
    assert fast_sim.stats.calls["criteo.create"] == 3
    by_advertiser = {job.attributes["advertiserIds"][0]: job for job in fast_sim.criteo_jobs.values()}
    assert sorted(by_advertiser) == ["123", "456", "789"]
    for advertiser, job in by_advertiser.items():
        path = f"criteo_mpo_fanout/advertiser={advertiser}/dt=2026-11-23/utc_hour=04/report.csv"
        assert (reports / path).read_bytes() == fast_sim.criteo_report_bytes(job.export_id)
    assert len(files_under(reports)) == 3


def test_walmart_report_types_example_lands_one_report_per_type(example_dags, fast_sim, reports, airflow_db):
    run = example_dags["walmart_report_types"].test(logical_date=datetime(2026, 11, 23, 5, tzinfo=timezone.utc))
    assert set(task_states(run).values()) == {"success"}
    by_type = {request.report_type: request for request in fast_sim.walmart_requests.values()}
    assert sorted(by_type) == ["INVENTORY", "RETURN_OVERRIDES"]
    for report_type, request in by_type.items():
        path = f"walmart/{report_type.lower()}/dt=2026-11-23/report.csv"
        assert (reports / path).read_bytes() == fast_sim.walmart_report_csv(request.request_id, bom=False)
    assert len(files_under(reports)) == 2
