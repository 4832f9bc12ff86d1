"""The README's simulator walk-through, run exactly as written there, so that the README and the code cannot drift.

The blocks are the ``bash`` fences after ``<!-- walkthrough: NAME -->`` markers: ``simulator`` runs in the
background (as in a terminal of its own), ``setup`` then ``run`` in one shell, in a fresh HOME with nothing of the
test session's Airflow settings, from the repository's root. Then: what lands is what the README says lands, the CSVs
have no byte-order mark, and the output of the successful runs has no error line.
"""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SIMULATOR_PORT = 8090
#: What a user greps for in a log; none of it may appear in a successful run's output.
ALARMS = re.compile(r"\bERROR\b|\[error|Traceback|never retrieved|asynchronous generator")


def walkthrough_blocks() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    return dict(re.findall(r"<!-- walkthrough: (\w+) -->\n```bash\n(.*?)```", text, re.S))


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the simulator of the walk-through exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the simulator of the walk-through did not listen on port {port}")


def example_code(name: str) -> str:
    """An example DAG file's code, without its module docstring and ``from __future__`` line."""
    text = (REPO / "example_dags" / f"{name}.py").read_text()
    code = "\n".join(text.splitlines()[ast.parse(text).body[0].end_lineno :]).strip()
    return code.replace("from __future__ import annotations\n\n", "", 1) + "\n"


@pytest.mark.parametrize(
    ("heading", "name"),
    [("Criteo MPO: a complete DAG", "criteo_mpo_hourly"), ("Walmart Marketplace: a complete DAG", "walmart_item_report_daily")],
)
def test_readme_complete_dags_are_the_example_files(heading, name):
    """The walk-through runs the example files: the README's complete DAGs must be those files, letter for letter."""
    text = (REPO / "README.md").read_text()
    block = re.search(rf"## {re.escape(heading)}\n.*?```python\n(.*?)```", text, re.S)
    assert block is not None and block.group(1) == example_code(name)


def test_readme_names_the_three_steps():
    assert set(walkthrough_blocks()) == {"simulator", "setup", "run"}


@pytest.mark.slow
def test_readme_walkthrough_runs_as_written(tmp_path):
    blocks = walkthrough_blocks()
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", SIMULATOR_PORT)) == 0:
            pytest.fail(f"port {SIMULATOR_PORT}, which the README's walk-through uses, is taken on this machine")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the installed provider's Airflow
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),  # this checkout's code, whichever checkout the virtualenv was installed from
    }
    with open(tmp_path / "simulator.log", "wb") as simulator_log:
        simulator = subprocess.Popen(
            ["bash", "-c", "exec " + blocks["simulator"].strip()], cwd=REPO, env=env, stdout=simulator_log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(SIMULATOR_PORT, simulator)
            shell = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", blocks["setup"] + blocks["run"]],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    output = shell.stdout + shell.stderr
    assert shell.returncode == 0, output[-4000:]

    reports = tmp_path / "airflow-report-demo" / "reports"
    criteo = reports / "criteo_mpo" / "dt=2026-11-23" / "utc_hour=04" / "report.csv"
    walmart = reports / "walmart" / "item" / "dt=2026-11-23" / "items.csv"
    assert sorted(p for p in reports.rglob("*") if p.is_file()) == [criteo, walmart]
    assert f"{criteo}\n{walmart}\n" in shell.stdout  # the block's own listing shows them
    assert criteo.read_text().splitlines()[0] == "AdvertiserId,CampaignId,Hour,Clicks,Displays,Cost"
    assert walmart.read_bytes().startswith(b"SKU,")  # no byte-order mark
    # DuckDB reads the partitions as users would: the folders add dt and utc_hour, and shadow no report column.
    import duckdb

    table = duckdb.sql(f"select * from read_csv('{reports}/criteo_mpo/**/*.csv', hive_partitioning = true)")
    types = dict(zip(table.columns, (str(t) for t in table.types)))
    assert types["Hour"].startswith("TIMESTAMP") and types["Displays"] == "BIGINT"
    assert {"dt", "utc_hour"} <= set(types) and table.fetchall()
    assert duckdb.sql(f"select * from read_csv('{walmart}')").columns[0] == "SKU"
    assert [line for line in output.splitlines() if ALARMS.search(line)] == []
