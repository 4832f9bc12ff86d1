"""Walmart DAGs run with real Airflow (dag.test()) against the simulator, into file:// and moto s3://."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_report_provider.common.exceptions import ReportJobFailedError, ReportValidationError
from airflow_report_provider.common.validation import format_utc
from airflow_report_provider.triggers.walmart import WalmartReportTrigger
from tests.dags import walmart_test_dags as dags
from tests.support.airflow_env import task_states, xcom_value

LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _fast_jobs(sim):
    sim.config.walmart_job_seconds = 0.5


def created_request_id(sim) -> str:
    (request_id,) = sim.walmart_requests.keys()
    return request_id


@pytest.mark.parametrize("file_format", ["zip", "gzip", "plain"])
def test_deferrable_transfer_lands_the_csv_in_file(sim, airflow_db, tmp_path, mocker, file_format):
    sim.config.walmart_file_format = file_format
    run_spy = mocker.spy(WalmartReportTrigger, "run")
    target = tmp_path / "out/item.csv"
    run = dags.walmart_transfer_deferrable.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    request_id = created_request_id(sim)
    csv = sim.walmart_report_csv(request_id, bom=False)
    assert target.read_bytes() == csv
    assert sim.walmart_report_csv(request_id).startswith(b"\xef\xbb\xbf")  # the simulator serves Walmart's BOM,
    assert not csv.startswith(b"\xef\xbb\xbf") and b"\n" in csv  # the CSV lands without it
    result = xcom_value(run, "transfer")
    assert result["request_id"] == request_id and result["format"] == file_format
    assert result["bytes"] == len(csv) and result["uri"].endswith("out/item.csv")
    assert "sig=" not in json.dumps(result) and "/blob/" not in json.dumps(result)  # no pre-signed URL in XCom
    assert [p.name for p in target.parent.iterdir()] == ["item.csv"]  # no temporary file left behind
    # The wait happened in the trigger, whose status polls came from the async (aiohttp) transport.
    assert run_spy.call_count == 1
    polls = sim.stats.records("walmart.status")
    assert polls and all("aiohttp/" in (r.user_agent or "") for r in polls)
    # The pre-signed URL was fetched with no Walmart header at all.
    (blob,) = sim.stats.records("walmart.blob")
    assert not {h for h in blob.header_names if h.startswith("wm_")} and "authorization" not in blob.header_names


def test_deferrable_transfer_lands_the_csv_in_s3(sim, airflow_db, s3_bucket):
    key = "walmart/item/2026-11-23/item.csv"
    run = dags.walmart_transfer_deferrable.test(logical_date=LOGICAL_DATE, run_conf={"destination": s3_bucket.url(key)})
    assert task_states(run) == {"transfer": "success"}
    assert s3_bucket.read(key) == sim.walmart_report_csv(created_request_id(sim), bom=False)
    assert s3_bucket.keys() == [key] and s3_bucket.pending_uploads() == []


def test_blocking_transfer_polls_from_the_worker(sim, airflow_db, tmp_path, mocker):
    run_spy = mocker.spy(WalmartReportTrigger, "run")
    target = tmp_path / "blocking.csv"
    run = dags.walmart_transfer_blocking.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    assert target.read_bytes() == sim.walmart_report_csv(created_request_id(sim), bom=False)
    assert run_spy.call_count == 0
    assert not any("aiohttp/" in (r.user_agent or "") for r in sim.stats.records())


def test_unpack_false_keeps_the_file_as_served(sim, airflow_db, tmp_path):
    target = tmp_path / "item.zip"
    run = dags.walmart_transfer_raw.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    request_id = created_request_id(sim)
    assert target.read_bytes() == sim.walmart_file_bytes(request_id)
    assert target.read_bytes()[:2] == b"PK"


def test_second_run_within_the_hour_reuses_the_request(sim, airflow_db, tmp_path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    run1 = dags.walmart_transfer_deferrable.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{first}"})
    run2 = dags.walmart_transfer_deferrable.test(
        logical_date=LOGICAL_DATE + timedelta(hours=1), run_conf={"destination": f"file://{second}"}
    )
    assert task_states(run1) == task_states(run2) == {"transfer": "success"}
    assert sim.stats.calls["walmart.create"] == 1 and sim.stats.throttled["walmart.create"] == 0
    request_id = created_request_id(sim)
    assert xcom_value(run1, "transfer")["request_id"] == xcom_value(run2, "transfer")["request_id"] == request_id
    assert first.read_bytes() == second.read_bytes() == sim.walmart_report_csv(request_id, bom=False)


def test_windowed_report_takes_its_dates_from_the_data_interval(sim, airflow_db, tmp_path):
    day = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    target = tmp_path / "performance.csv"
    run = dags.walmart_item_performance_daily.test(logical_date=day, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "success"}
    start, end = run.data_interval_start, run.data_interval_end
    assert end - start == timedelta(days=1) and start.hour == 0  # one whole UTC day of the daily timetable
    request = sim.walmart_requests[created_request_id(sim)]
    assert (request.report_type, request.report_version) == ("ITEM_PERFORMANCE", "v3")
    # The window's exclusive end goes out as the day's last second, as in Walmart's examples.
    assert request.payload == {
        "dateGranularity": "DAILY",
        "dataStartTime": format_utc(start),
        "dataEndTime": format_utc(end - timedelta(seconds=1)),
    }
    assert target.read_bytes() == sim.walmart_report_csv(request.request_id, bom=False)


def test_create_sensor_and_download_by_request_id(sim, airflow_db, tmp_path, mocker):
    run_spy = mocker.spy(WalmartReportTrigger, "run")
    target = tmp_path / "by-id.csv"
    run = dags.walmart_create_sense_download.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"create": "success", "sense": "success", "download": "success"}
    request_id = xcom_value(run, "create")
    assert request_id == created_request_id(sim)
    assert xcom_value(run, "download")["request_id"] == request_id
    assert target.read_bytes() == sim.walmart_report_csv(request_id, bom=False)
    assert sim.stats.calls["walmart.create"] == 1
    assert run_spy.call_count >= 1  # the sensor deferred to the trigger


def test_error_status_fails_the_task_with_the_request_id(sim, airflow_db, tmp_path, mocker):
    sim.config.walmart_job_outcome = "ERROR"
    raised = mocker.spy(ReportJobFailedError, "__init__")
    target = tmp_path / "never.csv"
    run = dags.walmart_transfer_deferrable.test(logical_date=LOGICAL_DATE, run_conf={"destination": f"file://{target}"})
    assert task_states(run) == {"transfer": "failed"}
    request_id = created_request_id(sim)
    (call,) = raised.call_args_list
    message = call.args[1]
    assert request_id in message and "ERROR" in message and call.kwargs["job_id"] == request_id
    assert sim.stats.calls["walmart.download_url"] == 0 and sim.stats.calls["walmart.blob"] == 0
    assert not list(tmp_path.iterdir())


def _day(offset_days: int) -> str:
    return format_utc(datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=offset_days))


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"report_type": ""}, "report_type"),
        ({"report_version": None}, "report_version"),
        ({"request_body": {"dataStartTime": "last tuesday", "dataEndTime": "2026-11-01T00:00:00Z"}}, "request_body.dataStartTime"),
        (
            {"report_type": "ITEM_PERFORMANCE", "report_version": "v2", "request_body": {"dataStartTime": _day(-2), "dataEndTime": _day(2)}},
            "request_body.dataEndTime",
        ),
        (
            {"report_type": "ITEM_PERFORMANCE", "report_version": "v3", "request_body": {"dataStartTime": _day(-3), "dataEndTime": _day(-1)}},
            "request_body.dateGranularity",
        ),
        ({"request_body": "not a JSON object"}, "request_body"),
        ({"request_body": "{broken"}, "request_body"),
    ],
)
def test_bad_templated_input_fails_before_any_http_call(sim, airflow_db, tmp_path, mocker, conf, field):
    raised = mocker.spy(ReportValidationError, "__init__")
    target = tmp_path / "never.csv"
    good = {"report_type": "ITEM", "report_version": "v4", "request_body": None}
    run = dags.walmart_transfer_templated_input.test(run_conf={**good, "destination": f"file://{target}", **conf})
    assert task_states(run) == {"transfer": "failed"}
    assert sim.stats.total_calls() == 0
    assert not target.exists() and not list(tmp_path.iterdir())
    assert field in [call.args[1] for call in raised.call_args_list]


def test_csv_keeps_the_bom_only_when_asked():
    from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

    common = dict(report_type="ITEM", report_version="v4", destination="file:///tmp/never/items.csv")
    assert WalmartReportToObjectStorageOperator(task_id="default", **common).write_options.strip_bom is True
    assert WalmartReportToObjectStorageOperator(task_id="keep", strip_bom=False, **common).write_options.strip_bom is False
