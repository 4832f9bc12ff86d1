"""Walmart ITEM report (the catalogue), once a day, into ``.../walmart/item/dt=YYYY-MM-DD/items.csv``.

ITEM is a *snapshot* report: it describes the catalogue when Walmart generates it, not a past window. The
partition is therefore the day the run happens (the end of its data interval), ``catchup`` is off, and a
backfilled or re-run past interval still gets *today's* catalogue (the operator logs a warning when the run's
interval is in the past).

Walmart allows one report request per report type per hour: a retried or re-run task reuses a matching request
of the last hour instead of creating another.

Settings: the ``walmart_marketplace_default`` connection (``AIRFLOW_CONN_WALMART_MARKETPLACE_DEFAULT``), and the
Airflow Variable ``reports_destination`` (env ``AIRFLOW_VAR_REPORTS_DESTINATION``, default
``file:///tmp/airflow-reports``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"

with DAG(
    dag_id="walmart_item_report_daily",
    description="Daily snapshot of the Walmart catalogue (ITEM report)",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,  # a snapshot cannot be backfilled: past runs would all get today's catalogue
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["walmart", "reports", "example"],
) as dag:
    WalmartReportToObjectStorageOperator(
        task_id="item_report",
        report_type="ITEM",
        report_version="v4",
        destination=f"{REPORTS_DESTINATION}/walmart/item/dt={{{{ data_interval_end | ds }}}}/items.csv",
        deferrable=True,  # Walmart takes minutes to hours: wait in the triggerer
        timeout=timedelta(hours=3),
    )
