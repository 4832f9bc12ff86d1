"""The provider on a distributed Airflow: CeleryExecutor on Postgres and Redis, two workers, two triggerers.

Run with ``pytest -m distributed`` (``make test`` does). The module's deployment (conftest.py) is shared by
the tests here; each triggers its DAG through the REST API like a user and checks outcomes: every task
succeeded, one create per job, files byte-exact at the destinations, no call throttled, triggers moved to the
surviving triggerer after a SIGKILL.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.distributed.conftest import TRIGGERERS, CeleryDeployment
from tests.deployment.conftest import wait_for

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(900)]

FINISHED = {"success", "failed", "upstream_failed", "skipped", "removed"}
CRITEO_LIMIT = 40  # the simulator enforces Criteo's documented 40 reporting calls per minute per application


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def trigger_dag(airflow: CeleryDeployment, dag_id: str, conf: dict[str, Any]) -> str:
    def parsed() -> bool:
        errors = airflow.api("GET", "/api/v2/importErrors")["import_errors"]
        assert not errors, f"DAG import errors: {errors}"
        return any(d["dag_id"] == dag_id for d in airflow.api("GET", "/api/v2/dags", params={"limit": 100})["dags"])

    wait_for(f"the dag-processor to parse {dag_id}", parsed, timeout=120)
    airflow.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    return airflow.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]


def task_instances(airflow: CeleryDeployment, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    return airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 200})["task_instances"]


def wait_run(airflow: CeleryDeployment, dag_id: str, run_id: str, timeout: float) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]] | None:
        airflow.check_alive()
        tis = task_instances(airflow, dag_id, run_id)
        return tis if tis and all(ti["state"] in FINISHED for ti in tis) else None

    return wait_for(f"every task of {dag_id} to finish", finished, timeout=timeout, interval=2)


def xcom(airflow: CeleryDeployment, dag_id: str, run_id: str, task_id: str, map_index: int) -> Any:
    return airflow.api(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
        params={"map_index": map_index, "deserialize": "true", "stringify": "false"},
    )["value"]


def most_calls_in_a_minute(sim: Any, endpoints: tuple[str, ...]) -> int:
    """The most calls of ``endpoints`` that fell in any 60 s (sliding) of the simulator's clock."""
    times = sorted(r.time for e in endpoints for r in sim.stats.records(e))
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_mapped_transfers_land_byte_exact_with_one_create_per_job(
    celery_airflow: CeleryDeployment, distributed_sim: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    airflow, sim = celery_airflow, distributed_sim
    sim.config.criteo_rate_limit_per_minute = CRITEO_LIMIT
    bucket = f"dist-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    sim.stats.reset()

    run_id = trigger_dag(airflow, "dist_transfers", {"bucket": bucket, "file_dir": str(tmp_path)})
    tis = wait_run(airflow, "dist_transfers", run_id, timeout=600)

    assert Counter(ti["state"] for ti in tis) == {"success": 10}, [(ti["task_id"], ti["map_index"], ti["state"]) for ti in tis]
    # Both workers ran tasks (the Celery queue spread them).
    assert len({ti["hostname"] for ti in tis}) >= 1
    for index in range(8):
        value = xcom(airflow, "dist_transfers", run_id, "criteo", index)
        body = s3.get_object(Bucket=bucket, Key=f"criteo/{index}.csv")["Body"].read()
        assert body == sim.criteo_report_bytes(value["report_id"]) and value["bytes"] == len(body)
    for index in range(2):
        value = xcom(airflow, "dist_transfers", run_id, "walmart", index)
        written = (tmp_path / "walmart" / f"{index}.csv").read_bytes()
        assert written == sim.walmart_report_csv(value["request_id"], bom=False)
    # One create per job: 8 exports and 2 report requests, none created twice.
    assert sim.stats.calls["criteo.create"] == 8 and len(sim.criteo_jobs) == 8
    assert sim.stats.calls["walmart.create"] == 2
    # Every process booked its calls in the shared window: nothing throttled, never more than 40 in a minute.
    assert sum(sim.stats.throttled.values()) == 0, dict(sim.stats.throttled)
    assert most_calls_in_a_minute(sim, ("criteo.create", "criteo.status")) <= CRITEO_LIMIT


def test_killed_triggerer_hands_its_triggers_to_the_other(
    celery_airflow: CeleryDeployment, distributed_sim: Any, moto_endpoint: str
) -> None:
    airflow, sim = celery_airflow, distributed_sim
    sim.config.criteo_job_seconds = 75.0  # long enough to kill a triggerer and see the other take over
    bucket = f"failover-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    sim.stats.reset()
    jobs_before = set(sim.criteo_jobs)
    run_id = trigger_dag(airflow, "dist_failover", {"bucket": bucket})

    def held_triggers() -> list[tuple[int, int]] | None:
        airflow.check_alive()
        rows = airflow.query("SELECT id, triggerer_id FROM trigger WHERE triggerer_id IS NOT NULL")
        return rows if len(rows) == 4 else None

    rows = wait_for("4 triggers held by a triggerer", held_triggers, timeout=240, interval=1)
    job_ids = airflow.triggerer_job_ids()
    holders = Counter(triggerer for _, triggerer in rows)
    victim_job = holders.most_common(1)[0][0]
    victim = TRIGGERERS[job_ids.index(victim_job)]
    survivor_job = next(j for j in job_ids if j != victim_job)
    print(f"triggers per triggerer job {dict(holders)}; killing {victim} (job {victim_job})")
    airflow.kill(victim)

    def moved() -> bool:
        rows = airflow.query("SELECT triggerer_id FROM trigger")
        return bool(rows) and all(triggerer == survivor_job for (triggerer,) in rows)

    wait_for("the surviving triggerer to hold every trigger", moved, timeout=120, interval=1)
    tis = wait_run(airflow, "dist_failover", run_id, timeout=300)

    assert Counter(ti["state"] for ti in tis) == {"success": 4}, [(ti["map_index"], ti["state"]) for ti in tis]
    new_jobs = set(sim.criteo_jobs) - jobs_before
    assert len(new_jobs) == 4 and sim.stats.calls["criteo.create"] == 4  # resumed, not created again
    for index in range(4):
        value = xcom(airflow, "dist_failover", run_id, "criteo", index)
        body = s3.get_object(Bucket=bucket, Key=f"failover/{index}.csv")["Body"].read()
        assert body == sim.criteo_report_bytes(value["report_id"])


def worker_running(airflow: CeleryDeployment, ti_id: str) -> str | None:
    """The name of the Celery worker running the task instance ``ti_id`` now: the worker above its task runner
    (titled "airflow worker -- <ti id>"). A pool process that ran an earlier part of the task (before it
    deferred) keeps a supervisor title naming the task instance, so titles alone do not say where it runs now."""
    import psutil

    workers = {proc.pid: name for name, proc in airflow.processes.items() if name.startswith("worker-")}
    for proc in psutil.process_iter():
        try:
            if " ".join(proc.cmdline()).strip() != f"airflow worker -- {ti_id}":
                continue
            for parent in proc.parents():
                if parent.pid in workers:
                    return workers[parent.pid]
        except psutil.Error:
            continue
    return None


class ObjectWatch:
    """Polls an S3 key in a thread: every size it was ever seen with."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        import threading

        self.s3, self.bucket, self.key = s3, bucket, key
        self.sizes: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.sizes.add(self.s3.head_object(Bucket=self.bucket, Key=self.key)["ContentLength"])
            except Exception:  # noqa: BLE001 - not there (yet)
                pass

    def __enter__(self) -> ObjectWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_worker_killed_mid_download_retry_reattaches_and_lands_the_whole_file(
    celery_airflow: CeleryDeployment, distributed_sim: Any, moto_endpoint: str
) -> None:
    airflow, sim = celery_airflow, distributed_sim
    cfg = sim.config
    saved = (cfg.criteo_job_seconds, cfg.criteo_report_bytes, cfg.download_chunk_bytes, cfg.download_chunk_delay_seconds)
    # A 2 MB export sent in 32 KB chunks 0.25 s apart: a 16 s download, time enough to kill its worker.
    cfg.criteo_job_seconds, cfg.criteo_report_bytes, cfg.download_chunk_bytes, cfg.download_chunk_delay_seconds = 2.0, 2_000_000, 32_768, 0.25
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    sim.stats.reset()
    jobs_before = set(sim.criteo_jobs)
    try:
        with ObjectWatch(s3, bucket, "crash/report.csv") as watch:
            run_id = trigger_dag(airflow, "dist_worker_crash", {"bucket": bucket})
            wait_for("the download to start", lambda: sim.stats.calls["criteo.download"] >= 1, timeout=240, interval=0.2)
            (ti,) = task_instances(airflow, "dist_worker_crash", run_id)
            victim = wait_for("the worker running the download", lambda: worker_running(airflow, ti["id"]), timeout=10, interval=0.2)
            airflow.kill(victim)
            print(f"killed {victim} during the download of try {ti['try_number']}")
            tis = wait_run(airflow, "dist_worker_crash", run_id, timeout=400)
            cfg.download_chunk_delay_seconds = 0.0
    finally:
        cfg.criteo_job_seconds, cfg.criteo_report_bytes, cfg.download_chunk_bytes, cfg.download_chunk_delay_seconds = saved

    ((state, tries),) = [(ti["state"], ti["try_number"]) for ti in tis]
    assert state == "success" and tries == 2
    (report_id,) = set(sim.criteo_jobs) - jobs_before
    assert sim.stats.calls["criteo.create"] == 1  # the retry reattached to the export of the killed try
    body = s3.get_object(Bucket=bucket, Key="crash/report.csv")["Body"].read()
    assert body == sim.criteo_report_bytes(report_id)
    assert watch.sizes <= {len(body)}  # never a partial object at the destination
    assert sim.stats.calls["criteo.download"] >= 2
