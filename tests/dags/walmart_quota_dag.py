"""A Walmart transfer whose report type's hourly quota is already spent (see tests/dag_runs/test_walmart_quota.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

#: The same transfer in both DAGs; the second bounds its quota waits.
TRANSFER = {
    "task_id": "transfer",
    "destination": "{{ params.destination }}",
    "report_type": "ITEM",
    "report_version": "v4",
    "request_body": {"excludeColumns": ["Shelf Name"]},
    "deferrable": True,
    "poll_interval": 0.3,
    "timeout": 120,
}

with DAG("walmart_transfer_after_quota", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), params={"destination": ""}) as walmart_transfer_after_quota:
    WalmartReportToObjectStorageOperator(**TRANSFER)

with DAG("walmart_transfer_quota_bounded", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), params={"destination": ""}) as walmart_transfer_quota_bounded:
    WalmartReportToObjectStorageOperator(**TRANSFER, max_quota_wait=10)
