"""DAGs run by tests/reliability with dag.test() against the simulator (connections come from the environment).

Every report argument a test varies is templated from ``params`` (always pass the full ``run_conf``: dag.test
mutates the DAG's params in place). The bad-input DAGs hold one task per validation rule; each rule's bad value
is a templated param, so nothing is refused at parse time and every task must fail at execute, before any call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from airflow.sdk import DAG, CronDataIntervalTimetable, task

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.sensors.criteo_mpo import CriteoMpoReportSensor
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOURLY = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
POLL = 0.2
CRITEO = dict(advertiser_ids=["123"], dimensions=["AdvertiserId", "Hour"], metrics=["Clicks", "Displays", "Cost"])
WALMART = dict(report_type="ITEM", report_version="v4")
NO_RETRY = dict(retries=0)
ONE_RETRY = dict(retries=1, retry_delay=timedelta(0))
TWO_RETRIES = dict(retries=2, retry_delay=timedelta(0))

#: Default run_conf of the transfer DAGs (tests pass it whole, with their own destination / conn id).
TRANSFER_PARAMS = {"destination": "", "conn_id": ""}


def _criteo_transfer(dag_id: str, *, deferrable: bool = True, timeout: float = 30, **task_kwargs: Any) -> DAG:
    with DAG(dag_id, schedule=HOURLY, start_date=START, catchup=False, params=dict(TRANSFER_PARAMS)) as dag:
        CriteoMpoReportToObjectStorageOperator(
            task_id="transfer",
            destination="{{ params.destination }}",
            criteo_mpo_conn_id="{{ params.conn_id or 'criteo_mpo_default' }}",
            deferrable=deferrable,
            poll_interval=POLL,
            timeout=timeout,
            **{**CRITEO, **NO_RETRY, **task_kwargs},
        )
    return dag


def _walmart_transfer(dag_id: str, *, deferrable: bool = True, timeout: float = 30, **task_kwargs: Any) -> DAG:
    with DAG(dag_id, schedule=HOURLY, start_date=START, catchup=False, params=dict(TRANSFER_PARAMS)) as dag:
        WalmartReportToObjectStorageOperator(
            task_id="transfer",
            destination="{{ params.destination }}",
            walmart_conn_id="{{ params.conn_id or 'walmart_marketplace_default' }}",
            deferrable=deferrable,
            poll_interval=POLL,
            timeout=timeout,
            **{**WALMART, **NO_RETRY, **task_kwargs},
        )
    return dag


# -- fault matrix ------------------------------------------------------------------------------------------------
rel_criteo_deferrable = _criteo_transfer("rel_criteo_deferrable")
rel_criteo_blocking = _criteo_transfer("rel_criteo_blocking", deferrable=False)
#: Wrong credentials: retries are allowed, yet a refused credential must fail the task at once.
rel_criteo_retries_allowed = _criteo_transfer("rel_criteo_retries_allowed", retries=2, retry_delay=timedelta(0))
rel_criteo_deadline = _criteo_transfer("rel_criteo_deadline", timeout=1)
#: Download an existing export by id (expired / unknown exports).
with DAG("rel_criteo_by_id", schedule=None, start_date=START, params={"destination": "", "report_id": ""}) as rel_criteo_by_id:
    CriteoMpoReportToObjectStorageOperator(
        task_id="transfer",
        report_id="{{ params.report_id }}",
        destination="{{ params.destination }}",
        deferrable=True,
        poll_interval=POLL,
        timeout=30,
        retries=0,
    )

rel_walmart_deferrable = _walmart_transfer("rel_walmart_deferrable")
rel_walmart_blocking = _walmart_transfer("rel_walmart_blocking", deferrable=False)
rel_walmart_retries_allowed = _walmart_transfer("rel_walmart_retries_allowed", retries=2, retry_delay=timedelta(0))
rel_walmart_deadline = _walmart_transfer("rel_walmart_deadline", timeout=1)
with DAG("rel_walmart_by_id", schedule=None, start_date=START, params={"destination": "", "request_id": ""}) as rel_walmart_by_id:
    WalmartReportToObjectStorageOperator(
        task_id="transfer",
        request_id="{{ params.request_id }}",
        destination="{{ params.destination }}",
        deferrable=True,
        poll_interval=POLL,
        timeout=30,
        retries=0,
    )

# -- idempotent retries ------------------------------------------------------------------------------------------
#: A lookback window is never served from Criteo's cache: only the task state store can reattach a retry.
rel_criteo_retry_lookback = _criteo_transfer("rel_criteo_retry_lookback", lookback_window=60, data_latency=0, **TWO_RETRIES)
#: The run's data interval (absolute dates): Criteo answers an identical request with its cached export.
rel_criteo_retry_interval = _criteo_transfer("rel_criteo_retry_interval", **ONE_RETRY)
#: Without the list of recent requests: only the task state store can reattach a retry.
rel_walmart_retry_state_store = _walmart_transfer("rel_walmart_retry_state_store", reuse_existing=False, **ONE_RETRY)
#: With the list of recent requests (the default): reattaches even when the job id was never stored.
rel_walmart_retry_listed = _walmart_transfer("rel_walmart_retry_listed", **ONE_RETRY)
with DAG("rel_criteo_create_retry", schedule=None, start_date=START) as rel_criteo_create_retry:
    CriteoMpoCreateReportOperator(
        task_id="create", lookback_window=60, wait_for_completion=True, deferrable=True, poll_interval=POLL, timeout=30, **CRITEO, **ONE_RETRY
    )

# -- secrets -----------------------------------------------------------------------------------------------------
with DAG("rel_criteo_secrets", schedule=HOURLY, start_date=START, catchup=False, params={"destination": ""}) as rel_criteo_secrets:
    created = CriteoMpoCreateReportOperator(task_id="create", **CRITEO, **NO_RETRY)
    sensed = CriteoMpoReportSensor(
        task_id="sense", report_id="{{ ti.xcom_pull(task_ids='create') }}", deferrable=True, poll_interval=POLL, timeout=30
    )
    fetched = CriteoMpoReportToObjectStorageOperator(
        task_id="download",
        report_id="{{ ti.xcom_pull(task_ids='create') }}",
        destination="{{ params.destination }}",
        deferrable=False,
        poll_interval=POLL,
        retries=0,
    )
    created >> sensed >> fetched

rel_walmart_secrets = _walmart_transfer("rel_walmart_secrets")


with DAG("rel_mask_check", schedule=None, start_date=START) as rel_mask_check:

    @task
    def fetch_criteo_token() -> None:
        """Open the connection and fetch a token in a task: both must be registered with Airflow's masker."""
        from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook

        CriteoMpoHook().get_conn().token()

    @task
    def fetch_walmart_token() -> None:
        from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook

        WalmartMarketplaceHook().get_conn().token()

    fetch_criteo_token() >> fetch_walmart_token()


# -- bad input: one task per rule, the bad value templated from params ------------------------------------------
#: case id -> (the operator argument carrying the bad value, the bad value, the field the error must name).
Rules = dict[str, tuple[str, Any, str]]
#: Text DAG: templates render as text, as in a DAG without render_template_as_native_obj.
CRITEO_BAD_TEXT: Rules = {
    "list_as_string": ("advertiser_ids", "['1', '2']", "advertiser_ids"),
    "ids_joined_by_comma": ("advertiser_ids", "1,2", "advertiser_ids"),
    "campaigns_as_string": ("campaign_ids", "['7']", "campaign_ids"),
    "sellers_as_string": ("seller_ids", "['9']", "seller_ids"),
    "lookback_not_a_number": ("lookback_window", "an hour", "lookback_window"),
    "lookback_below_60": ("lookback_window", "30", "lookback_window"),
    "lookback_above_1440": ("lookback_window", "2000", "lookback_window"),
    "start_not_iso": ("report_start", "23/11/2026 04:00", "report_start"),
    "end_not_iso": ("report_end", "yesterday", "report_end"),
    "bad_time_zone": ("timezone", "Mars/Olympus_Mons", "timezone"),
    "bad_file_format": ("file_format", "xlsx", "file_format"),
    "bad_currency": ("currency", "EURO", "currency"),
    "destination_without_scheme": ("destination", "reports/out.csv", "destination"),
    "destination_is_a_directory": ("destination", "file:///tmp/reports/", "destination"),
    "destination_empty": ("destination", "", "destination"),
}
#: Native DAG (render_template_as_native_obj=True): templates render to Python values.
CRITEO_BAD_NATIVE: Rules = {
    "advertisers_missing": ("advertiser_ids", [], "advertiser_ids"),
    "advertiser_not_a_string": ("advertiser_ids", [{"id": 1}], "advertiser_ids"),
    "advertiser_blank": ("advertiser_ids", ["1", " "], "advertiser_ids"),
    "unknown_dimension": ("dimensions", ["AdvertiserId", "Country"], "dimensions"),
    "exclusive_dimensions": ("dimensions", ["ProductId", "Hour"], "dimensions"),
    "unknown_metric": ("metrics", ["Clicks", "Revenue"], "metrics"),
    "lookback_fractional": ("lookback_window", 90.5, "lookback_window"),
    "lookback_with_start": ("report_start", "2026-11-23T00:00:00Z", "lookback_window"),
    "end_before_start": ("report_end", "2026-11-22T00:00:00Z", "report_end"),
    "end_without_start": ("report_end", "2026-11-23T00:00:00Z", "report_end"),
}
#: Native-DAG defaults the cases above replace one at a time (a lookback window unless the case sets dates).
CRITEO_NATIVE_DEFAULTS = {
    "advertiser_ids": ["1"],
    "dimensions": ["AdvertiserId", "Hour"],
    "metrics": ["Clicks"],
    "lookback_window": None,
    "report_start": "2026-11-23T00:00:00Z",
    "report_end": None,
}
CRITEO_NATIVE_OVERRIDES = {
    "lookback_with_start": {"lookback_window": 60},
    "end_without_start": {"report_start": None},
    "lookback_fractional": {"report_start": None},
}

WALMART_BAD_TEXT: Rules = {
    "body_not_json": ("request_body", "{'rowFilters': []}", "request_body"),
    "body_not_an_object": ("request_body", "[1, 2]", "request_body"),
    "report_type_with_spaces": ("report_type", "ITEM REPORT", "report_type"),
    "report_type_empty": ("report_type", "", "report_type"),
    "report_version_with_spaces": ("report_version", "v 4", "report_version"),
    "start_not_iso": ("request_body", '{"dataStartTime": "01/11/2026", "dataEndTime": "2026-11-02T00:00:00Z"}', "request_body.dataStartTime"),
    "destination_without_scheme": ("destination", "walmart/out.csv", "destination"),
}
WALMART_BAD_NATIVE: Rules = {
    "key_misspelt": ("request_body", {"datastarttime": "2026-11-01T00:00:00Z"}, "request_body.datastarttime"),
    "filters_not_a_list": ("request_body", {"rowFilters": {"type": "rangeFilter"}}, "request_body.rowFilters"),
    "filter_unknown_type": ("request_body", {"rowFilters": [{"type": "likeFilter", "columnName": "SKU"}]}, "request_body.rowFilters"),
    "filter_without_column": ("request_body", {"rowFilters": [{"type": "rangeFilter", "from": "1"}]}, "request_body.rowFilters"),
    "range_filter_without_bounds": ("request_body", {"rowFilters": [{"type": "rangeFilter", "columnName": "Price"}]}, "request_body.rowFilters"),
    "filter_unknown_key": ("request_body", {"rowFilters": [{"type": "enumFilter", "columnName": "Status", "values": ["A"], "from": "1"}]}, "request_body.rowFilters"),
    "enum_values_as_string": ("request_body", {"rowFilters": [{"type": "enumFilter", "columnName": "Status", "values": "PUBLISHED"}]}, "request_body.rowFilters"),
    "exclude_columns_as_string": ("request_body", {"excludeColumns": "Shelf Name"}, "request_body.excludeColumns"),
    "bad_granularity": ("request_body", {"dateGranularity": "HOURLY"}, "request_body.dateGranularity"),
    "end_before_start": ("request_body", {"dataStartTime": "2026-11-10T00:00:00Z", "dataEndTime": "2026-11-01T00:00:00Z"}, "request_body.dataEndTime"),
    "daily_span_over_15_days": (
        "request_body",
        {"dataStartTime": "2026-10-01T00:00:00Z", "dataEndTime": "2026-10-20T00:00:00Z", "dateGranularity": "DAILY"},
        "request_body.dataEndTime",
    ),
    "start_in_the_future": ("request_body", {"dataStartTime": "2099-01-01T00:00:00Z", "dataEndTime": "2099-01-02T00:00:00Z"}, "request_body.dataStartTime"),
    "start_over_two_years_ago": ("request_body", {"dataStartTime": "2020-01-01T00:00:00Z", "dataEndTime": "2020-01-02T00:00:00Z"}, "request_body.dataStartTime"),
    "item_performance_v3_without_granularity": (
        "request_body",
        {"dataStartTime": "2026-11-01T00:00:00Z", "dataEndTime": "2026-11-02T00:00:00Z"},
        "request_body.dateGranularity",
    ),
    "report_type_not_a_string": ("report_type", 42, "report_type"),
}
WALMART_NATIVE_DEFAULTS = {"report_type": "ITEM", "report_version": "v4", "request_body": None}
WALMART_NATIVE_OVERRIDES = {
    "item_performance_v3_without_granularity": {"report_type": "ITEM_PERFORMANCE", "report_version": "v3"},
}


#: Rules that depend on the clock: never checked at DAG parse (a DAG with fixed dates would become an import error
#: some day), only at execute time.
CLOCK_RULES = frozenset({"start_in_the_future", "start_over_two_years_ago"})


#: "<dag_id>.<task_id>" -> the exception that failed the task (dag.test runs tasks in this process).
BAD_INPUT_FAILURES: dict[str, BaseException | None] = {}


def _record_failure(context: Any) -> None:
    BAD_INPUT_FAILURES[f"{context['dag'].dag_id}.{context['ti'].task_id}"] = context.get("exception")


class BadInput(NamedTuple):
    """A bad-input DAG: its operator, its rules, how templates render, and the static arguments of every task."""

    operator: type
    rules: Rules
    native: bool
    defaults: dict[str, Any]
    overrides: dict[str, dict[str, Any]]

    def kwargs(self, case: str, bad_value: Any) -> dict[str, Any]:
        """The operator arguments of one rule's case: the defaults, its overrides and the bad value."""
        argument = self.rules[case][0]
        return {**self.defaults, **self.overrides.get(case, {}), argument: bad_value}


BAD_INPUT: dict[str, BadInput] = {
    "rel_criteo_bad_text": BadInput(CriteoMpoReportToObjectStorageOperator, CRITEO_BAD_TEXT, False, {"advertiser_ids": ["123"]}, {}),
    "rel_criteo_bad_native": BadInput(
        CriteoMpoReportToObjectStorageOperator, CRITEO_BAD_NATIVE, True, CRITEO_NATIVE_DEFAULTS, CRITEO_NATIVE_OVERRIDES
    ),
    "rel_walmart_bad_text": BadInput(WalmartReportToObjectStorageOperator, WALMART_BAD_TEXT, False, WALMART_NATIVE_DEFAULTS, {}),
    "rel_walmart_bad_native": BadInput(
        WalmartReportToObjectStorageOperator, WALMART_BAD_NATIVE, True, WALMART_NATIVE_DEFAULTS, WALMART_NATIVE_OVERRIDES
    ),
}


def _bad_input_dag(dag_id: str, spec: BadInput) -> DAG:
    """One task per rule; only the bad argument is templated (``params.bad.<case>``), which defers every check of
    the request to execute time. ``params.out`` is the directory the destinations point into."""
    params: dict[str, Any] = {"out": "", "bad": {case: value for case, (_, value, _) in spec.rules.items()}}
    with DAG(dag_id, schedule=None, start_date=START, params=params, render_template_as_native_obj=spec.native) as dag:
        for case in spec.rules:
            kwargs = {"destination": f"{{{{ params.out }}}}/{case}.csv", **spec.kwargs(case, f"{{{{ params.bad.{case} }}}}")}
            spec.operator(task_id=case, deferrable=True, poll_interval=POLL, retries=0, on_failure_callback=_record_failure, **kwargs)
    return dag


rel_criteo_bad_text = _bad_input_dag("rel_criteo_bad_text", BAD_INPUT["rel_criteo_bad_text"])
rel_criteo_bad_native = _bad_input_dag("rel_criteo_bad_native", BAD_INPUT["rel_criteo_bad_native"])
rel_walmart_bad_text = _bad_input_dag("rel_walmart_bad_text", BAD_INPUT["rel_walmart_bad_text"])
rel_walmart_bad_native = _bad_input_dag("rel_walmart_bad_native", BAD_INPUT["rel_walmart_bad_native"])
