"""The package as users get it: ``python -m build`` gives a wheel and an sdist that ``twine check`` accepts, and the
wheel alone, installed next to ``apache-airflow`` in a fresh virtualenv, registers the provider with Airflow.

One module-scoped build and one fresh virtualenv serve every test here (pip's cache keeps the install short).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import airflow_report_provider

pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; its stdout (the test fails with its output when it exits non-zero). Commands with an ``env``
    (the fresh virtualenv's) run in its AIRFLOW_HOME, away from this checkout's importable sources."""
    cwd = env["AIRFLOW_HOME"] if env else REPO
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from this checkout the way a release is."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, REPO)
    return out


@pytest.fixture(scope="module")
def fresh_airflow(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A new virtualenv with only the wheel, its extras and ``apache-airflow`` (the tested versions), and an environment for
    its ``airflow`` command that inherits nothing of this test session's Airflow settings."""
    root = tmp_path_factory.mktemp("fresh")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    (wheel,) = dist.glob("*.whl")
    # The README's Install command, with the built wheel for ".": pip's own resolver, the newest Airflow's constraints.
    run(python, "-m", "pip", "install", "--quiet", f"{wheel}[s3,parquet]", "-c", REPO / "constraints" / "airflow-3.3.txt", timeout=900)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))}
    home = root / "airflow-home"
    home.mkdir()
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": f"{env_dir / 'bin'}:{env['PATH']}"})
    return env_dir, env


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    version = airflow_report_provider.__version__
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"airflow_report_provider-{version}-py3-none-any.whl", f"airflow_report_provider-{version}.tar.gz"]
    assert "PASSED" in run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))


def test_fresh_virtualenv_has_only_airflow_and_the_provider(fresh_airflow: tuple[Path, dict[str, str]]) -> None:
    env_dir, env = fresh_airflow
    installed = run(env_dir / "bin" / "python", "-m", "pip", "list", "--format=freeze", env=env).lower()
    assert f"airflow-report-provider=={airflow_report_provider.__version__}" in installed
    for dev_only in ("pytest", "moto", "playwright", "apache-airflow-providers-openlineage"):
        assert f"\n{dev_only}==" not in f"\n{installed}"
    # Installed from the wheel, not this checkout.
    where = run(env_dir / "bin" / "python", "-c", "import airflow_report_provider as p; print(p.__file__)", env=env)
    assert str(env_dir) in where


def test_airflow_lists_the_provider_its_hooks_and_triggers(fresh_airflow: tuple[Path, dict[str, str]]) -> None:
    env_dir, env = fresh_airflow
    airflow = env_dir / "bin" / "airflow"
    version = airflow_report_provider.__version__

    providers = run(airflow, "providers", "list", "--output", "plain", env=env)
    assert "airflow-report-provider" in providers and version in providers

    hooks = run(airflow, "providers", "hooks", "--output", "plain", env=env)
    for conn_type, hook in (("criteo_mpo", "CriteoMpoHook"), ("walmart_marketplace", "WalmartMarketplaceHook")):
        line = next((l for l in hooks.splitlines() if l.split() and l.split()[0] == conn_type), "")
        assert hook in line and "airflow-report-provider" in line, hooks

    triggers = run(airflow, "providers", "triggers", "--output", "plain", env=env)
    for module in ("airflow_report_provider.triggers.criteo_mpo", "airflow_report_provider.triggers.walmart"):
        line = next((l for l in triggers.splitlines() if module in l.split()), "")
        assert line.startswith("airflow-report-provider"), triggers


def test_every_listed_module_imports_without_dev_dependencies(fresh_airflow: tuple[Path, dict[str, str]]) -> None:
    """The wheel's own dependencies are enough for every module its provider info lists (OpenLineage absent)."""
    env_dir, env = fresh_airflow
    script = (
        "import importlib\n"
        "from airflow_report_provider.get_provider_info import get_provider_info as g\n"
        "i = g()\n"
        "mods = [m for k in ('hooks', 'operators', 'sensors', 'triggers') for e in i[k] for m in e['python-modules']]\n"
        "mods += [e['python-module'] for e in i['transfers']]\n"
        "[importlib.import_module(m) for m in mods]\n"
        "print(len(mods))\n"
    )
    assert run(env_dir / "bin" / "python", "-c", script, env=env).strip() == "10"


SMOKE_DAG = '''
from datetime import datetime, timezone
from airflow.sdk import DAG
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

with DAG("wheel_smoke", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), params={"destination": ""}) as dag:
    transfer = CriteoMpoReportToObjectStorageOperator(
        task_id="transfer", advertiser_ids=["1"], lookback_window=60, destination="{{ params.destination }}",
        deferrable=True, poll_interval=0.2, timeout=60,
    )
'''

SMOKE_RUN = '''
import json, os, sys
sys.path.insert(0, os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
from airflow_report_provider.simulator import SimulatorConfig, run_simulator
with run_simulator(SimulatorConfig(criteo_job_seconds=0.5)) as sim:
    cfg = sim.config
    os.environ["AIRFLOW_CONN_CRITEO_MPO_DEFAULT"] = json.dumps({"conn_type": "criteo_mpo", "host": sim.url,
        "login": cfg.criteo_client_id, "password": cfg.criteo_client_secret, "extra": {"max_calls_per_minute": 0}})
    import wheel_smoke
    run = wheel_smoke.dag.test(run_conf={"destination": "file://" + sys.argv[1]})
    print("STATE=" + str(run.state))
    print("LINEAGE=" + repr(wheel_smoke.transfer.get_openlineage_facets_on_complete(None)))
'''


def test_a_deferrable_transfer_runs_from_the_wheel_without_openlineage(fresh_airflow: tuple[Path, dict[str, str]]) -> None:
    """The wheel's own simulator, a real ``dag.test()``: no OpenLineage, no StatsD client, nothing from this checkout."""
    env_dir, env = fresh_airflow
    home = Path(env["AIRFLOW_HOME"])
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    (dags / "wheel_smoke.py").write_text(SMOKE_DAG)
    bundles = [{"name": "smoke", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": str(dags)}}]
    env = {
        **env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    python = env_dir / "bin" / "python"
    assert "openlineage" not in run(python, "-m", "pip", "list", env=env).lower()
    run(python, "-m", "airflow", "db", "migrate", env=env)
    target = home / "out" / "report.csv"
    out = run(python, "-c", SMOKE_RUN, target, env=env)
    assert "STATE=success" in out, out
    assert "LINEAGE=None" in out, out
    assert target.stat().st_size > 0
