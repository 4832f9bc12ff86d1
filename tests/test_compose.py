"""Structure of docker-compose.yaml and the Dockerfile (Docker does not run in the test suite).

What `docker compose up` needs to work is checked against the rest of the repository where possible: the
simulator's command line is parsed by the simulator's own argument parser, its connections use the
simulator's built-in credentials, the destination names the MinIO connection and the bucket the init job
creates, the Variable is the one the example DAGs read.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_report_provider.simulator import SimulatorConfig
from airflow_report_provider.simulator.__main__ import config_from_args, parse_args

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_COMMANDS = {
    "airflow-init": "db migrate",
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
LONG_RUNNING_AIRFLOW = set(AIRFLOW_COMMANDS) - {"airflow-init"}
SUPPORT_SERVICES = {"postgres", "redis", "minio", "minio-init", "simulator"}
ONE_SHOT = {"airflow-init", "minio-init"}
_DEFAULT = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set in the environment."""
    return _DEFAULT.sub(lambda m: m.group(2) or "", value)


def as_list(command: Any) -> list[str]:
    return [interpolate(str(part)) for part in command] if isinstance(command, list) else shlex.split(interpolate(command))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_env(services) -> dict[str, str]:
    """The worker's environment (the one that runs the tasks); every Airflow service must agree with it."""
    return services["airflow-worker"]["environment"]


def connection(env: dict[str, str], conn_id: str) -> dict[str, Any]:
    return json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])


def test_required_services(services):
    assert set(AIRFLOW_COMMANDS) | SUPPORT_SERVICES <= set(services)
    for name, command in AIRFLOW_COMMANDS.items():
        assert as_list(services[name]["command"]) == command.split(), name


def test_one_image_built_from_the_dockerfile(services):
    images = {(services[name]["image"], json.dumps(services[name]["build"], sort_keys=True)) for name in [*AIRFLOW_COMMANDS, "simulator"]}
    assert len(images) == 1
    ((image, build),) = images
    assert json.loads(build) == {"context": ".", "dockerfile": "Dockerfile"}
    # No other service pretends to build or use that image.
    others = set(services) - set(AIRFLOW_COMMANDS) - {"simulator"}
    assert all("build" not in services[name] and services[name].get("image") != image for name in others)


def test_dockerfile_installs_the_provider_into_airflow_3_3():
    import airflow

    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", dockerfile, re.M)
    assert base and re.fullmatch(r"apache/airflow:3\.3\.\d+-python3\.11", base.group(1))
    assert base.group(1).split(":")[1].startswith(airflow.__version__.rsplit(".", 1)[0])  # the tested minor
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.M)
    install = re.search(r"^RUN pip install .*$", dockerfile, re.M)
    assert install and '"apache-airflow==${AIRFLOW_VERSION}"' in install.group(0)
    assert "/opt/airflow-report-provider[s3]" in install.group(0)
    # What the COPY lines take exists (the package and what pyproject.toml needs to build it).
    for source in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (REPO / path).exists(), path


def test_airflow_services_share_one_configuration(services, airflow_env):
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "@postgres/" in airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert airflow_env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379" in airflow_env["AIRFLOW__CELERY__BROKER_URL"]
    assert airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    for name in AIRFLOW_COMMANDS:
        env = services[name]["environment"]
        shared = {key: value for key, value in env.items() if key != "DUMB_INIT_SETSID"}
        assert shared == {key: value for key, value in airflow_env.items() if key != "DUMB_INIT_SETSID"}, name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]  # set, and (above) the same everywhere


def test_connections_point_at_the_simulator(services, airflow_env):
    simulator = services["simulator"]
    assert simulator["entrypoint"] == ["python", "-m", "airflow_report_provider.simulator"]
    args = parse_args(as_list(simulator["command"]))  # the simulator's own CLI accepts the command
    assert (args.host, args.port) == ("0.0.0.0", 8080)
    config = config_from_args(args)
    assert config.walmart_create_limit_per_hour == 1  # Walmart's real quota unless overridden
    defaults = SimulatorConfig()
    criteo = connection(airflow_env, "criteo_mpo_default")
    walmart = connection(airflow_env, "walmart_marketplace_default")
    assert criteo["conn_type"] == "criteo_mpo" and walmart["conn_type"] == "walmart_marketplace"
    assert criteo["host"] == walmart["host"] == f"http://simulator:{args.port}"
    assert (criteo["login"], criteo["password"]) == (defaults.criteo_client_id, defaults.criteo_client_secret)
    assert (walmart["login"], walmart["password"]) == (defaults.walmart_client_id, defaults.walmart_client_secret)


def test_destination_is_the_minio_bucket_created_at_start(services, airflow_env):
    minio_env = services["minio"]["environment"]
    destination = airflow_env["AIRFLOW_VAR_REPORTS_DESTINATION"]
    match = re.fullmatch(r"s3://([\w-]+)@([\w.-]+)(/.*)?", destination)
    assert match, destination
    conn_id, bucket = match.group(1), match.group(2)
    storage = connection(airflow_env, conn_id)
    assert storage["conn_type"] == "aws"
    assert storage["extra"]["endpoint_url"] == "http://minio:9000"
    assert (storage["login"], storage["password"]) == (minio_env["MINIO_ROOT_USER"], minio_env["MINIO_ROOT_PASSWORD"])
    init = " ".join(as_list(services["minio-init"]["command"]))
    assert f"http://minio:9000 {minio_env['MINIO_ROOT_USER']} {minio_env['MINIO_ROOT_PASSWORD']}" in init
    assert re.search(rf"mc mb (--ignore-existing )?\w+/{re.escape(bucket)}\b", init)
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    # The example DAGs read exactly this Variable.
    for dag_file in ("criteo_mpo_hourly.py", "walmart_item_report_daily.py", "walmart_item_performance_backfill.py"):
        assert "var.value.get('reports_destination'" in (REPO / "example_dags" / dag_file).read_text(), dag_file


def test_example_dags_are_mounted(services):
    for name in AIRFLOW_COMMANDS:
        volumes = services[name]["volumes"]
        assert any(v.split(":")[:2] == ["./example_dags", "/opt/airflow/dags"] for v in volumes), name
    assert (REPO / "example_dags").is_dir()


def test_healthchecks_and_dependencies(services):
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
        else:
            assert "healthcheck" in service and service["healthcheck"]["test"], name
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), name  # with conditions, not a bare list
        for target, rule in depends.items():
            assert target in services, (name, target)
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert rule["condition"] == expected, (name, target)
    for name in AIRFLOW_COMMANDS:
        depends = services[name]["depends_on"]
        assert {"postgres", "redis"} <= set(depends), name
        if name != "airflow-init":
            assert "airflow-init" in depends, name
    worker = services["airflow-worker"]["depends_on"]
    assert {"airflow-apiserver", "simulator", "minio-init"} <= set(worker)
    assert "simulator" in services["airflow-triggerer"]["depends_on"]


def test_no_dependency_cycle(services):
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name not in done:
            for target in services[name].get("depends_on", {}):
                visit(target, (*path, name))
            done.add(name)

    for name in services:
        visit(name, ())


def test_workers_scale_out(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    for name in LONG_RUNNING_AIRFLOW:
        assert services[name]["restart"] == "always", name


def test_same_settings_as_the_distributed_tests(services, airflow_env):
    """What the distributed tests prove (failover, worker crash, one shared rate limit) is what compose runs."""
    from tests.distributed.conftest import SHARED_SETTINGS, TRIGGERERS, WORKERS

    for key, value in SHARED_SETTINGS.items():
        assert airflow_env[key] == value, key
    assert airflow_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert airflow_env["AIRFLOW__REPORT_PROVIDER__RATE_LIMIT_STORAGE"].startswith("redis://redis:6379/")
    assert services["airflow-worker"]["deploy"]["replicas"] == len(WORKERS)
    assert services["airflow-triggerer"]["deploy"]["replicas"] == len(TRIGGERERS)
