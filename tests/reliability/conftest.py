"""Helpers of the reliability tests: DAG runs, task-instance facts, log capture, secret scans, simulator setups."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from tests.support.airflow_env import FAST_EXTRA, connection_env, simulator_connections

#: A past hour: its data interval is an absolute window whose data has settled.
LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


def run(dag: Any, logical_date: datetime | None = LOGICAL_DATE, **conf: Any) -> Any:
    """``dag.test()`` with the DAG's full params (dag.test mutates them in place, so always pass all)."""
    params = {key: conf.get(key, _default(value)) for key, value in dag.params.items()}
    return dag.test(logical_date=logical_date, run_conf={**params, **conf})


def _default(value: Any) -> Any:
    return getattr(value, "value", value)


class TaskFacts(NamedTuple):
    """The final state and the number of tries of one task instance."""

    state: str
    try_number: int


def task_facts(dag_run: Any) -> dict[str, TaskFacts]:
    """task_id -> (final state, tries) of a DagRun returned by ``dag.test()``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: TaskFacts(str(ti.state), ti.try_number) for ti in dag_run.get_task_instances(session=session)}


def xcom_values(dag_run: Any) -> list[Any]:
    """Every XCom value any task of the run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return [XComModel.deserialize_value(row) for row in rows]


@dataclass
class Logs:
    """Everything a DAG run logged: the task and trigger logs Airflow prints, and stdlib records."""

    capfd: Any
    records: list[str] = field(default_factory=list)
    _printed: list[str] = field(default_factory=list)

    def text(self) -> str:
        """All of it so far (reading consumes capfd's buffer; earlier reads are kept)."""
        out, err = self.capfd.readouterr()
        self._printed.append(out + err)
        return "".join(self._printed) + "\n".join(self.records)


class _RecordingHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f"\n{record.exc_info[1]!r}"
        self.sink.append(f"{record.name}: {text}")


@pytest.fixture
def logs(capfd: Any) -> Iterator[Logs]:
    """Captured output of the test (capfd) plus every record reaching the root logger, unformatted."""
    captured = Logs(capfd)
    handler = _RecordingHandler(captured.records)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.removeHandler(handler)


def bad_credentials(monkeypatch: pytest.MonkeyPatch, sim: Any) -> dict[str, str]:
    """Connections ``criteo_bad`` / ``walmart_bad`` with the right client ids and wrong secrets."""
    cfg = sim.config
    extra = {**FAST_EXTRA, "max_calls_per_minute": 0}
    for conn_id, conn_type, login in (
        ("criteo_bad", "criteo_mpo", cfg.criteo_client_id),
        ("walmart_bad", "walmart_marketplace", cfg.walmart_client_id),
    ):
        name, value = connection_env(conn_id, conn_type, sim.url, login, "not-the-secret", extra)
        monkeypatch.setenv(name, value)
    return {"criteo": "criteo_bad", "walmart": "walmart_bad"}


def reconnect(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default connections at ``sim`` again (after its credentials changed)."""
    simulator_connections(sim, monkeypatch)


@pytest.fixture
def sim(sim: Any) -> Any:
    """The shared ``sim`` fixture with quicker jobs (reports are ready 0.4 s after the create)."""
    sim.config.criteo_job_seconds = 0.4
    sim.config.walmart_job_seconds = 0.4
    return sim


@pytest.fixture(scope="module")
def module_sim() -> Iterator[Any]:
    """One simulator for a module whose tests share one DAG run; default connections point at it."""
    config = SimulatorConfig(criteo_job_seconds=1.0, walmart_job_seconds=1.0)
    with pytest.MonkeyPatch.context() as patch, run_simulator(config) as simulator:
        simulator_connections(simulator, patch)
        yield simulator


def files_under(path: Path) -> list[Path]:
    """Every file (hidden ones included) below ``path``."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []
