"""DAGs of the compatibility matrix (tests/compat): written once, run with dag.test() on every supported Airflow.

They import Airflow's names through the official shims (``airflow.providers.common.compat.sdk``), as a DAG that
must run on 2.11 and 3.x would. Destinations are templated from ``params.base`` (a ``file://`` or ``s3://`` URL).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG, task

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.operators.walmart import WalmartCreateReportRequestOperator
from airflow_report_provider.sensors.criteo_mpo import CriteoMpoReportSensor
from airflow_report_provider.sensors.walmart import WalmartReportSensor
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

try:  # Airflow 3
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow.timetables.interval import CronDataIntervalTimetable

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
POLL = 0.3
CRITEO = dict(advertiser_ids=["123", "456"], dimensions=["AdvertiserId", "Hour"], metrics=["Clicks", "Displays", "Cost"])
WALMART = dict(report_type="ITEM", report_version="v4")
WAIT = dict(poll_interval=POLL, timeout=60)


def compat_dag(dag_id: str, **kwargs) -> DAG:
    return DAG(dag_id, schedule=HOURLY, start_date=START, catchup=False, params={"base": ""}, **kwargs)


# -- both transfers, blocking and deferrable --------------------------------------------------------------------------
TRANSFERS = {}
for mode, deferrable in (("deferrable", True), ("blocking", False)):
    with compat_dag(f"compat_criteo_transfer_{mode}") as dag:
        CriteoMpoReportToObjectStorageOperator(
            task_id="transfer", destination="{{ params.base }}/criteo.csv", deferrable=deferrable, **CRITEO, **WAIT
        )
    TRANSFERS["criteo", mode] = dag
    with compat_dag(f"compat_walmart_transfer_{mode}") as dag:
        WalmartReportToObjectStorageOperator(
            task_id="transfer", destination="{{ params.base }}/walmart.csv", deferrable=deferrable, **WALMART, **WAIT
        )
    TRANSFERS["walmart", mode] = dag

# -- sensors in their three modes -------------------------------------------------------------------------------------
with compat_dag("compat_sensor_modes") as compat_sensor_modes:
    criteo_job = CriteoMpoCreateReportOperator(task_id="criteo_create", **CRITEO)
    walmart_job = WalmartCreateReportRequestOperator(task_id="walmart_create", **WALMART)
    for mode in ("poke", "reschedule"):
        criteo_job >> CriteoMpoReportSensor(
            task_id=f"criteo_{mode}", report_id=criteo_job.output, mode=mode, poke_interval=1, timeout=60
        )
        walmart_job >> WalmartReportSensor(
            task_id=f"walmart_{mode}", request_id=walmart_job.output, mode=mode, poke_interval=1, timeout=60
        )
    CriteoMpoReportSensor(task_id="criteo_deferrable", report_id=criteo_job.output, deferrable=True, **WAIT)
    WalmartReportSensor(task_id="walmart_deferrable", request_id=walmart_job.output, deferrable=True, **WAIT)

# -- create -> sensor -> transfer wired with .output, and a TaskFlow input ----------------------------------------------
with compat_dag("compat_criteo_chain") as compat_criteo_chain:

    @task
    def advertisers() -> list[str]:
        return ["123", "456"]

    create = CriteoMpoCreateReportOperator(
        task_id="create", advertiser_ids=advertisers(), dimensions=CRITEO["dimensions"], metrics=CRITEO["metrics"]
    )
    sense = CriteoMpoReportSensor(task_id="sense", report_id=create.output, deferrable=True, **WAIT)
    download = CriteoMpoReportToObjectStorageOperator(
        task_id="download", report_id=create.output, destination="{{ params.base }}/chain.csv", deferrable=True, **WAIT
    )
    sense >> download

# -- a mapped transfer: one export per advertiser --------------------------------------------------------------------
with compat_dag("compat_criteo_mapped") as compat_criteo_mapped:
    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="transfer",
        destination="{{ params.base }}/mapped/{{ ti.map_index }}.csv",
        dimensions=CRITEO["dimensions"],
        metrics=CRITEO["metrics"],
        deferrable=True,
        **WAIT,
    ).expand(advertiser_ids=[["111"], ["222"], ["333"]])

# -- a retry (the download fails on the first try) and a clear (the run again) -----------------------------------------
with compat_dag("compat_criteo_retry") as compat_criteo_retry:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.base }}/retried.csv",
        deferrable=True,
        retries=1,
        retry_delay=timedelta(0),
        **CRITEO,
        **WAIT,
    )

with compat_dag("compat_criteo_lookback") as compat_criteo_lookback:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        destination="{{ params.base }}/lookback.csv",
        lookback_window=60,
        data_latency=0,
        advertiser_ids=CRITEO["advertiser_ids"],
        deferrable=True,
        **WAIT,
    )

# -- typed output ----------------------------------------------------------------------------------------------------
with compat_dag("compat_criteo_parquet") as compat_criteo_parquet:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer", destination="{{ params.base }}/report.parquet", output_format="parquet", deferrable=True, **CRITEO, **WAIT
    )
