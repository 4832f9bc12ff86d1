"""Import cost at DAG parse: each operator, sensor and transfer module after ``airflow.sdk``, in a fresh interpreter.

Airflow's DAG processor imports DAG files over and over; what a provider's operator module pulls in at import is paid
on every parse. Yardstick, measured in the same run: the dbt Cloud provider's operator module (installed here by
``make bench``). Each figure is the median of several fresh interpreters. Target: <= 50 ms per module.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from _common import airflow_env

RUNS = 7
TARGET_MS = 50.0
MODULES = [
    "airflow_report_provider.operators.criteo_mpo",
    "airflow_report_provider.operators.walmart",
    "airflow_report_provider.sensors.criteo_mpo",
    "airflow_report_provider.sensors.walmart",
    "airflow_report_provider.transfers.criteo_mpo_to_object_storage",
    "airflow_report_provider.transfers.walmart_to_object_storage",
]
YARDSTICK = "airflow.providers.dbt.cloud.operators.dbt"
#: Modules that must not be loaded by importing an operator module (they are loaded when a task runs).
DEFERRED = ("requests", "aiohttp", "airflow_report_provider.hooks.criteo_mpo", "airflow_report_provider.hooks.walmart")

PROBE = """
import sys, time
import airflow.sdk
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(elapsed, ",".join(m for m in {deferred!r} if m in sys.modules))
"""


def measure(module: str, env: dict[str, str]) -> tuple[float, str]:
    """Median import time in ms over fresh interpreters, and the deferred modules it loaded anyway."""
    times, loaded = [], ""
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module, deferred=DEFERRED)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.split()
        times.append(float(out[0]) * 1000)
        loaded = out[1] if len(out) > 1 else ""
    return statistics.median(times), loaded


def main() -> int:
    env = airflow_env()
    try:
        yardstick, _ = measure(YARDSTICK, env)
    except subprocess.CalledProcessError:
        yardstick = float("nan")
        print(f"(yardstick {YARDSTICK} not installed: pip install apache-airflow-providers-dbt-cloud)")
    print(f"\nImport cost after airflow.sdk, median of {RUNS} fresh interpreters (target <= {TARGET_MS:.0f} ms)")
    print(f"{'module':<66} {'ms':>7} {'x dbt':>6}  loaded at import")
    print(f"{YARDSTICK:<66} {yardstick:>7.1f} {1.0:>6.2f}")
    worst = 0.0
    for module in MODULES:
        ms, loaded = measure(module, env)
        worst = max(worst, ms)
        print(f"{module:<66} {ms:>7.1f} {ms / yardstick:>6.2f}  {loaded or '-'}")
    print(f"worst module: {worst:.1f} ms ({'met' if worst <= TARGET_MS else 'missed'}: target <= {TARGET_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
