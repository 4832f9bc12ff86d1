"""One Criteo MPO export per advertiser, fanned out with dynamic task mapping.

An upstream ``@task`` returns the advertiser groups; ``.partial(...).expand(advertiser_ids=...)`` makes one
transfer per group. Each mapped instance submits its own export, reattaches only to its own on retry (the task
state store is scoped by map index) and writes its own file (the destination uses the mapped value).

Criteo allows 40 reporting calls per minute per application: each export costs one create, a few status
polls and one download. The provider keeps every process under that rate; ``max_active_tis_per_dag`` caps how
many instances run at once, so a wide fan-out is paced instead of throttled.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, task

from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"

with DAG(
    dag_id="criteo_mpo_advertiser_fanout",
    description="One hourly Criteo MPO export per advertiser group (dynamic task mapping)",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["criteo", "reports", "example"],
) as dag:

    @task
    def advertiser_groups() -> list[list[str]]:
        """Your own lookup: one list of advertiser ids per export."""
        return [["123"], ["456"], ["789"]]

    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="export_advertisers",
        dimensions=["AdvertiserId", "CampaignId", "Hour"],
        metrics=["Clicks", "Displays", "Cost"],
        destination=(
            f"{REPORTS_DESTINATION}/criteo_mpo_fanout/advertiser={{{{ task.advertiser_ids | join('-') }}}}"
            "/dt={{ data_interval_start | ds }}/utc_hour={{ data_interval_start.strftime('%H') }}/report.csv"
        ),
        deferrable=True,
        max_active_tis_per_dag=8,
    ).expand(advertiser_ids=advertiser_groups())
