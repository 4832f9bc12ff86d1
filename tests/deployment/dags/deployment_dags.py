"""The DAG the deployment test triggers in a real Airflow: one deferrable Criteo MPO transfer."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

with DAG(
    "deployment_criteo_deferrable",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={"destination": ""},
    tags=["deployment-test"],
) as deployment_criteo_deferrable:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.destination }}",
        advertiser_ids=["123", "456"],
        dimensions=["AdvertiserId", "Hour"],
        metrics=["Clicks", "Displays", "Cost"],
        lookback_window=60,
        deferrable=True,
        poll_interval=2,
        timeout=180,
    )
