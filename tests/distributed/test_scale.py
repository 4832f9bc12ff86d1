"""100 mapped transfers on one Criteo credential across two workers and two triggerers, under 40 calls/min.

About 200 reporting calls (a create and a status poll per export) at 40 per minute: the run lasts 5 to 8
minutes, so it runs only when ``ARP_DISTRIBUTED_SCALE=1`` (``make test-scale``); the 10-transfer run of
test_celery.py proves the same limit on every ``make test``. With the shared limit every task succeeds, the
simulator (enforcing 40 per minute) throttles nothing, and no 60 s of its clock saw more than 40 calls.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.conftest import CeleryDeployment
from tests.distributed.test_celery import CRITEO_LIMIT, most_calls_in_a_minute, trigger_dag, wait_run, xcom

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(os.environ.get("ARP_DISTRIBUTED_SCALE") != "1", reason="set ARP_DISTRIBUTED_SCALE=1 (5-8 minutes)"),
]


def test_100_mapped_transfers_stay_under_one_limit(celery_airflow: CeleryDeployment, distributed_sim: Any, tmp_path: Path) -> None:
    airflow, sim = celery_airflow, distributed_sim
    sim.config.criteo_job_seconds = 2.0
    sim.config.criteo_rate_limit_per_minute = CRITEO_LIMIT
    sim.stats.reset()

    run_id = trigger_dag(airflow, "dist_many", {"file_dir": str(tmp_path)})
    tis = wait_run(airflow, "dist_many", run_id, timeout=1200)

    assert Counter(ti["state"] for ti in tis) == {"success": 100}, Counter(ti["state"] for ti in tis)
    assert sum(sim.stats.throttled.values()) == 0, dict(sim.stats.throttled)
    busiest = most_calls_in_a_minute(sim, ("criteo.create", "criteo.status"))
    calls = sim.stats.calls["criteo.create"] + sim.stats.calls["criteo.status"]
    print(f"{calls} reporting calls; the busiest 60 s saw {busiest}")
    assert busiest <= CRITEO_LIMIT
    assert sim.stats.calls["criteo.create"] == 100
    for index in (0, 57, 99):
        value = xcom(airflow, "dist_many", run_id, "criteo", index)
        assert (tmp_path / "many" / f"{index}.csv").read_bytes() == sim.criteo_report_bytes(value["report_id"])
