"""Criteo MPO DAGs run with real Airflow (dag.test()) against the simulator, into file:// and moto s3://."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from tests.dags import criteo_test_dags as dags
from tests.support.airflow_env import task_states, xcom_value

LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


def created_report_id(sim) -> str:
    (report_id,) = sim.criteo_jobs.keys()
    return report_id


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_deferrable_transfer_lands_exact_bytes_in_file(sim, airflow_db, tmp_path, mocker, file_format):
    run_spy = mocker.spy(CriteoMpoReportTrigger, "run")
    target = tmp_path / f"out/report.{file_format}"
    run = dags.criteo_transfer_deferrable.test(
        logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}", "file_format": file_format}
    )
    assert task_states(run) == {"transfer": "success"}
    report_id = created_report_id(sim)
    assert target.read_bytes() == sim.criteo_report_bytes(report_id)
    result = xcom_value(run, "transfer")
    assert result["report_id"] == report_id and result["bytes"] == target.stat().st_size
    assert result["uri"].endswith(f"out/report.{file_format}")
    # The wait happened in the trigger: it ran, and every status poll came from the async (aiohttp) transport.
    assert run_spy.call_count == 1
    polls = [r for r in sim.stats.requests if r.endpoint == "criteo.status"]
    assert polls and all("aiohttp/" in r.headers.get("User-Agent", "") for r in polls)


def test_deferrable_transfer_lands_exact_bytes_in_s3(sim, airflow_db, s3_bucket):
    run = dags.criteo_transfer_deferrable.test(
        logical_date=LOGICAL_DATE, run_conf={"destination": s3_bucket.url("mpo/2026-11-23/report.csv"), "file_format": "csv"}
    )
    assert task_states(run) == {"transfer": "success"}
    assert s3_bucket.read("mpo/2026-11-23/report.csv") == sim.criteo_report_bytes(created_report_id(sim))


def test_window_is_the_data_interval(sim, airflow_db, tmp_path):
    dags.criteo_transfer_deferrable.test(
        logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{tmp_path}/r.csv", "file_format": "csv"}
    )
    job = next(iter(sim.criteo_jobs.values()))
    attributes = job.attributes if hasattr(job, "attributes") else job["attributes"]
    assert attributes["startDate"].endswith("Z") and attributes["endDate"].endswith("Z")
    assert "lookbackWindow" not in attributes


def test_blocking_transfer(sim, airflow_db, tmp_path):
    target = tmp_path / "blocking.csv"
    run = dags.criteo_transfer_blocking.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    assert target.read_bytes() == sim.criteo_report_bytes(created_report_id(sim))
    assert not any("aiohttp/" in r.headers.get("User-Agent", "") for r in sim.stats.requests)


def test_create_sensor_and_download_by_id(sim, airflow_db, tmp_path):
    target = tmp_path / "by-id.csv"
    run = dags.criteo_create_sense_download.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"create": "success", "sense": "success", "download": "success"}
    report_id = xcom_value(run, "create")
    assert target.read_bytes() == sim.criteo_report_bytes(report_id)
    assert sim.stats.calls["criteo.create"] == 1


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"advertiser_ids": "123"}, "advertiser_ids"),
        ({"advertiser_ids": []}, "advertiser_ids"),
        ({"lookback_window": 30}, "lookback_window"),
        ({"lookback_window": 2000}, "lookback_window"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"lookback_window": None, "report_start": "yesterday"}, "report_start"),
        ({"lookback_window": 60, "report_start": "2026-11-23T00:00:00Z"}, "lookback_window"),
    ],
)
def test_bad_templated_input_fails_before_any_http_call(sim, airflow_db, tmp_path, mocker, conf, field):
    raised = mocker.spy(ReportValidationError, "__init__")
    target = tmp_path / "never.csv"
    good = {"advertiser_ids": ["1"], "lookback_window": 60, "timezone": "UTC", "report_start": ""}
    run = dags.criteo_transfer_templated_input.test(run_conf={**good, "destination": f"file://{target}", **conf})
    assert task_states(run) == {"transfer": "failed"}
    assert sim.stats.total_calls() == 0
    assert not target.exists() and not list(tmp_path.iterdir())
    assert field in [call.args[1] for call in raised.call_args_list]
