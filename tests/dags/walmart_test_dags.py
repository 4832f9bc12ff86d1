"""Walmart DAGs run by tests/dag_runs with dag.test() against the simulator (connections come from the environment)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_report_provider.operators.walmart import WalmartCreateReportRequestOperator
from airflow_report_provider.sensors.walmart import WalmartReportSensor
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: Airflow 3 turns cron strings into point-in-time runs; a data-interval timetable gives each run its interval.
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
#: A snapshot report (no date fields); explicit poll_interval wins over Walmart's minutes-long default.
ITEM = dict(report_type="ITEM", report_version="v4", poll_interval=0.3, timeout=60)

with DAG("walmart_transfer_deferrable", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as walmart_transfer_deferrable:
    WalmartReportToObjectStorageOperator(task_id="transfer", destination="{{ params.destination }}", deferrable=True, **ITEM)

with DAG("walmart_transfer_blocking", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as walmart_transfer_blocking:
    WalmartReportToObjectStorageOperator(task_id="transfer", destination="{{ params.destination }}", deferrable=False, **ITEM)

with DAG("walmart_transfer_raw", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as walmart_transfer_raw:
    WalmartReportToObjectStorageOperator(
        task_id="transfer", destination="{{ params.destination }}", unpack=False, deferrable=True, **ITEM
    )

with DAG("walmart_item_performance_daily", schedule=DAILY, start_date=START, catchup=False, params={"destination": ""}) as walmart_item_performance_daily:
    WalmartReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        report_type="ITEM_PERFORMANCE",
        report_version="v3",
        request_body={"dateGranularity": "DAILY"},
        deferrable=True,
        poll_interval=0.3,
        timeout=60,
    )

with DAG("walmart_create_sense_download", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as walmart_create_sense_download:
    create = WalmartCreateReportRequestOperator(task_id="create", **ITEM)
    sense = WalmartReportSensor(
        task_id="sense", request_id="{{ ti.xcom_pull(task_ids='create') }}", deferrable=True, poll_interval=0.3, timeout=60
    )
    download = WalmartReportToObjectStorageOperator(
        task_id="download",
        request_id="{{ ti.xcom_pull(task_ids='create') }}",
        destination="{{ params.destination }}",
        deferrable=True,
        poll_interval=0.3,
    )
    create >> sense >> download

with DAG(
    "walmart_transfer_templated_input",
    schedule=None,
    start_date=START,
    params={"destination": "", "report_type": "ITEM", "report_version": "v4", "request_body": None},
    render_template_as_native_obj=True,
) as walmart_transfer_templated_input:
    WalmartReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        report_type="{{ params.report_type }}",
        report_version="{{ params.report_version }}",
        request_body="{{ params.request_body }}",
        deferrable=True,
        poll_interval=0.3,
        timeout=60,
    )
