"""A deferrable report transfer in a real Airflow deployment waits in the triggerer, holding no task process.

Run alone with ``pytest -m deployment`` (``make test`` does). The fixture in conftest.py starts the
scheduler (LocalExecutor), triggerer, dag-processor and api-server against a simulator whose Criteo export
takes ``CRITEO_JOB_SECONDS``; the test triggers the DAG through the REST API and watches the task instance,
scanning the machine's processes each time it sees the task instance deferred.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.deployment.conftest import AirflowDeployment, wait_for

DAG_ID = "deployment_criteo_deferrable"
TASK_ID = "transfer"
TRIGGER_CLASSPATH = "airflow_report_provider.triggers.criteo_mpo.CriteoMpoReportTrigger"
#: Title LocalExecutor gives its worker processes: "<prefix> <idle>", or "<prefix> <ti id>" while supervising one.
#: The task process itself is titled "airflow worker -- <ti id>".
WORKER_TITLE = "airflow worker -- LocalExecutor:"


@dataclass
class Scan:
    """The processes seen while the task instance was deferred (before and after the scan)."""

    at: float  # seconds since the test first saw the task instance deferred
    task_processes: list[str]  # processes whose title names the task instance
    worker_titles: list[str]  # the LocalExecutor workers

    @property
    def idle(self) -> bool:
        """No process runs the task instance and every executor worker waits for work."""
        return not self.task_processes and bool(self.worker_titles) and all(t.endswith("<idle>") for t in self.worker_titles)


@dataclass
class Watch:
    """What the test saw of the task instance while it ran."""

    states: list[str] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    trigger: dict[str, Any] | None = None


def title(proc: psutil.Process) -> str:
    """A process's title (setproctitle rewrites its command line); "" if it is gone."""
    try:
        return " ".join(proc.cmdline()).strip()
    except psutil.Error:
        return ""


def scan_processes(ti_id: str, scheduler_pid: int, since: float) -> Scan:
    """Every process on the machine that names the task instance, and this deployment's executor workers."""
    try:
        workers = [title(p) for p in psutil.Process(scheduler_pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        workers = []
    return Scan(
        at=round(time.monotonic() - since, 2),
        task_processes=[f"{t} [pid {p.pid}]" for p in psutil.process_iter() if ti_id in (t := title(p))],
        worker_titles=[t for t in workers if t.startswith(WORKER_TITLE)],
    )


def watch_task(airflow: AirflowDeployment, run_id: str, timeout: float) -> Watch:
    """Poll the task instance until it finishes; scan the processes whenever it is deferred."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}"
    watch = Watch()
    first_deferred: float | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        airflow.check_alive()
        ti = airflow.api("GET", path)
        state = ti["state"]
        if not watch.states or watch.states[-1] != state:
            watch.states.append(state)
        if state == "deferred":
            first_deferred = first_deferred or time.monotonic()
            watch.trigger = ti.get("trigger") or watch.trigger
            scan = scan_processes(ti["id"], airflow.processes["scheduler"].pid, first_deferred)
            # The scan counts only if the task instance was deferred during the whole of it.
            if airflow.api("GET", path)["state"] == "deferred":
                watch.scans.append(scan)
        if state in ("success", "failed", "upstream_failed", "skipped", "removed"):
            return watch
        time.sleep(0.5)
    pytest.fail(f"task instance still not finished after {timeout:.0f} s; states seen: {watch.states}")


@pytest.mark.deployment
@pytest.mark.timeout(240)
def test_deferred_transfer_holds_no_task_process(airflow_deployment: AirflowDeployment, deployment_sim: Any, tmp_path: Path) -> None:
    airflow, sim = airflow_deployment, deployment_sim
    target = tmp_path / "out" / "mpo-report.csv"

    # The dag-processor parsed the DAG (no import error); the test unpauses and triggers it like a user would.
    def dag_parsed() -> bool:
        errors = airflow.api("GET", "/api/v2/importErrors")["import_errors"]
        assert not errors, f"DAG import errors: {errors}"
        return any(d["dag_id"] == DAG_ID for d in airflow.api("GET", "/api/v2/dags")["dags"])

    wait_for(f"the dag-processor to parse {DAG_ID}", dag_parsed, timeout=60)
    airflow.api("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
    run_id = airflow.api(
        "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"destination": f"file://{target}"}}
    )["dag_run_id"]

    watch = watch_task(airflow, run_id, timeout=150)
    print(f"states: {watch.states}\nscans while deferred (s since deferred, idle): {[(s.at, s.idle) for s in watch.scans]}")

    assert watch.states[-1] == "success", f"states seen: {watch.states}"
    assert watch.scans, f"the task instance was never seen deferred; states seen: {watch.states}"
    assert watch.trigger is not None and watch.trigger["classpath"] == TRIGGER_CLASSPATH
    # Airflow records the deferral before the worker lets go: its supervisor may notice the task process's exit
    # only on its next select() wake-up ([workers] min_heartbeat_interval, 5 s). So the first scans may show
    # the worker still busy with the task instance; once it is idle it must stay idle for the rest of the wait.
    handover = next((i for i, scan in enumerate(watch.scans) if scan.idle), len(watch.scans))
    waiting = watch.scans[handover:]
    assert len(waiting) >= 5, f"the task process held its worker for the whole wait: {watch.scans}"
    assert all(scan.idle for scan in waiting), [scan for scan in waiting if not scan.idle]

    # Exactly one export was created; every status poll came from the triggerer's async (aiohttp) transport.
    (report_id,) = sim.criteo_jobs.keys()
    assert sim.stats.calls["criteo.create"] == 1
    polls = [r for r in sim.stats.requests if r.endpoint == "criteo.status"]
    assert len(polls) >= 3 and all("aiohttp/" in (r.user_agent or "") for r in polls)

    # The file is at the destination, byte for byte the simulator's export, and the XCom says so.
    assert target.read_bytes() == sim.criteo_report_bytes(report_id)
    xcom = airflow.api(
        "GET",
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/xcomEntries/return_value",
        params={"deserialize": "true", "stringify": "false"},
    )["value"]
    assert xcom["report_id"] == report_id and xcom["bytes"] == target.stat().st_size


def run_to_the_end(airflow: AirflowDeployment, run_id: str, timeout: float) -> str:
    """Wait until the transfer of ``run_id`` is finished; its final state."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}"

    def finished() -> str | None:
        airflow.check_alive()
        state = airflow.api("GET", path)["state"]
        return state if state in ("success", "failed", "upstream_failed", "skipped", "removed") else None

    return wait_for(f"{TASK_ID} of {run_id} to finish", finished, timeout=timeout, interval=1.0)


@pytest.mark.deployment
@pytest.mark.timeout(300)
def test_a_cleared_successful_transfer_submits_a_new_export(airflow_deployment: AirflowDeployment, deployment_sim: Any, tmp_path: Path) -> None:
    """The task succeeds, then is cleared through the REST API (the UI's "Clear"): the rerun submits a new export
    and lands it, instead of reattaching to the delivered one from the task state store."""
    airflow, sim = airflow_deployment, deployment_sim
    target = tmp_path / "out" / "mpo-report.csv"
    wait_for(f"the dag-processor to parse {DAG_ID}", lambda: any(d["dag_id"] == DAG_ID for d in airflow.api("GET", "/api/v2/dags")["dags"]), timeout=60)
    airflow.api("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
    run_id = airflow.api(
        "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"destination": f"file://{target}"}}
    )["dag_run_id"]
    assert run_to_the_end(airflow, run_id, timeout=120) == "success"
    # Clear once the scheduler has finished the run too (a clear racing it would be undone by "run succeeded").
    wait_for("the run to succeed", lambda: airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"] == "success", timeout=60)
    (first_id,) = sim.criteo_jobs.keys()
    assert target.read_bytes() == sim.criteo_report_bytes(first_id)

    sim.advance_clock(600)  # ten minutes later: the lookback covers another span
    cleared = airflow.api(
        "POST",
        f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        json={"dry_run": False, "dag_run_id": run_id, "task_ids": [TASK_ID], "only_failed": False},
    )
    assert [ti["task_id"] for ti in cleared["task_instances"]] == [TASK_ID]
    wait_for("the cleared task to leave success", lambda: airflow.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}")["state"] != "success", timeout=30)
    assert run_to_the_end(airflow, run_id, timeout=120) == "success"

    assert len(sim.criteo_jobs) == 2 and sim.stats.calls["criteo.create"] >= 2
    (second_id,) = set(sim.criteo_jobs) - {first_id}
    assert target.read_bytes() == sim.criteo_report_bytes(second_id)
