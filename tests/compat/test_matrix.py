"""The compatibility matrix: the DAG-level behaviour every supported Airflow (2.11, 3.0 ... 3.3) must show.

``make test-compat`` runs this module in one virtualenv per Airflow minor (scripts/test_compat.py); ``make test``
runs it on the newest Airflow with the rest of the suite. Real parts only: the simulator over loopback HTTP,
dag.test() of real DAGs (tests/dags/compat_dags.py), moto's S3 server, the providers manager.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.compat import AIRFLOW_V_3_3_PLUS, AIRFLOW_VERSION
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger
from airflow_report_provider.simulator import SimulatorConfig
from tests.compat.runs import run, states, task_facts, xcom
from tests.support.airflow_env import connected_simulator
from tests.dags import compat_dags as dags

LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


def test_the_running_airflow_is_the_one_under_test():
    import os

    wanted = os.environ.get("ARP_COMPAT_AIRFLOW")
    if wanted is None:
        pytest.skip("not under make test-compat: the suite runs on the newest Airflow")
    assert f"{AIRFLOW_VERSION.major}.{AIRFLOW_VERSION.minor}" == wanted


# -- both transfers, blocking and deferrable --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_criteo_transfer(sim, airflow_db, tmp_path, mocker, mode):
    trigger_runs = mocker.spy(CriteoMpoReportTrigger, "run")
    dag_run = run(dags.TRANSFERS["criteo", mode], LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {"transfer": "success"}
    (report_id,) = sim.criteo_jobs
    assert (tmp_path / "criteo.csv").read_bytes() == sim.criteo_report_bytes(report_id)
    result = xcom(dag_run, "transfer")
    assert result["report_id"] == report_id and result["bytes"] == (tmp_path / "criteo.csv").stat().st_size
    assert trigger_runs.call_count == (1 if mode == "deferrable" else 0)
    # The run's data interval is the report's window (04:00 to 05:00 for the 05:00 run of an hourly DAG).
    assert sim.criteo_jobs[report_id].window[1] == LOGICAL_DATE or sim.criteo_jobs[report_id].window[0] == LOGICAL_DATE


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
def test_walmart_transfer(sim, airflow_db, tmp_path, mocker, mode):
    trigger_runs = mocker.spy(WalmartReportTrigger, "run")
    dag_run = run(dags.TRANSFERS["walmart", mode], LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {"transfer": "success"}
    (request_id,) = sim.walmart_requests
    assert (tmp_path / "walmart.csv").read_bytes() == sim.walmart_report_csv(request_id, bom=False)
    assert xcom(dag_run, "transfer")["rows"] > 0
    assert trigger_runs.call_count == (1 if mode == "deferrable" else 0)


def test_deferrable_transfer_into_s3(sim, airflow_db, s3_bucket):
    dag_run = run(dags.TRANSFERS["criteo", "deferrable"], LOGICAL_DATE, s3_bucket.url("compat"))
    assert states(dag_run) == {"transfer": "success"}
    (report_id,) = sim.criteo_jobs
    assert s3_bucket.read("compat/criteo.csv") == sim.criteo_report_bytes(report_id)


# -- clean logs ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["criteo", "walmart"])
def test_a_successful_deferrable_run_logs_no_error(sim, airflow_db, tmp_path, caplog, api):
    """Users grep their logs for errors: a healthy run has none (no ERROR record, no traceback, no asyncio
    complaint about a task or an async generator left behind by the trigger)."""
    caplog.set_level(logging.DEBUG)
    dag_run = run(dags.TRANSFERS[api, "deferrable"], LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {"transfer": "success"}
    assert caplog.records  # the run's log was captured
    alarms = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR or record.exc_info or "never retrieved" in record.getMessage()
    ]
    assert alarms == []


# -- sensors ---------------------------------------------------------------------------------------------------------
def test_sensors_in_poke_reschedule_and_deferrable_mode(sim, airflow_db, tmp_path):
    dag_run = run(dags.compat_sensor_modes, LOGICAL_DATE, f"file://{tmp_path}")
    assert set(states(dag_run).values()) == {"success"}, states(dag_run)
    assert len(states(dag_run)) == 8
    (report_id,) = sim.criteo_jobs
    (request_id,) = sim.walmart_requests
    assert xcom(dag_run, "criteo_create") == report_id and xcom(dag_run, "walmart_create") == request_id
    assert sim.stats.calls["criteo.create"] == 1 and sim.stats.calls["walmart.create"] == 1


# -- composition -----------------------------------------------------------------------------------------------------
def test_create_sensor_transfer_chain_through_output(sim, airflow_db, tmp_path):
    assert dags.compat_criteo_chain.get_task("download").upstream_task_ids == {"create", "sense"}
    dag_run = run(dags.compat_criteo_chain, LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == dict.fromkeys(("advertisers", "create", "sense", "download"), "success")
    (report_id,) = sim.criteo_jobs
    assert list(sim.criteo_jobs[report_id].attributes["advertiserIds"]) == ["123", "456"]  # the TaskFlow output
    assert (tmp_path / "chain.csv").read_bytes() == sim.criteo_report_bytes(report_id)
    assert sim.stats.calls["criteo.create"] == 1


def test_mapped_transfer_lands_one_export_per_advertiser(sim, airflow_db, tmp_path):
    dag_run = run(dags.compat_criteo_mapped, LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {f"transfer[{i}]": "success" for i in range(3)}
    assert len(sim.criteo_jobs) == 3
    by_advertiser = {tuple(job.attributes["advertiserIds"]): report_id for report_id, job in sim.criteo_jobs.items()}
    for index, advertiser in enumerate(("111", "222", "333")):
        landed = (tmp_path / "mapped" / f"{index}.csv").read_bytes()
        assert landed == sim.criteo_report_bytes(by_advertiser[(advertiser,)])
        assert xcom(dag_run, "transfer", map_index=index)["report_id"] == by_advertiser[(advertiser,)]


# -- retries and clears ----------------------------------------------------------------------------------------------
def test_a_retry_lands_the_export_of_the_first_try(sim, airflow_db, tmp_path):
    """The download fails on every open of try 1; try 2 lands the export the first try created. 3.3 reattaches
    through the task state store; before 3.3 the retry submits the identical request again and Criteo answers
    with its cached export (3.0 may instead resume the retry at the trigger's event: no second create)."""
    sim.inject_fault("criteo.download", cut_after_bytes=10, times=3)
    dag_run = run(dags.compat_criteo_retry, LOGICAL_DATE, f"file://{tmp_path}")
    assert task_facts(dag_run)["transfer"].state == "success"
    assert task_facts(dag_run)["transfer"].try_number == 2
    (report_id,) = sim.criteo_jobs  # one export, whichever way the retry found it
    assert sim.stats.calls["criteo.create"] == 1 if AIRFLOW_V_3_3_PLUS else sim.stats.calls["criteo.create"] in (1, 2)
    assert (tmp_path / "retried.csv").read_bytes() == sim.criteo_report_bytes(report_id)


def test_a_cleared_run_submits_afresh(sim, airflow_db, tmp_path):
    first = run(dags.compat_criteo_lookback, LOGICAL_DATE, f"file://{tmp_path}")
    assert states(first) == {"transfer": "success"}
    (first_id,) = sim.criteo_jobs
    sim.advance_clock(3600)  # an hour later: the lookback covers another hour
    second = run(dags.compat_criteo_lookback, LOGICAL_DATE, f"file://{tmp_path}")
    assert states(second) == {"transfer": "success"}
    assert len(sim.criteo_jobs) == 2  # (the hour's jump expired the token: one create answered 401 first)
    (second_id,) = set(sim.criteo_jobs) - {first_id}
    assert (tmp_path / "lookback.csv").read_bytes() == sim.criteo_report_bytes(second_id)


# -- typed output ----------------------------------------------------------------------------------------------------
def test_typed_parquet(sim, airflow_db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    dag_run = run(dags.compat_criteo_parquet, LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {"transfer": "success"}
    table = pq.read_table(tmp_path / "report.parquet")
    assert table.num_rows == xcom(dag_run, "transfer")["rows"] > 0
    schema = {field.name: field.type for field in table.schema}
    assert pa.types.is_timestamp(schema["Hour"])
    assert pa.types.is_integer(schema["Clicks"]) and pa.types.is_integer(schema["Displays"])
    assert pa.types.is_floating(schema["Cost"]) or pa.types.is_decimal(schema["Cost"])


# -- the providers manager and the connection forms ------------------------------------------------------------------
EXPECTED_FIELDS = {
    "criteo_mpo": {"api_version", "max_calls_per_minute", "verify_ssl", "rate_limit_storage"},
    "walmart_marketplace": {"service_name", "channel_type", "market", "max_calls_per_minute", "rate_limit_storage"},
}


def test_providers_manager_lists_both_connection_types_with_their_form_fields(caplog):
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        hooks = {conn_type: manager.hooks.get(conn_type) for conn_type in EXPECTED_FIELDS}
        widgets = manager.connection_form_widgets
        behaviours = manager.field_behaviours
    assert hooks["criteo_mpo"].hook_class_name.endswith("CriteoMpoHook")
    assert hooks["walmart_marketplace"].hook_class_name.endswith("WalmartMarketplaceHook")
    assert "airflow-report-provider" in manager.providers
    for conn_type, fields in EXPECTED_FIELDS.items():
        assert {f"extra__{conn_type}__{name}" for name in fields} <= set(widgets)
        assert behaviours[conn_type]["relabeling"]["password"] == "Client secret"
        assert set(behaviours[conn_type]["hidden_fields"]) == {"schema", "port"}
    ours = [w for w in caught if "airflow_report_provider" in str(w.message)]
    assert not ours, [str(w.message) for w in ours]  # no deprecated form methods read where provider info serves
    assert not [r for r in caplog.records if "airflow_report_provider" in r.getMessage()]


@pytest.mark.parametrize("hook", [CriteoMpoHook, WalmartMarketplaceHook])
def test_test_connection(sim, hook):
    assert hook().test_connection()[0] is True


def test_openlineage_facets_of_a_transfer(sim, airflow_db, tmp_path):
    if importlib.util.find_spec("airflow.providers.openlineage") is None:
        pytest.skip("apache-airflow-providers-openlineage is not installed beside this Airflow")
    from airflow_report_provider.common.observability import lineage

    dag = dags.TRANSFERS["walmart", "blocking"]
    dag_run = run(dag, LOGICAL_DATE, f"file://{tmp_path}")
    result = xcom(dag_run, "transfer")
    operator = dag.get_task("transfer")
    operator.hook.get_conn()  # the API host, as the operator knows it after its download
    operator.remember_lineage(result)
    facets = operator.get_openlineage_facets_on_complete(None)
    (source,) = facets.inputs
    assert source.namespace == sim.url.rstrip("/") and source.name == f"reports/requests/{result['request_id']}"
    (target,) = facets.outputs
    assert (target.namespace, target.name) == ("file", str(tmp_path / "walmart.csv"))
    assert target.outputFacets["outputStatistics"].rowCount == result["rows"]


def test_metrics_reach_airflow_stats(sim, airflow_db, tmp_path, monkeypatch):
    from airflow_report_provider import compat

    counted: list[str] = []
    monkeypatch.setattr(compat.Stats, "incr", lambda name, *args, **kwargs: counted.append(name), raising=False)
    dag_run = run(dags.TRANSFERS["criteo", "blocking"], LOGICAL_DATE, f"file://{tmp_path}")
    assert states(dag_run) == {"transfer": "success"}
    assert "report_provider.api_calls" in counted
    assert any(name.startswith("report_provider.api_calls.criteo_mpo.create.") for name in counted)


# -- the README's two complete DAGs, as shipped ------------------------------------------------------------------------
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


def example_dag(name: str) -> Any:
    """The DAG of ``example_dags/<name>.py``, imported as Airflow's DAG processor would import the file."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLE_DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.fixture
def fast_sim(monkeypatch: pytest.MonkeyPatch, short_first_poll: None) -> Iterator[Any]:
    """Jobs ready at the first poll, polled at once: the examples keep their production poll intervals."""
    config = SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0, criteo_rows=40, walmart_rows=40)
    with connected_simulator(config, monkeypatch) as simulator:
        yield simulator


def test_example_criteo_hourly(fast_sim, airflow_db, reports):
    dag_run = run(example_dag("criteo_mpo_hourly"), LOGICAL_DATE, "")
    assert states(dag_run) == {"export_hour": "success"}
    (landed,) = (reports / "criteo_mpo").rglob("*.csv")
    assert landed.parent.parent.name == "dt=2026-11-23"
    (report_id,) = fast_sim.criteo_jobs
    assert landed.read_bytes() == fast_sim.criteo_report_bytes(report_id)


def test_example_walmart_daily(fast_sim, airflow_db, reports):
    dag_run = run(example_dag("walmart_item_report_daily"), LOGICAL_DATE, "")
    assert states(dag_run) == {"item_report": "success"}
    (landed,) = (reports / "walmart" / "item").rglob("*.csv")
    (request_id,) = fast_sim.walmart_requests
    assert landed.read_bytes() == fast_sim.walmart_report_csv(request_id, bom=False)
