"""A running Airflow api-server (UI and REST API) and a headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``make test`` installs it where apt works): Playwright cannot download its
own browsers here. Without it the tests skip with a message naming what is missing, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from tests.deployment.conftest import AirflowDeployment, airflow_env, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
#: Screenshots of every step, kept after the run (gitignored).
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def missing(what: str) -> None:
    """Skip (or fail under CI=true) because ``what`` is not installed."""
    message = f"{what} is not installed (make test installs it: pip playwright, apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def chromium_path() -> str:
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    missing("Debian's chromium (/usr/bin/chromium)")
    raise AssertionError  # unreachable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (one per module)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (pip)")
    executable = chromium_path()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; a screenshot of how it ended is kept as ``<test>-end.png`` (pass or fail)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(20_000)
    p = context.new_page()
    yield p
    try:
        p.screenshot(path=str(shot_path(request.node.name, "end")), full_page=True)
    finally:
        context.close()


def shot_path(test_name: str, step: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in test_name)
    return ARTIFACTS / f"{safe}-{step}.png"


@pytest.fixture(scope="module")
def ui_simulator() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(criteo_job_seconds=1.0, walmart_job_seconds=1.0)) as sim:
        yield sim


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    """``airflow api-server`` on a free loopback port: simple auth manager, everyone admin, connection tests on."""
    home = tmp_path_factory.mktemp("ui-airflow-home")
    port = free_port()
    env = airflow_env(home, port, {})
    env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    deployment = AirflowDeployment(home, env, port)
    try:
        deployment.migrate()
        deployment.start("api-server")

        def up() -> bool:
            deployment.check_alive()
            health = deployment.api("GET", "/api/v2/monitor/health")
            return (health.get("metadatabase") or {}).get("status") == "healthy"

        started = time.monotonic()
        wait_for("the api-server to answer", up, timeout=120)
        print(f"api-server up after {time.monotonic() - started:.1f} s")
        yield deployment
    finally:
        deployment.stop()
        print(deployment.log_tails(lines=20))
