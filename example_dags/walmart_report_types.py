"""Several Walmart snapshot reports a day, one mapped transfer per report type.

``.expand_kwargs`` takes one dict per report (type and version); every mapped instance requests, waits for and
lands its own report under ``walmart/<type>/``. Walmart allows one request per report type per hour, so
distinct types run side by side; a rerun within the hour reuses the matching request.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"
REPORTS = [
    {"report_type": "INVENTORY", "report_version": "v1"},
    {"report_type": "RETURN_OVERRIDES", "report_version": "v1"},
]

with DAG(
    dag_id="walmart_report_types",
    description="Walmart snapshot reports, one mapped transfer per report type",
    schedule=CronDataIntervalTimetable("0 5 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["walmart", "reports", "example"],
) as dag:
    WalmartReportToObjectStorageOperator.partial(
        task_id="land_report",
        destination=f"{REPORTS_DESTINATION}/walmart/{{{{ task.report_type | lower }}}}/dt={{{{ data_interval_end | ds }}}}/report.csv",
        deferrable=True,
    ).expand_kwargs(REPORTS)
