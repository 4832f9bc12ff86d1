"""DAGs the distributed tests trigger on a Celery deployment: mapped deferrable Criteo and Walmart transfers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
CRITEO = {
    "dimensions": ["AdvertiserId", "Hour"],
    "metrics": ["Clicks", "Displays", "Cost"],
    "report_start": "2026-11-01T00:00:00Z",
    "report_end": "2026-11-01T01:00:00Z",
    "deferrable": True,
    "poll_interval": 2,
    "timeout": 600,
}

with DAG(
    "dist_transfers",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"bucket": "", "file_dir": "", "advertisers": 8},
    tags=["distributed-test"],
):
    # 8 Criteo exports (one advertiser each) into moto S3, 2 Walmart reports (one type each) into file://.
    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="criteo",
        destination="s3://moto_s3@{{ params.bucket }}/criteo/{{ ti.map_index }}.csv",
        retries=2,
        retry_delay=timedelta(seconds=3),
        **CRITEO,
    ).expand(advertiser_ids=[[str(1000 + n)] for n in range(8)])
    WalmartReportToObjectStorageOperator.partial(
        task_id="walmart",
        destination="file://{{ params.file_dir }}/walmart/{{ ti.map_index }}.csv",
        deferrable=True,
        poll_interval=2,
        timeout=600,
        retries=2,
        retry_delay=timedelta(seconds=3),
    ).expand_kwargs([{"report_type": "ITEM", "report_version": "v4"}, {"report_type": "INVENTORY", "report_version": "v1"}])

with DAG("dist_failover", schedule=None, start_date=START, catchup=False, params={"bucket": ""}, tags=["distributed-test"]):
    # No retries: a trigger lost with its triggerer must be resumed, not retried.
    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="criteo",
        destination="s3://moto_s3@{{ params.bucket }}/failover/{{ ti.map_index }}.csv",
        retries=0,
        **CRITEO,
    ).expand(advertiser_ids=[[str(2000 + n)] for n in range(4)])

with DAG("dist_worker_crash", schedule=None, start_date=START, catchup=False, params={"bucket": ""}, tags=["distributed-test"]):
    # One retry: the try whose worker is killed mid-download fails (heartbeat timeout); the retry reattaches.
    CriteoMpoReportToObjectStorageOperator(
        task_id="criteo",
        destination="s3://moto_s3@{{ params.bucket }}/crash/report.csv",
        advertiser_ids=["3000"],
        retries=1,
        retry_delay=timedelta(seconds=2),
        **CRITEO,
    )

with DAG("dist_many", schedule=None, start_date=START, catchup=False, params={"file_dir": ""}, tags=["distributed-test"]):
    # 100 exports on one credential: about 200 reporting calls against Criteo's 40 per minute.
    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="criteo",
        destination="file://{{ params.file_dir }}/many/{{ ti.map_index }}.csv",
        retries=1,
        retry_delay=timedelta(seconds=5),
        **{**CRITEO, "poll_interval": 5, "timeout": 1200},
    ).expand(advertiser_ids=[[str(5000 + n)] for n in range(100)])
