"""Loopback simulator of the Criteo MPO real-time export and Walmart on-request reports APIs.

    from airflow_report_provider.simulator import SimulatorConfig, run_simulator

    with run_simulator(SimulatorConfig(criteo_job_seconds=0)) as sim:   # background thread
        ...  # point connections at sim.url; sim.inject_fault(...), sim.advance_clock(...), sim.stats

    async with Simulator(cfg) as sim:                                   # on the running event loop
        ...

Independent of the rest of the package (written from the API references), so that a misreading of
the API on the client side is caught here. `python -m airflow_report_provider.simulator` runs it.
"""

from .config import SimulatorConfig
from .faults import ENDPOINTS, Fault
from .server import Simulator, run_simulator
from .stats import RequestRecord, Stats

__all__ = ["ENDPOINTS", "Fault", "RequestRecord", "Simulator", "SimulatorConfig", "Stats", "run_simulator"]
