"""Metrics reach a StatsD server: real DAG runs (``dag.test()``, deferrable and blocking) against the simulator,
in a child process whose Airflow has ``[metrics] statsd_on`` pointed at a loopback UDP listener.

Airflow's Stats reads ``[metrics]`` when it is initialised in a process, so the settings are given to a child
process through the environment before it imports Airflow (as a worker or triggerer gets them from its config).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_report_provider.common.observability import metrics
from tests.observability.statsd_listener import StatsdListener, statsd_listener

pytestmark = [pytest.mark.observability, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PREFIX = "airflow_test"

RUN_DAGS = """
import json, sys
from datetime import datetime, timezone
from tests.dags import criteo_test_dags, walmart_test_dags
from tests.support.airflow_env import task_states
out = sys.argv[1]
when = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)
states = {}
run = criteo_test_dags.criteo_transfer_deferrable.test(
    logical_date=when, run_conf={"destination": f"file://{out}/criteo.csv", "file_format": "csv"}
)
states["criteo"] = task_states(run)
run = walmart_test_dags.walmart_transfer_blocking.test(logical_date=when, run_conf={"destination": f"file://{out}/walmart.csv"})
states["walmart"] = task_states(run)
print("STATES=" + json.dumps(states))
"""


def run_with_statsd(listener: StatsdListener, out: Path) -> str:
    env = {
        **os.environ,
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(listener.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": PREFIX,
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run([sys.executable, "-c", RUN_DAGS, str(out)], env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def wait_for_metric(listener: StatsdListener, name: str, timeout: float = 5.0) -> None:
    """UDP is fire-and-forget: give the last datagrams a moment to be read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and f"{PREFIX}.{name}" not in listener.metrics(PREFIX):
        time.sleep(0.05)


def test_dag_runs_send_provider_metrics_to_statsd(sim, airflow_db, tmp_path):
    sim.inject_fault("criteo.status", status=429, times=1, headers={"Retry-After": "0"})
    with statsd_listener() as listener:
        stdout = run_with_statsd(listener, tmp_path)
        wait_for_metric(listener, "report_provider.wait_time.walmart.success")
    assert 'STATES={"criteo": {"transfer": "success"}, "walmart": {"transfer": "success"}}' in stdout
    seen = listener.metrics(PREFIX)
    print("\n".join(f"{name} {values}" for name, values in sorted(seen.items())))
    p = f"{PREFIX}.{metrics.PREFIX}"

    # Every API call, by API, endpoint and HTTP status; the injected 429 is also a throttled call.
    assert listener.total(PREFIX, f"{p}.api_calls.criteo_mpo.create.200") == 1
    assert listener.total(PREFIX, f"{p}.api_calls.criteo_mpo.status.429") == 1
    assert listener.total(PREFIX, f"{p}.api_calls.criteo_mpo.status.200") >= 1
    assert listener.total(PREFIX, f"{p}.api_calls.criteo_mpo.download.200") == 1
    assert listener.total(PREFIX, f"{p}.throttled.criteo_mpo.status") == 1
    statuses = [r.status for r in sim.stats.requests if r.endpoint.startswith("walmart.")]
    walmart_calls = sum(v for name, values in seen.items() if name.startswith(f"{p}.api_calls.walmart.") for v, _ in values)
    assert walmart_calls == len(statuses) and walmart_calls >= 4
    # The bare (tagged) form of each count, for backends with tags: plain StatsD drops the tags, the sum stays.
    detailed = sum(v for name, values in seen.items() if name.startswith(f"{p}.api_calls.") for v, _ in values)
    assert listener.total(PREFIX, f"{p}.api_calls") == detailed

    # Tokens: one issued per API to this process (the deferrable run's trigger shares the worker's cache).
    assert listener.total(PREFIX, f"{p}.token_refreshes.criteo_mpo") >= 1
    assert listener.total(PREFIX, f"{p}.token_refreshes.walmart") >= 1

    # Bytes written equal what landed; download and wait times are timers ("ms").
    landed = (tmp_path / "criteo.csv").stat().st_size + (tmp_path / "walmart.csv").stat().st_size
    assert listener.total(PREFIX, f"{p}.bytes_written.file") == landed
    for name in (f"{p}.download_time.file", f"{p}.wait_time.criteo_mpo.success", f"{p}.wait_time.walmart.success"):
        assert seen.get(name) and all(kind == "ms" and value >= 0 for value, kind in seen[name]), sorted(seen)

    # Nothing secret or job-specific in a metric name.
    cfg = sim.config
    for name in seen:
        assert cfg.criteo_client_secret not in name and cfg.walmart_client_secret not in name
        assert not any(job_id in name for job_id in sim.criteo_jobs)
