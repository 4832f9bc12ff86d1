"""DAGs run by tests/dag_runs with dag.test() against the simulator (connections come from the environment)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG
from airflow.sdk import CronDataIntervalTimetable

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.sensors.criteo_mpo import CriteoMpoReportSensor
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: Airflow 3 turns cron strings into point-in-time runs; a data-interval timetable gives each run its hour.
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
COMMON = dict(
    advertiser_ids=["123", "456"],
    dimensions=["AdvertiserId", "Hour"],
    metrics=["Clicks", "Displays", "Cost"],
    poll_interval=0.3,
    timeout=60,
)

with DAG("criteo_transfer_deferrable", schedule=HOURLY, start_date=START, catchup=False, params={"destination": "", "file_format": "csv"}) as criteo_transfer_deferrable:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        file_format="{{ params.file_format }}",
        deferrable=True,
        **COMMON,
    )

with DAG("criteo_transfer_blocking", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as criteo_transfer_blocking:
    CriteoMpoReportToObjectStorageOperator(task_id="transfer", destination="{{ params.destination }}", deferrable=False, **COMMON)

with DAG(
    "criteo_transfer_templated_input",
    schedule=None,
    start_date=START,
    params={"destination": "", "advertiser_ids": ["1"], "lookback_window": 60, "timezone": "UTC", "report_start": ""},
    render_template_as_native_obj=True,
) as criteo_transfer_templated_input:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        advertiser_ids="{{ params.advertiser_ids }}",
        lookback_window="{{ params.lookback_window }}",
        report_start="{{ params.report_start }}",
        timezone="{{ params.timezone }}",
        deferrable=True,
        poll_interval=0.3,
        timeout=60,
    )

with DAG("criteo_create_sense_download", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as criteo_create_sense_download:
    create = CriteoMpoCreateReportOperator(task_id="create", **COMMON)
    sense = CriteoMpoReportSensor(
        task_id="sense", report_id="{{ ti.xcom_pull(task_ids='create') }}", deferrable=True, poll_interval=0.3, timeout=60
    )
    download = CriteoMpoReportToObjectStorageOperator(
        task_id="download", report_id="{{ ti.xcom_pull(task_ids='create') }}", destination="{{ params.destination }}", deferrable=True, poll_interval=0.3
    )
    create >> sense >> download
