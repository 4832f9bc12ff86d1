"""Criteo MPO as three tasks wired through ``.output`` and TaskFlow: create -> sensor -> transfer.

The advertisers and the window come from upstream ``@task`` functions (e.g. a lookup in your own database);
the create operator returns the export id, which the sensor and the transfer take through ``create.output``.
Splitting the steps lets other tasks run between "submitted" and "landed", or a sensor in ``reschedule`` mode
wait without a trigger. A retry of the transfer reattaches to the same export; a cleared create submits afresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, task

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.sensors.criteo_mpo import CriteoMpoReportSensor
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"

with DAG(
    dag_id="criteo_mpo_taskflow_chain",
    description="Criteo MPO create -> sensor -> transfer, inputs from TaskFlow",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["criteo", "reports", "example"],
) as dag:

    @task
    def active_advertisers() -> list[str]:
        """Your own lookup: the advertisers to report on today."""
        return ["123", "456"]

    @task(multiple_outputs=True)
    def morning_window(data_interval_end=None) -> dict[str, str]:
        """The six hours before the run's interval ends, as ISO-8601 strings."""
        end = data_interval_end.replace(minute=0, second=0, microsecond=0)
        return {"start": (end - timedelta(hours=6)).isoformat(), "end": end.isoformat()}

    window = morning_window()
    create = CriteoMpoCreateReportOperator(
        task_id="create_export",
        advertiser_ids=active_advertisers(),
        report_start=window["start"],
        report_end=window["end"],
        dimensions=["AdvertiserId", "Hour"],
        metrics=["Clicks", "Displays", "Cost"],
    )
    wait = CriteoMpoReportSensor(task_id="wait_for_export", report_id=create.output, deferrable=True, timeout=3600)
    land = CriteoMpoReportToObjectStorageOperator(
        task_id="land_export",
        report_id=create.output,
        destination=f"{REPORTS_DESTINATION}/criteo_mpo_chain/dt={{{{ data_interval_end | ds }}}}/report.csv",
    )
    wait >> land
