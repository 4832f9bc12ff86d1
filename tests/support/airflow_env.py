"""Fixtures for tests that run real Airflow against the simulator: the metadata DB, connections, DAG runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.common.http.ratelimit import RATE_LIMITERS
from airflow_report_provider.common.http.tokens import TOKEN_CACHE
from airflow_report_provider.hooks.connections import CONNECTION_LOOKUPS
from airflow_report_provider.simulator import SimulatorConfig, run_simulator

#: Fast timings for tests: jobs finish in about a second, retries back off in tenths of seconds.
FAST_EXTRA = {"retry_base_delay": 0.05, "retry_max_delay": 2.0, "max_retries": 5}


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test starts with no cached token and no rate-limiter history."""
    TOKEN_CACHE.clear()
    RATE_LIMITERS.reset()
    CONNECTION_LOOKUPS.clear()
    yield
    TOKEN_CACHE.clear()
    RATE_LIMITERS.reset()
    CONNECTION_LOOKUPS.clear()


@pytest.fixture
def short_first_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorten the APIs' minimum poll intervals (Criteo 5 s, Walmart 60 s) to tenths of a second.

    For DAGs that poll at the production defaults, like the example DAGs: a trigger's first poll waits the
    schedule's first delay, which would make each Walmart run here a minute long. (dag.test() runs the
    triggers in this process, so the class attributes patched here are the ones they read.)
    """
    from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
    from airflow_report_provider.triggers.walmart import WalmartReportTrigger

    for trigger in (CriteoMpoReportTrigger, WalmartReportTrigger):
        monkeypatch.setattr(trigger, "api_min_poll_interval", 0.2)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised SQLite metadata DB in the session's throw-away AIRFLOW_HOME."""
    home = Path(os.environ["AIRFLOW_HOME"])
    marker = home / ".migrated"
    if not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        marker.touch()
    return home


def connection_env(conn_id: str, conn_type: str, host: str, login: str, password: str, extra: dict[str, Any]) -> tuple[str, str]:
    """The ``AIRFLOW_CONN_*`` variable (JSON form) that defines a connection."""
    value = json.dumps({"conn_type": conn_type, "host": host, "login": login, "password": password, "extra": extra})
    return f"AIRFLOW_CONN_{conn_id.upper()}", value


def simulator_connections(sim: Any, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    """Point ``criteo_mpo_default`` and ``walmart_marketplace_default`` at a running simulator."""
    cfg = sim.config
    criteo_extra = {**FAST_EXTRA, "max_calls_per_minute": 0, **extra}
    walmart_extra = {**FAST_EXTRA, "max_calls_per_minute": 0, **extra}
    for conn_id, conn_type, login, password, conn_extra in (
        ("criteo_mpo_default", "criteo_mpo", cfg.criteo_client_id, cfg.criteo_client_secret, criteo_extra),
        ("walmart_marketplace_default", "walmart_marketplace", cfg.walmart_client_id, cfg.walmart_client_secret, walmart_extra),
    ):
        name, value = connection_env(conn_id, conn_type, sim.url, login, password, conn_extra)
        monkeypatch.setenv(name, value)


@contextlib.contextmanager
def connected_simulator(config: SimulatorConfig, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Iterator[Any]:
    """A running simulator, with the default connections pointing at it while it runs."""
    with run_simulator(config) as simulator:
        simulator_connections(simulator, monkeypatch, **extra)
        yield simulator


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A running simulator with fast jobs, and the default connections pointing at it."""
    with connected_simulator(SimulatorConfig(criteo_job_seconds=1.0, walmart_job_seconds=1.0), monkeypatch) as simulator:
        yield simulator


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the example DAGs write: their ``reports_destination`` Variable, given through the environment."""
    base = tmp_path / "reports"
    monkeypatch.setenv("AIRFLOW_VAR_REPORTS_DESTINATION", f"file://{base}")
    return base


def run_dag(dag: Any, **kwargs: Any) -> Any:
    """Run a DAG with ``dag.test()`` and return the DagRun."""
    return dag.test(**kwargs)


def task_states(dag_run: Any) -> dict[str, str]:
    """task_id -> final state of a DagRun returned by ``dag.test()``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The XCom a task of a ``dag.test()`` run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)
