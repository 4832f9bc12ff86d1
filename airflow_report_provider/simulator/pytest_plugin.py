"""Pytest plugin: `pytest -p airflow_report_provider.simulator.pytest_plugin` gives the `report_simulator`
fixture (a running simulator per test, default config). Override `report_simulator_config` to tune it:

    @pytest.fixture
    def report_simulator_config():
        return SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .config import SimulatorConfig
from .server import Simulator, run_simulator


@pytest.fixture
def report_simulator_config() -> SimulatorConfig:
    """The configuration `report_simulator` starts with (override this fixture to change it)."""
    return SimulatorConfig()


@pytest.fixture
def report_simulator(report_simulator_config: SimulatorConfig) -> Iterator[Simulator]:
    """A running simulator on a free loopback port (thread form); `report_simulator.url` is its base URL."""
    with run_simulator(report_simulator_config, port=0) as sim:
        yield sim
