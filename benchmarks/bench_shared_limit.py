"""Calls per 60 s on one Criteo credential from several processes, with and without the shared (Redis) limit.

Each of ``PROCESSES`` child processes polls one export's status as fast as its limiter lets it, for
``SECONDS`` seconds, with the connection's 40 calls/min. Without ``rate_limit_storage`` each process keeps its
own 40/min, so together they make about ``PROCESSES`` times that; with it they share one window. The simulator
answers 429 past 40 calls in one of its minutes. Needs Redis on 127.0.0.1:6379 (``python benchmarks/bench_shared_limit.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import print_table  # noqa: E402

PROCESSES = 4
SECONDS = 65.0
LIMIT = 40
REDIS = "redis://127.0.0.1:6379/7"


def _poll(url: str, report_id: str, storage: str | None, until: float) -> None:
    from airflow_report_provider.apis.criteo_mpo import CriteoMpoProtocol
    from airflow_report_provider.common.exceptions import RateLimitedError
    from airflow_report_provider.common.http.protocol import Credentials
    from airflow_report_provider.common.http.retry import RetryPolicy
    from airflow_report_provider.common.http.transport import SyncTransport
    from airflow_report_provider.simulator.config import SimulatorConfig

    cfg = SimulatorConfig()
    protocol = CriteoMpoProtocol(host=url)
    transport = SyncTransport(
        protocol,
        Credentials(host=url, client_id=cfg.criteo_client_id, client_secret=cfg.criteo_client_secret),
        calls_per_minute=LIMIT,
        rate_limit_storage=storage,
        retry=RetryPolicy(max_attempts=1),
    )
    while time.time() < until:
        try:
            transport.send(protocol.status_request(report_id))
        except RateLimitedError:
            pass


def measure(storage: str | None) -> tuple[int, int, int]:
    """(calls, busiest 60 s of the simulator's clock, 429 answers)."""
    from airflow_report_provider.simulator import SimulatorConfig, run_simulator
    from airflow_report_provider.simulator.testing import create_criteo_export, criteo_token

    with run_simulator(SimulatorConfig(criteo_job_seconds=3600)) as sim:
        report_id = create_criteo_export(sim, criteo_token(sim))
        sim.stats.reset()
        sim.config.criteo_rate_limit_per_minute = LIMIT
        until = time.time() + SECONDS
        context = multiprocessing.get_context("spawn")
        children = [context.Process(target=_poll, args=(sim.url, report_id, storage, until)) for _ in range(PROCESSES)]
        for child in children:
            child.start()
        for child in children:
            child.join()
        times = sorted(r.time for r in sim.stats.records("criteo.status"))
        busiest, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 60:
                start += 1
            busiest = max(busiest, end - start + 1)
        return len(times), busiest, sum(sim.stats.throttled.values())


def main() -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    rows = []
    for label, storage in (("per process", None), ("shared (Redis)", REDIS)):
        calls, busiest, throttled = measure(storage)
        rows.append((label, PROCESSES, SECONDS, calls, busiest, throttled))
    print_table(
        f"{PROCESSES} processes, one credential, {LIMIT} calls/min each",
        ("limit", "processes", "seconds", "calls", "busiest 60 s", "429 answers"),
        rows,
    )


if __name__ == "__main__":
    main()
