"""A distributed Airflow for tests: CeleryExecutor on the machine's Postgres and Redis, two workers, two triggerers.

``airflow db migrate`` runs on a fresh Postgres database of this test run (dropped afterwards); then the
api-server, scheduler, dag-processor, two ``airflow celery worker`` processes (Redis broker, Postgres result
backend) and two ``airflow triggerer`` processes start, each in its own process group, from this virtualenv.
A queue and a Redis database of this run's own keep it apart from other runs on the shared Redis. The settings
are the ones docker-compose.yaml uses (:data:`SHARED_SETTINGS`; ``tests/test_compose.py`` checks they agree).

Without Postgres or Redis the tests are skipped naming what is missing; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from tests.deployment.conftest import AirflowDeployment, airflow_env, free_port, wait_for
from tests.support.airflow_env import FAST_EXTRA, connection_env
from tests.support.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    REDIS_HOST,
    REDIS_PORT,
    create_database,
    drop_database,
    require_postgres,
    require_redis,
)

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"

#: Settings every process of a distributed deployment shares; docker-compose.yaml has the same values.
SHARED_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    # A dead triggerer's triggers move to a live one once its heartbeat is this many seconds old (default 30).
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "20",
    # A task whose worker died is failed (and retried) once its heartbeat is this old (default 300).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
}
#: Workers and triggerers started by the fixture.
WORKERS = ("worker-1", "worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
#: Redis database of these tests (broker and shared rate limit); other runs use a queue of their own too.
REDIS_DB = 7


def distributed_env(home: Path, api_port: int, db_name: str, queue: str, connections: dict[str, str]) -> dict[str, str]:
    """The environment of every process: the deployment test's, switched to Celery, Postgres and Redis."""
    env = airflow_env(home, api_port, connections)
    postgres = f"postgresql+psycopg2://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{db_name}"
    redis = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    env.update(SHARED_SETTINGS)
    env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres,
            "AIRFLOW__CELERY__BROKER_URL": redis,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{postgres}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__REPORT_PROVIDER__RATE_LIMIT_STORAGE": redis,
        }
    )
    return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class CeleryDeployment(AirflowDeployment):
    """The deployment test's machinery with the metadata DB at hand."""

    def __init__(self, home: Path, env: dict[str, str], api_port: int, db_name: str, queue: str) -> None:
        super().__init__(home, env, api_port)
        self.db_name = db_name
        self.queue = queue

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the deployment's metadata database."""
        import psycopg2

        conn = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", dbname=self.db_name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    def triggerer_job_ids(self) -> list[int]:
        return [row[0] for row in self.query("SELECT id FROM job WHERE job_type = 'TriggererJob' ORDER BY id")]


@pytest.fixture(scope="module")
def distributed_sim() -> Iterator[Any]:
    """The simulator every distributed test's DAG talks to (jobs take a few seconds; tests tune it)."""
    config = SimulatorConfig(criteo_job_seconds=8.0, walmart_job_seconds=8.0, walmart_create_limit_per_hour=0)
    with run_simulator(config) as sim:
        yield sim


@pytest.fixture(scope="module")
def moto_endpoint(moto_server: str) -> str:
    """The session's moto S3 server (tests/support/s3.py)."""
    return moto_server


@pytest.fixture(scope="module")
def celery_airflow(tmp_path_factory: pytest.TempPathFactory, distributed_sim: Any, moto_endpoint: str) -> Iterator[CeleryDeployment]:
    """Airflow on Celery, Postgres and Redis: every component healthy, both workers and triggerers up."""
    require_postgres()
    require_redis(REDIS_DB)
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        from tests.support.services import missing

        missing("the Celery provider (apache-airflow-providers-celery)")
    cfg = distributed_sim.config
    connections = dict(
        [
            connection_env("criteo_mpo_default", "criteo_mpo", distributed_sim.url, cfg.criteo_client_id, cfg.criteo_client_secret, {**FAST_EXTRA, "max_calls_per_minute": 40}),
            connection_env(
                "walmart_marketplace_default", "walmart_marketplace", distributed_sim.url, cfg.walmart_client_id, cfg.walmart_client_secret, dict(FAST_EXTRA)
            ),
        ]
    )
    connections["AIRFLOW_CONN_MOTO_S3"] = (
        '{"conn_type": "aws", "login": "testing", "password": "testing", '
        f'"extra": {{"endpoint_url": "{moto_endpoint}", "region_name": "us-east-1"}}}}'
    )
    run = f"arp_dist_{os.getpid()}_{secrets.token_hex(3)}"
    home = tmp_path_factory.mktemp("celery-airflow-home")
    api_port = free_port()
    create_database(run)
    deployment = CeleryDeployment(home, distributed_env(home, api_port, run, run, connections), api_port, run, run)
    started = time.monotonic()
    try:
        deployment.migrate()
        migrated = time.monotonic()
        deployment.start("api-server", "-H", "127.0.0.1", "-p", str(api_port), "-w", "1")
        deployment.start("scheduler", "--skip-serve-logs")
        deployment.start("dag-processor")
        for name in WORKERS:
            deployment.start("celery worker", "-q", run, "--skip-serve-logs", "-H", f"{name}@%h", name=name)
        # Started one after the other: the triggerer jobs' ids follow the start order.
        for number, name in enumerate(TRIGGERERS, start=1):
            deployment.start("triggerer", "--skip-serve-logs", name=name)
            wait_for(f"{name} to register", lambda n=number: len(deployment.triggerer_job_ids()) >= n, timeout=120)
        deployment.wait_healthy(timeout=120)
        for name in WORKERS:
            wait_for(f"{name} to be ready", lambda n=name: b" ready." in (deployment.logs / f"{n}.log").read_bytes(), timeout=120)
        print(f"db migrate {migrated - started:.1f} s, every process ready {time.monotonic() - migrated:.1f} s later")
        yield deployment
    finally:
        killed = deployment.stop()
        print(f"\nkilled after the grace period: {killed or 'none'}\nAirflow home: {home}\n{deployment.log_tails(30)}")
        drop_database(run)
