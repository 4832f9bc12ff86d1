"""The bad input table: every validation rule of both APIs, refused before any HTTP call, naming the field.

Static values are refused when the operator is constructed (DAG parse time). Templated values are refused at
execute time: the bad-input DAGs of ``tests/dags/reliability_dags.py`` hold one task per rule, each rendering its
bad value from a param (as text, or as a native object with ``render_template_as_native_obj``); one ``dag.test()``
per DAG runs them all. Every task must fail on its first try with a :class:`ReportValidationError` naming the
field, the simulator must have seen no call at all, and no destination may have been written.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator
from airflow_report_provider.operators.walmart import WalmartCreateReportRequestOperator
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator
from tests.dags import reliability_dags as dags
from tests.reliability.conftest import files_under, run, task_facts

TRANSFER = {"destination": "file:///tmp/never-written/report.csv"}


OPERATORS = {
    "criteo": (CriteoMpoCreateReportOperator, CriteoMpoReportToObjectStorageOperator),
    "walmart": (WalmartCreateReportRequestOperator, WalmartReportToObjectStorageOperator),
}


def cases(api: str) -> list[Any]:
    """(operator, operator kwargs, field) for every rule of one API and every operator it applies to (a create
    operator has no destination), from the bad-input DAGs' tables."""
    out = []
    for dag_id, spec in dags.BAD_INPUT.items():
        if not dag_id.startswith(f"rel_{api}_"):
            continue
        for case, (argument, value, field) in spec.rules.items():
            if case in dags.CLOCK_RULES:
                continue
            for operator in OPERATORS[api]:
                if argument == "destination" and operator is OPERATORS[api][0]:
                    continue
                kwargs = spec.kwargs(case, value)
                if operator is OPERATORS[api][1]:
                    kwargs = {**TRANSFER, **kwargs}
                out.append(pytest.param(operator, kwargs, field, id=f"{case}-{operator.__name__}"))
    return out


def assert_names(error: ReportValidationError, field: str) -> None:
    """The error names the field and states its rule."""
    assert error.field == field
    assert f"Invalid {field!r}:" in str(error) and error.rule in str(error)


# -- parse time ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("operator", "kwargs", "field"), [*cases("criteo"), *cases("walmart")])
def test_static_bad_value_is_refused_at_parse_time(operator, kwargs, field):
    with pytest.raises(ReportValidationError) as info:
        operator(task_id="t", **kwargs)
    assert_names(info.value, field)


@pytest.mark.parametrize(
    ("operator", "kwargs", "field"),
    [
        (CriteoMpoReportToObjectStorageOperator, {"advertiser_ids": ["1"], "compression": "zip"}, "compression"),
        (CriteoMpoReportToObjectStorageOperator, {}, "advertiser_ids"),  # neither a report nor an export id
        (CriteoMpoReportToObjectStorageOperator, {"report_id": "not an id/"}, "report_id"),
        (WalmartReportToObjectStorageOperator, {"report_type": "ITEM", "report_version": "v4", "compression": "zip"}, "compression"),
        (WalmartReportToObjectStorageOperator, {"request_id": "not an id/"}, "request_id"),
        (CriteoMpoReportToObjectStorageOperator, {"advertiser_ids": ["1"], "checksum": "md5"}, "checksum"),
        (WalmartReportToObjectStorageOperator, {"report_type": "ITEM", "report_version": "v4", "checksum": "crc"}, "checksum"),
    ],
    ids=[
        "criteo-compression",
        "criteo-nothing-to-download",
        "criteo-report-id",
        "walmart-compression",
        "walmart-request-id",
        "criteo-checksum",
        "walmart-checksum",
    ],
)
def test_transfer_only_static_bad_value_is_refused_at_parse_time(operator, kwargs, field):
    with pytest.raises(ReportValidationError) as info:
        operator(task_id="t", **{**TRANSFER, **kwargs})
    assert_names(info.value, field)


WAIT_ARGUMENTS = {"criteo": {"advertiser_ids": ["1"]}, "walmart": {"report_type": "ITEM", "report_version": "v4"}}


@pytest.mark.parametrize("api", ["criteo", "walmart"])
@pytest.mark.parametrize(
    ("argument", "value", "rule"),
    [
        ("poll_interval", "30s", "must be a number of seconds or a timedelta"),
        ("poll_interval", 0, "must be more than 0 seconds"),
        ("max_poll_interval", -5, "must be more than 0 seconds"),
        ("timeout", timedelta(0), "must be more than 0 seconds"),
    ],
)
def test_durations_are_checked_at_parse_time_and_their_errors_say_seconds(api, argument, value, rule):
    for operator in OPERATORS[api]:
        kwargs = {**TRANSFER, **WAIT_ARGUMENTS[api]} if operator is OPERATORS[api][1] else WAIT_ARGUMENTS[api]
        with pytest.raises(ReportValidationError) as info:
            operator(task_id="t", **{**kwargs, argument: value})
        assert_names(info.value, argument)
        assert rule in str(info.value)


def test_lookback_window_error_says_minutes():
    with pytest.raises(ReportValidationError) as info:
        CriteoMpoCreateReportOperator(task_id="t", advertiser_ids=["1"], lookback_window=30)
    assert_names(info.value, "lookback_window")
    assert "between 60 and 1440 minutes" in str(info.value)


@pytest.mark.parametrize("case", sorted(dags.CLOCK_RULES))
@pytest.mark.parametrize("operator", OPERATORS["walmart"])
def test_clock_rules_never_run_at_parse_time(operator, case):
    """A literal date that is out of range today (or will be, some day) still imports: the run refuses it."""
    argument, value, _ = dags.WALMART_BAD_NATIVE[case]
    kwargs = {"report_type": "ITEM", "report_version": "v4", argument: value}
    if operator is OPERATORS["walmart"][1]:
        kwargs = {**TRANSFER, **kwargs}
    assert operator(task_id="t", **kwargs).request_body == value


# -- execute time: one DAG run per bad-input DAG ----------------------------------------------------------------------
BAD_DAGS = {
    "rel_criteo_bad_text": dags.rel_criteo_bad_text,
    "rel_criteo_bad_native": dags.rel_criteo_bad_native,
    "rel_walmart_bad_text": dags.rel_walmart_bad_text,
    "rel_walmart_bad_native": dags.rel_walmart_bad_native,
}


class BadRun:
    """A finished run of one bad-input DAG."""

    def __init__(self, dag_run: Any, out: Path) -> None:
        self.facts = task_facts(dag_run)
        self.out = out


@pytest.fixture(scope="module")
def bad_runs(module_sim: Any, airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadRun]:
    """Every bad-input DAG run once against a simulator that must stay untouched."""
    dags.BAD_INPUT_FAILURES.clear()
    runs = {}
    for dag_id, dag in BAD_DAGS.items():
        out = tmp_path_factory.mktemp(dag_id)
        runs[dag_id] = BadRun(run(dag, logical_date=None, out=f"file://{out}"), out)
    return runs


def test_bad_templated_input_makes_no_http_call_and_writes_nothing(bad_runs, module_sim):
    assert module_sim.stats.total_calls() == 0
    for dag_id, bad in bad_runs.items():
        assert files_under(bad.out) == [], dag_id
    assert not Path("reports").exists() and not Path("walmart").exists()  # the scheme-less destinations


@pytest.mark.parametrize(
    ("dag_id", "case", "field"),
    [
        pytest.param(dag_id, case, rule[2], id=f"{dag_id}-{case}")
        for dag_id, spec in dags.BAD_INPUT.items()
        for case, rule in spec.rules.items()
    ],
)
def test_bad_templated_value_fails_the_task_at_execute_naming_the_field(bad_runs, dag_id, case, field):
    assert bad_runs[dag_id].facts[case] == ("failed", 1)  # on its first try: bad input is not retried
    error = dags.BAD_INPUT_FAILURES[f"{dag_id}.{case}"]
    while error is not None and not isinstance(error, ReportValidationError):
        error = error.__cause__
    assert isinstance(error, ReportValidationError), dags.BAD_INPUT_FAILURES[f"{dag_id}.{case}"]
    assert_names(error, field)
