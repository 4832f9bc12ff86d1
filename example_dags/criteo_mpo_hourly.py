"""Criteo MPO real-time export, every hour, into a partitioned object-storage prefix.

Each run covers its data interval exactly: the run for ``[04:00, 05:00)`` UTC asks Criteo for
``startDate 04:00:00Z`` / ``endDate 05:00:00Z`` and writes
``<reports_destination>/criteo_mpo/dt=YYYY-MM-DD/utc_hour=04/report.csv``. Criteo's data lags about 10 minutes,
so the transfer defers (no worker slot) until ``data_latency`` after the hour before submitting, then defers
again while the export runs. A re-run of the same hour overwrites the partition atomically.

Settings, all without editing this file:

* ``criteo_mpo_default`` connection: host, client id (login), client secret (password); e.g. the env var
  ``AIRFLOW_CONN_CRITEO_MPO_DEFAULT``.
* Airflow Variable ``reports_destination`` (or env ``AIRFLOW_VAR_REPORTS_DESTINATION``): base URL of the
  reports, e.g. ``s3://aws_default@my-bucket/reports``; default ``file:///tmp/airflow-reports``.

The transfer declares the Asset ``criteo_mpo_hourly_report`` as its outlet: ``asset_consumer.py`` runs after
every successful hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Asset, CronDataIntervalTimetable

    CRITEO_MPO_HOURLY_REPORT = Asset(name="criteo_mpo_hourly_report", uri="reports://criteo_mpo/hourly")
except ImportError:  # Airflow 2.11: the same DAG under Airflow 2's names (an Asset was a Dataset)
    from airflow import DAG
    from airflow.datasets import Dataset
    from airflow.timetables.interval import CronDataIntervalTimetable

    CRITEO_MPO_HOURLY_REPORT = Dataset("reports://criteo_mpo/hourly")

#: Base URL of every report written by the example DAGs (templated: read when the task runs).
REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"
#: Partitions are named after the interval's start in UTC: stable whatever the DAG's time zone, no DST ambiguity.
#: ``utc_hour``, not ``hour``: DuckDB and Spark would read a folder ``hour=04`` in place of the file's ``Hour`` column.
PARTITION = "dt={{ data_interval_start | ds }}/utc_hour={{ data_interval_start.strftime('%H') }}"

with DAG(
    dag_id="criteo_mpo_hourly",
    description="Hourly Criteo MPO real-time export into object storage",
    # A cron *data-interval* timetable: every run has a real one-hour interval (a plain cron string in
    # Airflow 3 gives point-in-time runs, whose interval is empty).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=3,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["criteo", "reports", "example"],
) as dag:
    CriteoMpoReportToObjectStorageOperator(
        task_id="export_hour",
        advertiser_ids=["123"],  # your advertiser ids
        dimensions=["AdvertiserId", "CampaignId", "Hour"],
        metrics=["Clicks", "Displays", "Cost"],
        file_format="csv",
        timezone="UTC",  # time zone of the Hour buckets in the file (the window itself is exact UTC)
        destination=f"{REPORTS_DESTINATION}/criteo_mpo/{PARTITION}/report.csv",
        deferrable=True,
        data_latency=timedelta(minutes=10),
        timeout=timedelta(hours=1),
        outlets=[CRITEO_MPO_HOURLY_REPORT],
    )
