"""`make demo`: every example DAG, end to end, against the loopback simulator; no credentials, no Docker.

1. Starts the report API simulator (Criteo MPO + Walmart Marketplace stand-ins) on 127.0.0.1.
2. Uses an SQLite Airflow home under the repository (``.airflow-home/``) and runs ``airflow db migrate``.
3. Points the connections at the simulator (``AIRFLOW_CONN_*``) and the reports at ``demo-output/``
   (``AIRFLOW_VAR_REPORTS_DESTINATION``), exactly as a deployment would configure the example DAGs.
4. Runs each example DAG with ``airflow dags test <dag_id> <logical date>`` in a subprocess.
5. Prints the files written with their first rows, and stops the simulator.

Run it with the project's virtualenv (``make demo`` builds it): ``.venv/bin/python scripts/demo.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow_report_provider.simulator import Simulator, SimulatorConfig, run_simulator

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = REPO / ".airflow-home"
OUTPUT = REPO / "demo-output"
LOGS = AIRFLOW_HOME / "demo-logs"
EXAMPLE_DAGS = REPO / "example_dags"
#: Days of ITEM_PERFORMANCE backfilled by the demo.
BACKFILL_DAYS = 3
PREVIEW_LINES = 4
PREVIEW_WIDTH = 110


@dataclass(frozen=True)
class Step:
    """One ``airflow`` command of the demo."""

    title: str
    args: tuple[str, ...]
    log_name: str


def simulator_config() -> SimulatorConfig:
    """Reports ready at the first status poll, so the examples' production poll intervals never wait.

    Walmart's one-request-per-report-type-per-hour quota is off: the demo backfills several days within a
    minute, which the real API would spread over as many hours (see the README, "Windows and backfills").
    """
    return SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0, walmart_create_limit_per_hour=0)


def connection(conn_type: str, host: str, login: str, password: str) -> str:
    """A connection in the JSON form of ``AIRFLOW_CONN_*``.

    ``max_calls_per_minute: 0`` turns off the client-side limiter that keeps a process under the real APIs'
    documented rates (Walmart's is a few calls a minute): the simulator has no such limit.
    """
    extra = {"max_calls_per_minute": 0}
    return json.dumps({"conn_type": conn_type, "host": host, "login": login, "password": password, "extra": extra})


def airflow_env(sim: Simulator) -> dict[str, str]:
    """The environment of every ``airflow`` subprocess: home, DAG folder, connections, destination."""
    cfg = sim.config
    bundles = [
        {
            "name": "example-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(EXAMPLE_DAGS)},
        }
    ]
    # Nothing from the caller's own Airflow setup leaks in (another AIRFLOW_HOME, connections, variables).
    inherited = ("AIRFLOW_HOME", "AIRFLOW_CONFIG", "AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env.update(
        {
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
            "AIRFLOW_CONN_CRITEO_MPO_DEFAULT": connection(
                "criteo_mpo", sim.url, cfg.criteo_client_id, cfg.criteo_client_secret
            ),
            "AIRFLOW_CONN_WALMART_MARKETPLACE_DEFAULT": connection(
                "walmart_marketplace", sim.url, cfg.walmart_client_id, cfg.walmart_client_secret
            ),
            "AIRFLOW_VAR_REPORTS_DESTINATION": OUTPUT.as_uri(),
        }
    )
    return env


def steps(now: datetime) -> list[Step]:
    """``airflow`` commands in order: migrate, then each example DAG (logical dates chosen from ``now``)."""
    # dag.test(logical_date=T) runs the last complete interval before T. The latest Criteo hour whose data
    # has settled (10 minutes of latency) is the one ending at floor(now - 10 min).
    settled_hour = (now - timedelta(minutes=10)).replace(minute=0, second=0, microsecond=0)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    plan = [
        Step("airflow db migrate", ("db", "migrate"), "db-migrate"),
        dag_test("criteo_mpo_hourly", settled_hour, "latest settled hour"),
        dag_test("criteo_mpo_hourly_summary", now, "on the Asset"),
        dag_test("walmart_item_report_daily", now, "snapshot"),
        dag_test("criteo_mpo_taskflow_chain", now, "create -> sensor -> transfer through .output"),
        dag_test("criteo_mpo_advertiser_fanout", settled_hour, "mapped over advertisers"),
        dag_test("walmart_report_types", now, "mapped over report types"),
    ]
    for back in range(BACKFILL_DAYS - 1, -1, -1):
        logical = today - timedelta(days=back)
        day = f"{logical - timedelta(days=1):%Y-%m-%d}"
        plan.append(dag_test("walmart_item_performance_backfill", logical, day, log_suffix=f"-{day}"))
    return plan


def dag_test(dag_id: str, logical_date: datetime, note: str, log_suffix: str = "") -> Step:
    """``airflow dags test <dag_id> <logical_date>``."""
    return Step(f"{dag_id} ({note})", ("dags", "test", dag_id, logical_date.isoformat()), f"{dag_id}{log_suffix}")


def run_step(number: int, total: int, step: Step, env: dict[str, str]) -> None:
    """Run one ``airflow`` command, its output into a log file; on failure show the log's tail and exit."""
    log_path = LOGS / f"{step.log_name}.log"
    print(f"[{number}/{total}] {step.title} ... ", end="", flush=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "airflow", *step.args]
        code = subprocess.call(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    elapsed = time.monotonic() - started
    if code != 0:
        print(f"FAILED ({elapsed:.1f} s, exit {code})")
        print(f"--- last lines of {log_path.relative_to(REPO)} ---")
        print("\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
        raise SystemExit(1)
    print(f"ok ({elapsed:.1f} s)")


def written_files() -> Iterator[Path]:
    yield from sorted(p for p in OUTPUT.rglob("*") if p.is_file() and not p.name.startswith("."))


def preview(path: Path) -> list[str]:
    """The first lines of a report (CSV or JSON), shortened to the terminal."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        lines = [line.rstrip("\n") for _, line in zip(range(PREVIEW_LINES), handle)]
    return [line if len(line) <= PREVIEW_WIDTH else line[: PREVIEW_WIDTH - 3] + "..." for line in lines]


def report_files() -> int:
    """Print every file under demo-output/ with its size, line count and first lines; the number of files."""
    files = list(written_files())
    print(f"\nFiles written under {OUTPUT.relative_to(REPO)}/:")
    for path in files:
        with path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        print(f"\n  {path.relative_to(OUTPUT)}  ({path.stat().st_size:,} bytes, {lines} lines)")
        for line in preview(path):
            print(f"    {line}")
    return len(files)


#: The demo's cluster policy (Airflow's ``airflow_local_settings.py``): the simulator's reports are ready at once,
#: so the provider's waits poll after 1 s instead of each API's production minimum (Walmart: a minute). The
#: example DAGs themselves stay as they would run in production.
DEMO_POLICY = '''"""make demo: short first polls for the provider's tasks (the simulator's reports are ready at once)."""


def task_policy(task):
    operator_class = task.operator_class if hasattr(task, "partial_kwargs") else type(task)
    if not getattr(operator_class, "__module__", "").startswith("airflow_report_provider."):
        return
    if hasattr(task, "partial_kwargs"):  # a mapped task: the value every instance is built with
        task.partial_kwargs["poll_interval"] = 1.0
    else:
        task.poll_interval = 1.0
'''


def write_demo_policy() -> None:
    config = AIRFLOW_HOME / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "airflow_local_settings.py").write_text(DEMO_POLICY)


def main() -> int:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    write_demo_policy()
    OUTPUT.mkdir(parents=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with run_simulator(simulator_config()) as sim:
        print(f"Report API simulator (Criteo MPO + Walmart Marketplace) on {sim.url}")
        print(f"Airflow home {AIRFLOW_HOME.relative_to(REPO)}/ (SQLite), DAGs from {EXAMPLE_DAGS.relative_to(REPO)}/, "
              f"reports to {OUTPUT.relative_to(REPO)}/, logs in {LOGS.relative_to(REPO)}/\n")
        env = airflow_env(sim)
        plan = steps(datetime.now(timezone.utc))
        for number, step in enumerate(plan, start=1):
            run_step(number, len(plan), step, env)
        calls = dict(sorted(sim.stats.calls.items()))
    count = report_files()
    print(f"\nSimulator calls: {', '.join(f'{name} {n}' for name, n in calls.items())}")
    print(f"Simulator stopped. {count} files written in {time.monotonic() - started:.0f} s.")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
