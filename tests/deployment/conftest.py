"""A real Airflow deployment for tests: scheduler, triggerer, dag-processor and api-server as subprocesses.

Each component runs ``python -m airflow <component>`` from this virtualenv (so the triggerer imports the
provider's triggers) in its own session / process group, against a SQLite DB in a temporary AIRFLOW_HOME,
with LocalExecutor and the simple auth manager in "all admins" mode (the REST API needs no login). The
finalizer terminates every process of every group, and any descendant that left its group, even on failure;
it prints the tail of each component's log, which pytest shows when the test failed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from tests.support.airflow_env import FAST_EXTRA, connection_env

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
#: LocalExecutor forks this many workers when the scheduler starts (fork start method).
PARALLELISM = 2
#: Seconds a Criteo export takes in the simulator: long enough to watch the task wait in the triggerer.
CRITEO_JOB_SECONDS = 20.0


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (requests.RequestException, ValueError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})")


def airflow_env(home: Path, api_port: int, connections: dict[str, str]) -> dict[str, str]:
    """The environment of every component: nothing inherited from the test session's own Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    api_url = f"http://127.0.0.1:{api_port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            # The scheduler's and triggerer's log servers: free ports, not 8793 / 8794 another Airflow may hold.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # Every component signs / checks execution-API tokens with the same secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            # Parse the one DAG file promptly, and let the scheduler pick up work without long sleeps.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            **connections,
        }
    )
    return env


class AirflowDeployment:
    """Airflow components running as subprocesses, their logs, and a small client of the REST API."""

    def __init__(self, home: Path, env: dict[str, str], api_port: int) -> None:
        self.home = home
        self.env = env
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.logs = home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: set[str] = set()

    def kill(self, name: str) -> None:
        """SIGKILL a component and every process under it, like a crashed machine: its process group and its
        descendants in groups of their own (Airflow puts each task runner in a process group of its own)."""
        self.killed.add(name)
        root = self.processes[name]
        try:
            descendants = psutil.Process(root.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        _signal_group(root.pid, signal.SIGKILL)
        for proc in descendants:
            try:
                proc.kill()
            except psutil.Error:
                pass
        root.wait(timeout=10)
        psutil.wait_procs(descendants, timeout=10)

    # -- lifecycle --------------------------------------------------------------------------------------------
    def migrate(self) -> None:
        """``airflow db migrate`` (fails the test with its output when it fails)."""
        log = self.logs / "db-migrate.log"
        with log.open("wb") as out:
            code = subprocess.call(
                [sys.executable, "-m", "airflow", "db", "migrate"], env=self.env, stdout=out, stderr=subprocess.STDOUT, timeout=120
            )
        if code != 0:
            pytest.fail(f"airflow db migrate exited {code}:\n{tail(log)}")

    def start(self, component: str, *args: str, name: str | None = None) -> None:
        """Start ``airflow <component> <args>`` in a new session (its own process group), logging to a file
        named after ``name`` (default: the component)."""
        name = name or component
        with (self.logs / f"{name}.log").open("wb") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *component.split(), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )

    def check_alive(self) -> None:
        """Fail the test if a component exited (other than one the test killed)."""
        for name, proc in self.processes.items():
            if name not in self.killed and proc.poll() is not None:
                pytest.fail(f"airflow {name} exited with {proc.returncode}:\n{tail(self.logs / f'{name}.log')}")

    def wait_healthy(self, timeout: float) -> dict[str, Any]:
        """Wait until the api-server answers and reports the metadatabase, scheduler, triggerer and dag-processor healthy."""

        def healthy() -> dict[str, Any] | None:
            self.check_alive()
            health = self.api("GET", "/api/v2/monitor/health")
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ok = all((health.get(p) or {}).get("status") == "healthy" for p in parts)
            return health if ok else None

        return wait_for("every Airflow component to report healthy", healthy, timeout)

    def family(self) -> list[psutil.Process]:
        """Every process started for this deployment: the components, their children, and anything else in
        this AIRFLOW_HOME (a descendant that changed its session is still found by its environment)."""
        found: dict[int, psutil.Process] = {}
        for proc in self.processes.values():
            try:
                root = psutil.Process(proc.pid)
                for p in (root, *root.children(recursive=True)):
                    found[p.pid] = p
            except psutil.NoSuchProcess:
                pass
        for p in psutil.process_iter():
            if p.pid in found or p.pid == os.getpid():
                continue
            try:
                if p.environ().get("AIRFLOW_HOME") == str(self.home):
                    found[p.pid] = p
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        return list(found.values())

    def stop(self, grace: float = 15.0) -> list[str]:
        """SIGTERM every process group, then SIGKILL whatever is left; the processes that needed SIGKILL."""
        members = self.family()
        for proc in self.processes.values():
            _signal_group(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(members, timeout=grace)
        for proc in self.processes.values():
            _signal_group(proc.pid, signal.SIGKILL)
        stragglers = alive + [p for p in self.family() if _alive(p) and p not in alive]
        killed = []
        for p in stragglers:
            try:
                killed.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(stragglers, timeout=5)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return killed

    # -- REST API ---------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API; the decoded JSON answer (raises on an HTTP error)."""
        response = requests.request(method, self.api_url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    # -- diagnostics ------------------------------------------------------------------------------------------
    def log_tails(self, lines: int = 40) -> str:
        """The last lines of each component's log and of every task log."""
        files = sorted(self.logs.glob("*.log")) + sorted((self.home / "logs").glob("dag_id=*/**/*.log"))
        return "\n".join(f"===== {f.relative_to(self.home)} =====\n{tail(f, lines)}" for f in files)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ("" if missing)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def deployment_sim() -> Iterator[Any]:
    """A simulator on 127.0.0.1 whose Criteo exports take ``CRITEO_JOB_SECONDS`` to be Done."""
    with run_simulator(SimulatorConfig(criteo_job_seconds=CRITEO_JOB_SECONDS, walmart_job_seconds=CRITEO_JOB_SECONDS)) as sim:
        yield sim


@pytest.fixture
def airflow_deployment(tmp_path: Path, deployment_sim: Any) -> Iterator[AirflowDeployment]:
    """A running Airflow (db migrated, every component healthy) whose ``criteo_mpo_default`` is the simulator."""
    cfg = deployment_sim.config
    name, value = connection_env(
        "criteo_mpo_default",
        "criteo_mpo",
        deployment_sim.url,
        cfg.criteo_client_id,
        cfg.criteo_client_secret,
        {**FAST_EXTRA, "max_calls_per_minute": 0},
    )
    home = tmp_path / "airflow-home"
    home.mkdir()
    api_port = free_port()
    deployment = AirflowDeployment(home, airflow_env(home, api_port, {name: value}), api_port)
    started = time.monotonic()
    try:
        deployment.migrate()
        migrated = time.monotonic()
        for component in COMPONENTS:
            deployment.start(component)
        deployment.wait_healthy(timeout=90)
        print(f"db migrate {migrated - started:.1f} s, components healthy {time.monotonic() - migrated:.1f} s later")
        yield deployment
    finally:
        stopping = time.monotonic()
        killed = deployment.stop()
        print(f"\nShutdown {time.monotonic() - stopping:.1f} s; killed after the grace period: {killed or 'none'}")
        print(f"Airflow home: {home}\n{deployment.log_tails()}")
        leftovers = [p.pid for p in deployment.family() if _alive(p)]
        assert not leftovers, f"Airflow processes survived the shutdown: {leftovers}"
