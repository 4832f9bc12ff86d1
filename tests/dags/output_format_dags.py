"""DAGs of the query-ready output tests (tests/dag_runs/test_output_formats.py): output format and column types
come from the run's conf (templated; native rendering gives column_types as a dict)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
PARAMS = {"destination": "", "output_format": "parquet", "column_types": None, "file_format": "csv"}

with DAG(
    "criteo_output_format", schedule=HOURLY, start_date=START, catchup=False, params=PARAMS, render_template_as_native_obj=True
) as criteo_output_format:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        file_format="{{ params.file_format }}",
        output_format="{{ params.output_format }}",
        column_types="{{ params.column_types }}",
        advertiser_ids=["00123", "9007199254740993"],
        dimensions=["AdvertiserId", "CampaignId", "Hour"],
        metrics=["Clicks", "Displays", "Cost"],
        max_download_attempts=2,
        deferrable=True,
        poll_interval=0.3,
        timeout=60,
    )

with DAG(
    "walmart_output_format", schedule=HOURLY, start_date=START, catchup=False, params=PARAMS, render_template_as_native_obj=True
) as walmart_output_format:
    WalmartReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        output_format="{{ params.output_format }}",
        column_types="{{ params.column_types }}",
        report_type="ITEM",
        report_version="v4",
        deferrable=True,
        poll_interval=0.3,
        timeout=60,
    )
