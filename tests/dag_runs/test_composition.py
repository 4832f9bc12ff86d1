"""Composing the operators as DAG authors do, run with dag.test() against the simulator.

XComArg and TaskFlow inputs, `.output` chains, dynamic task mapping (expand, expand_kwargs, mapped create ->
sensor -> transfer), bad values arriving through XCom, literal bad values at parse time, and clears: a cleared
successful task submits afresh while a retry reattaches.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.job_ledger import JobLedger
from tests.dags import composition_dags as dags
from tests.reliability.conftest import files_under, run, task_facts

LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


def mapped_xcoms(dag_run: Any, task_id: str) -> dict[int, Any]:
    """map index -> XCom value of a mapped task."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value")
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def mapped_states(dag_run: Any, task_id: str) -> dict[int, tuple[str, int]]:
    """map index -> (state, try number) of a mapped task."""
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id == task_id]
        return {ti.map_index: (str(ti.state), ti.try_number) for ti in tis}


def rerun(dag: Any, logical_date: datetime, base: str) -> Any:
    """``dag.test()`` on a fixed logical date and run_after: the same DagRun each time. A second call clears its
    task instances first, as ``airflow tasks clear`` does (the run's clear_number grows, the task state store keeps
    its rows), then runs them again."""
    return dag.test(logical_date=logical_date, run_after=logical_date, run_conf={"base": base})


def advertisers_of(sim: Any, report_id: str) -> list[str]:
    return list(sim.criteo_jobs[report_id].attributes["advertiserIds"])


# -- XComArg / TaskFlow chains ----------------------------------------------------------------------------------------
def test_criteo_chain_through_output_lands_the_created_export(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_criteo_chain, logical_date=None, base=f"file://{tmp_path}")
    facts = task_facts(dag_run)
    assert {task: facts[task].state for task in ("create", "sense", "download")} == dict.fromkeys(("create", "sense", "download"), "success")
    (report_id,) = sim.criteo_jobs
    job = sim.criteo_jobs[report_id]
    assert advertisers_of(sim, report_id) == ["123", "456"]  # from the TaskFlow output
    assert job.window[0] == datetime(2026, 11, 22, tzinfo=timezone.utc)  # report_start from a multiple_outputs task
    assert sim.stats.calls["criteo.create"] == 1
    assert (tmp_path / "chain.csv").read_bytes() == sim.criteo_report_bytes(report_id)


def test_walmart_chain_through_output_with_an_object_storage_path_destination(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_walmart_chain, logical_date=None, base=f"file://{tmp_path}")
    assert {facts.state for facts in task_facts(dag_run).values()} == {"success"}
    (request_id,) = sim.walmart_requests
    assert sim.stats.calls["walmart.create"] == 1
    assert (tmp_path / "walmart" / "download.csv").read_bytes() == sim.walmart_report_csv(request_id, bom=False)


# -- dynamic task mapping ---------------------------------------------------------------------------------------------
def test_mapped_criteo_transfers_each_land_their_own_export(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_criteo_mapped, logical_date=LOGICAL_DATE, base=f"file://{tmp_path}")
    assert mapped_states(dag_run, "transfer") == {i: ("success", 1) for i in range(len(dags.FANOUT))}
    assert sim.stats.calls["criteo.create"] == len(dags.FANOUT) == len(sim.criteo_jobs)
    xcoms = mapped_xcoms(dag_run, "transfer")
    for index, group in enumerate(dags.FANOUT):
        report_id = xcoms[index]["report_id"]
        assert advertisers_of(sim, report_id) == group
        assert (tmp_path / "mpo" / f"{index}.csv").read_bytes() == sim.criteo_report_bytes(report_id)


def test_a_retried_mapped_instance_reattaches_to_its_own_export(sim, airflow_db, tmp_path, mocker):
    """The first instance's download is cut on every open: that instance fails and is retried. Its retry finds
    its own export in the task state store (scoped by map index); the other instances never reattach."""
    recall = mocker.spy(JobLedger, "recall")
    sim.inject_fault("criteo.download", cut_after_bytes=10, times=3)
    dag_run = run(dags.comp_criteo_mapped, logical_date=LOGICAL_DATE, base=f"file://{tmp_path}")
    states = mapped_states(dag_run, "transfer")
    assert sorted(states.values()) == [("success", 1), ("success", 1), ("success", 2)]
    assert sim.stats.calls["criteo.create"] == len(dags.FANOUT)
    retried = next(index for index, (_, tries) in states.items() if tries == 2)
    xcoms = mapped_xcoms(dag_run, "transfer")
    assert [value for value in recall.spy_return_list if value] == [xcoms[retried]["report_id"]]
    for index, group in enumerate(dags.FANOUT):
        assert advertisers_of(sim, xcoms[index]["report_id"]) == group
        assert (tmp_path / "mpo" / f"{index}.csv").read_bytes() == sim.criteo_report_bytes(xcoms[index]["report_id"])


def test_expand_kwargs_maps_windows_from_an_upstream_task(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_criteo_mapped_kwargs, logical_date=None, base=f"file://{tmp_path}")
    assert mapped_states(dag_run, "transfer") == {0: ("success", 1), 1: ("success", 1)}
    assert sim.stats.calls["criteo.create"] == 2
    for index, spec in enumerate(dags.WINDOWS):
        report_id = mapped_xcoms(dag_run, "transfer")[index]["report_id"]
        job = sim.criteo_jobs[report_id]
        assert advertisers_of(sim, report_id) == spec["advertiser_ids"]
        assert job.window[0].isoformat().startswith(spec["report_start"][:10])
        target = tmp_path / "mpo" / spec["advertiser_ids"][0] / f"{spec['report_start'][:10]}.csv"
        assert target.read_bytes() == sim.criteo_report_bytes(report_id)


def test_mapped_create_sensor_and_transfer_chain(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_criteo_mapped_chain, logical_date=LOGICAL_DATE, base=f"file://{tmp_path}")
    width = len(dags.FANOUT)
    for task_id in ("create", "sense", "download"):
        assert mapped_states(dag_run, task_id) == {i: ("success", 1) for i in range(width)}, task_id
    assert sim.stats.calls["criteo.create"] == width
    created = mapped_xcoms(dag_run, "create")
    assert mapped_xcoms(dag_run, "sense") == created
    for index, group in enumerate(dags.FANOUT):
        assert advertisers_of(sim, created[index]) == group
        assert (tmp_path / "mpo" / f"{index}.csv").read_bytes() == sim.criteo_report_bytes(created[index])


def test_mapped_walmart_transfers_over_report_types(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_walmart_mapped, logical_date=None, base=f"file://{tmp_path}")
    assert mapped_states(dag_run, "transfer") == {0: ("success", 1), 1: ("success", 1)}
    assert sim.stats.calls["walmart.create"] == 2
    xcoms = mapped_xcoms(dag_run, "transfer")
    for index, spec in enumerate(dags.WALMART_TYPES):
        request_id = xcoms[index]["request_id"]
        assert sim.walmart_requests[request_id].report_type == spec["report_type"]
        assert (tmp_path / "walmart" / f"{spec['report_type']}.csv").read_bytes() == sim.walmart_report_csv(request_id, bom=False)


def test_mapped_walmart_transfers_expand_over_report_type(sim, airflow_db, tmp_path):
    dag_run = run(dags.comp_walmart_mapped_types, logical_date=None, base=f"file://{tmp_path}")
    assert mapped_states(dag_run, "transfer") == {0: ("success", 1), 1: ("success", 1)}
    xcoms = mapped_xcoms(dag_run, "transfer")
    for index, report_type in enumerate(["ITEM", "INVENTORY"]):
        request = sim.walmart_requests[xcoms[index]["request_id"]]
        assert request.report_type == report_type
        assert (tmp_path / "walmart" / f"{index}.csv").read_bytes() == sim.walmart_report_csv(request.request_id, bom=False)


# -- bad values ---------------------------------------------------------------------------------------------------------
def test_bad_values_from_xcom_fail_before_any_http_call_naming_the_field(sim, airflow_db, tmp_path):
    dags.BAD_XCOM_FAILURES.clear()
    dag_run = run(dags.comp_bad_from_xcom, logical_date=None, base=f"file://{tmp_path}")
    facts = task_facts(dag_run)
    assert sim.stats.total_calls() == 0
    assert files_under(tmp_path) == []
    for case, field in dags.BAD_FIELD.items():
        assert facts[case] == ("failed", 1), case  # not retried
        error = dags.BAD_XCOM_FAILURES[case]
        while error is not None and not isinstance(error, ReportValidationError):
            error = error.__cause__
        assert isinstance(error, ReportValidationError), (case, dags.BAD_XCOM_FAILURES[case])
        assert error.field == field, case


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ('advertiser_ids=["1,2"], lookback_window=60', "advertiser_ids"),
        ('advertiser_ids=upstream(), lookback_window=30', "lookback_window"),
        ('advertiser_ids=upstream(), lookback_window=60, report_start="2026-11-01T00:00:00Z"', "lookback_window"),
        ('advertiser_ids=["1"], lookback_window=60, file_format="xlsx"', "file_format"),
    ],
    ids=["literal-ids", "literal-lookback-beside-an-xcomarg", "window-rule", "file-format"],
)
def test_a_dag_file_with_literal_bad_values_fails_at_parse_naming_the_field(tmp_path, arguments, field):
    dag_file = tmp_path / "bad_dag.py"
    dag_file.write_text(
        textwrap.dedent(
            f"""
            from datetime import datetime
            from airflow.sdk import DAG, task
            from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

            @task
            def upstream():
                return ["1"]

            with DAG("bad_literals", schedule=None, start_date=datetime(2026, 1, 1)):
                CriteoMpoReportToObjectStorageOperator(task_id="t", destination="file:///tmp/x.csv", {arguments})
            """
        )
    )
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file))
    (error,) = bag.import_errors.values()
    assert f"Invalid {field!r}" in error
    assert "bad_literals" not in bag.dags


def test_xcomarg_values_import_and_wire_dependencies():
    """Every argument that can come from upstream takes an XComArg at parse time and becomes a dependency."""
    comp = dags.comp_criteo_chain
    assert comp.get_task("download").upstream_task_ids >= {"create", "sense", "destination_under_base"}
    assert comp.get_task("create").upstream_task_ids == {"advertisers", "past_window"}
    assert dags.comp_walmart_chain.get_task("create").upstream_task_ids == {"report_type"}


# -- clears and retries -------------------------------------------------------------------------------------------------
def test_a_cleared_successful_criteo_transfer_submits_a_new_export(sim, airflow_db, tmp_path, mocker):
    """The same DagRun run twice (see :func:`rerun`): the second run lands a new export, not the old one."""
    recall = mocker.spy(JobLedger, "recall")
    logical_date = datetime(2026, 11, 24, 7, tzinfo=timezone.utc)
    target = tmp_path / "lookback.csv"
    first = rerun(dags.comp_criteo_lookback, logical_date, f"file://{tmp_path}")
    (first_id,) = sim.criteo_jobs
    assert target.read_bytes() == sim.criteo_report_bytes(first_id)
    sim.advance_clock(3600)  # an hour later: the lookback covers another hour
    second = rerun(dags.comp_criteo_lookback, logical_date, f"file://{tmp_path}")
    assert second.run_id == first.run_id and task_facts(second)["transfer"].state == "success"
    assert len(sim.criteo_jobs) == 2  # (the hour's jump expired the token: its first create answered 401)
    second_id = next(report_id for report_id in sim.criteo_jobs if report_id != first_id)
    assert recall.spy_return_list == [None, None]
    assert target.read_bytes() == sim.criteo_report_bytes(second_id)


def test_a_cleared_successful_walmart_transfer_does_not_reattach(sim, airflow_db, tmp_path, mocker):
    """A cleared Walmart snapshot transfer does not reattach through the state store; the create path then
    reuses a matching request of the last hour (Walmart allows one request per type per hour)."""
    recall = mocker.spy(JobLedger, "recall")
    create = mocker.spy(WalmartMarketplaceHook, "create_report_request")
    logical_date = datetime(2026, 11, 24, 8, tzinfo=timezone.utc)
    for _ in range(2):
        dag_run = rerun(dags.comp_walmart_snapshot, logical_date, f"file://{tmp_path}")
        assert task_facts(dag_run)["transfer"].state == "success"
    assert recall.spy_return_list == [None, None]
    assert create.call_count == 2 and sim.stats.calls["walmart.list"] == 2
    (request_id,) = sim.walmart_requests
    assert (tmp_path / "item.csv").read_bytes() == sim.walmart_report_csv(request_id, bom=False)


def test_the_ledger_tells_a_retry_from_a_clear():
    """The record of try 1 is reattached by a try of the same clear generation only, and never once consumed."""

    class Store(dict):
        def set(self, key: str, value: Any) -> None:
            self[key] = value

        def delete(self, key: str) -> None:
            self.pop(key, None)

    class Run:
        def __init__(self, clear_number: int) -> None:
            self.clear_number = clear_number

    log = __import__("logging").getLogger("test")
    store = Store()
    JobLedger({"task_state_store": store, "dag_run": Run(0)}, "k", log).record("job-1", "fp")
    assert JobLedger({"task_state_store": store, "dag_run": Run(0)}, "k", log).recall("fp") == "job-1"  # a retry
    assert JobLedger({"task_state_store": store, "dag_run": Run(0)}, "k", log).recall("other") is None  # other request
    assert JobLedger({"task_state_store": store, "dag_run": Run(1)}, "k", log).recall("fp") is None  # a clear
    JobLedger({"task_state_store": store, "dag_run": Run(0)}, "k", log).consume()
    assert JobLedger({"task_state_store": store, "dag_run": Run(0)}, "k", log).recall("fp") is None  # delivered


def test_hooks_are_imported_only_when_a_task_runs():
    """Operator modules name their hooks and triggers by path: parsing a DAG file loads no HTTP library."""
    import subprocess
    import sys

    code = (
        "import sys, airflow.sdk;"
        "import airflow_report_provider.transfers.criteo_mpo_to_object_storage, airflow_report_provider.transfers.walmart_to_object_storage;"
        "import airflow_report_provider.sensors.criteo_mpo, airflow_report_provider.sensors.walmart;"
        "print(sorted(m for m in ('airflow_report_provider.hooks.criteo_mpo', 'airflow_report_provider.hooks.walmart', 'airflow_report_provider.triggers.base') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    assert CriteoMpoHook.__name__  # the hook modules themselves still import
