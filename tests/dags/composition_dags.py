"""DAGs composed the way DAG authors write them: XComArg / TaskFlow inputs, `.output` chains, dynamic task mapping.

Run by tests/dag_runs/test_composition.py with dag.test() against the simulator. ``params.base`` is the folder
(a ``file://`` URL or an ``s3://`` prefix) every destination goes under.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, ObjectStoragePath, task

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.operators.walmart import WalmartCreateReportRequestOperator
from airflow_report_provider.sensors.criteo_mpo import CriteoMpoReportSensor
from airflow_report_provider.sensors.walmart import WalmartReportSensor
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
FAST = dict(poll_interval=0.3, timeout=60)
CRITEO = dict(dimensions=["AdvertiserId", "Hour"], metrics=["Clicks", "Displays", "Cost"], **FAST)
#: Advertisers per mapped instance (the upstream task returns this list).
FANOUT = [["101"], ["202", "203"], ["303"]]
#: Windows per mapped instance of the expand_kwargs DAG.
WINDOWS = [
    {"advertiser_ids": ["11"], "report_start": "2026-11-20T00:00:00Z", "report_end": "2026-11-20T06:00:00Z"},
    {"advertiser_ids": ["12"], "report_start": "2026-11-21T00:00:00Z", "report_end": "2026-11-21T06:00:00Z"},
]
WALMART_TYPES = [{"report_type": "ITEM", "report_version": "v4"}, {"report_type": "INVENTORY", "report_version": "v1"}]
PARAMS = {"base": ""}
RETRY_ONCE = {"retries": 1, "retry_delay": 0}


@task
def advertisers() -> list[str]:
    return ["123", "456"]


@task(multiple_outputs=True)
def past_window() -> dict[str, str]:
    return {"start": "2026-11-22T00:00:00Z", "end": "2026-11-22T12:00:00Z"}


@task
def destination_under_base(name: str, **context) -> str:
    return f"{context['params']['base']}/{name}"


# -- create -> sensor -> transfer through .output, inputs from TaskFlow ---------------------------------------------
with DAG("comp_criteo_chain", schedule=None, start_date=START, params=PARAMS) as comp_criteo_chain:
    window = past_window()
    create = CriteoMpoCreateReportOperator(
        task_id="create", advertiser_ids=advertisers(), report_start=window["start"], report_end=window["end"], **CRITEO
    )
    sense = CriteoMpoReportSensor(task_id="sense", report_id=create.output, deferrable=True, **FAST)
    download = CriteoMpoReportToObjectStorageOperator(
        task_id="download", report_id=create.output, destination=destination_under_base("chain.csv"), deferrable=True, **FAST
    )
    sense >> download

with DAG("comp_walmart_chain", schedule=None, start_date=START, params=PARAMS) as comp_walmart_chain:

    @task
    def report_type() -> str:
        return "ITEM"

    create = WalmartCreateReportRequestOperator(task_id="create", report_type=report_type(), report_version="v4")
    sense = WalmartReportSensor(task_id="sense", request_id=create.output, deferrable=True, **FAST)
    download = WalmartReportToObjectStorageOperator(
        task_id="download",
        request_id=create.output,
        destination=ObjectStoragePath("{{ params.base }}/walmart/{{ ti.task_id }}.csv"),
        deferrable=True,
        **FAST,
    )
    sense >> download


# -- dynamic task mapping ---------------------------------------------------------------------------------------------
with DAG("comp_criteo_mapped", schedule=HOURLY, start_date=START, catchup=False, params=PARAMS, default_args=RETRY_ONCE) as comp_criteo_mapped:

    @task
    def advertiser_groups() -> list[list[str]]:
        return FANOUT

    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="transfer", destination="{{ params.base }}/mpo/{{ ti.map_index }}.csv", deferrable=True, **CRITEO
    ).expand(advertiser_ids=advertiser_groups())

with DAG("comp_criteo_mapped_kwargs", schedule=None, start_date=START, params=PARAMS) as comp_criteo_mapped_kwargs:

    @task
    def windows() -> list[dict]:
        return WINDOWS

    CriteoMpoReportToObjectStorageOperator.partial(
        task_id="transfer",
        destination="{{ params.base }}/mpo/{{ task.advertiser_ids[0] }}/{{ task.report_start[:10] }}.csv",
        deferrable=False,
        **CRITEO,
    ).expand_kwargs(windows())

with DAG("comp_criteo_mapped_chain", schedule=HOURLY, start_date=START, catchup=False, params=PARAMS) as comp_criteo_mapped_chain:

    @task
    def groups() -> list[list[str]]:
        return FANOUT

    created = CriteoMpoCreateReportOperator.partial(task_id="create", **CRITEO).expand(advertiser_ids=groups())
    sensed = CriteoMpoReportSensor.partial(task_id="sense", deferrable=True, **FAST).expand(report_id=created.output)
    landed = CriteoMpoReportToObjectStorageOperator.partial(
        task_id="download", destination="{{ params.base }}/mpo/{{ ti.map_index }}.csv", deferrable=True, **FAST
    ).expand(report_id=created.output)
    sensed >> landed

with DAG("comp_walmart_mapped", schedule=None, start_date=START, params=PARAMS) as comp_walmart_mapped:
    WalmartReportToObjectStorageOperator.partial(
        task_id="transfer", destination="{{ params.base }}/walmart/{{ task.report_type }}.csv", deferrable=True, **FAST
    ).expand_kwargs(WALMART_TYPES)

with DAG("comp_walmart_mapped_types", schedule=None, start_date=START, params=PARAMS) as comp_walmart_mapped_types:
    WalmartReportToObjectStorageOperator.partial(
        task_id="transfer", report_version="v1", destination="{{ params.base }}/walmart/{{ ti.map_index }}.csv", deferrable=True, **FAST
    ).expand(report_type=["ITEM", "INVENTORY"])


# -- bad values arriving through XCom: refused at execute, before any HTTP call, naming the field ----------------------
BAD_FROM_XCOM = {
    "advertisers_joined": ("criteo", "advertiser_ids", "1,2"),
    "lookback_too_short": ("criteo", "lookback_window", 5),
    "bad_timezone": ("criteo", "timezone", "Mars/Olympus_Mons"),
    "report_id": ("criteo", "report_id", "not an id/"),
    "destination_directory": ("criteo", "destination", "file:///tmp/never/"),
    "walmart_body": ("walmart", "request_body", {"rowFilters": "all"}),
    "walmart_type": ("walmart", "report_type", "ITEM REPORT"),
    "walmart_request_id": ("walmart", "request_id", "no/such id"),
}
BAD_FIELD = {
    "advertisers_joined": "advertiser_ids",
    "lookback_too_short": "lookback_window",
    "bad_timezone": "timezone",
    "report_id": "report_id",
    "destination_directory": "destination",
    "walmart_body": "request_body.rowFilters",
    "walmart_type": "report_type",
    "walmart_request_id": "request_id",
}
BAD_XCOM_FAILURES: dict[str, BaseException | None] = {}


def _record_failure(context) -> None:
    BAD_XCOM_FAILURES[context["ti"].task_id] = context.get("exception")


with DAG("comp_bad_from_xcom", schedule=None, start_date=START, params=PARAMS, default_args={"on_failure_callback": _record_failure}) as comp_bad_from_xcom:

    @task
    def value_of(case: str):
        return BAD_FROM_XCOM[case][2]

    for case, (api, argument, _) in BAD_FROM_XCOM.items():
        upstream = value_of.override(task_id=f"value_{case}")(case)
        if api == "criteo":
            kwargs = {"destination": "{{ params.base }}/bad.csv", "advertiser_ids": ["1"], "lookback_window": 60, **CRITEO}
            kwargs[argument] = upstream
            CriteoMpoReportToObjectStorageOperator(task_id=case, **kwargs)
        else:
            kwargs = {"destination": "{{ params.base }}/bad.csv", "report_type": "ITEM", "report_version": "v4", **FAST}
            kwargs[argument] = upstream
            WalmartReportToObjectStorageOperator(task_id=case, **kwargs)


# -- clears: a cleared successful task submits afresh ------------------------------------------------------------------
with DAG("comp_criteo_lookback", schedule=None, start_date=START, params=PARAMS) as comp_criteo_lookback:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer", advertiser_ids=["77"], lookback_window=60, destination="{{ params.base }}/lookback.csv", deferrable=True, **CRITEO
    )

with DAG("comp_walmart_snapshot", schedule=None, start_date=START, params=PARAMS) as comp_walmart_snapshot:
    WalmartReportToObjectStorageOperator(
        task_id="transfer", report_type="ITEM", report_version="v4", destination="{{ params.base }}/item.csv", deferrable=True, **FAST
    )
