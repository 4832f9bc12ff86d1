"""Waiting at scale: 100 concurrent triggers on one credential, with the simulator enforcing rate limits.

Time is scaled so the test stays short: a helper thread moves the simulator's clock (``sim.advance_clock``) so
that it runs ``SCALE`` times faster than the wall clock. The simulator enforces the documented 40 calls per
(simulated) minute per credential, so its one-minute window lasts ``60 / SCALE`` real seconds; the connection's
``max_calls_per_minute`` is 38 calls per simulated minute, expressed in real time (``38 * SCALE``). Polling is
scaled the same way. 100 triggers polling at once ask for far more than one window allows, so without the
shared limiter the simulator would answer 429; with it: no 429, one token, every Done seen, and no blocking
``time.sleep`` on the loop's thread. These are outcomes; the loop's lag on a given machine is a figure for
``benchmarks/bench_triggers.py``, not an assertion.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_report_provider.common.http.transport import SESSIONS
from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import (
    create_criteo_export,
    create_walmart_request,
    criteo_token,
    walmart_token,
)
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger
from tests.support.airflow_env import FAST_EXTRA, connection_env

TRIGGERS = 100
SCALE = 20.0  # simulated seconds per real second
LIMIT = 40  # simulator: calls per simulated minute per credential (Criteo's documented reporting limit)
CLIENT_LIMIT = 38  # connection: calls per simulated minute, slightly under the limit
JOB_SECONDS = 60.0  # simulated: jobs are Done 3 real seconds after creation


class TimeWarp:
    """Runs the simulator's clock ``scale`` times faster than the wall clock, in small steps."""

    def __init__(self, sim: Any, scale: float, step: float = 0.02) -> None:
        self.sim, self.scale, self.step = sim, scale, step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-time-warp", daemon=True)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.step):
            now = time.monotonic()
            self.sim.advance_clock((self.scale - 1.0) * (now - last))
            last = now

    def __enter__(self) -> TimeWarp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def limited_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A simulator with limits off (for arranging jobs), connections with a real-time client limit."""
    config = SimulatorConfig(
        criteo_job_seconds=JOB_SECONDS,
        walmart_job_seconds=JOB_SECONDS,
        walmart_create_limit_per_hour=0,
        token_lifetime_seconds=36_000,  # simulated: the real test lasts seconds, the token outlives it
    )
    with run_simulator(config) as sim:
        extra = {**FAST_EXTRA, "max_calls_per_minute": CLIENT_LIMIT * SCALE}
        for conn_id, conn_type, login, password in (
            ("criteo_scale", "criteo_mpo", config.criteo_client_id, config.criteo_client_secret),
            ("walmart_scale", "walmart_marketplace", config.walmart_client_id, config.walmart_client_secret),
        ):
            monkeypatch.setenv(*connection_env(conn_id, conn_type, sim.url, login, password, extra))
        yield sim


class LoopWatch:
    """Counts ``time.sleep`` calls made on the loop's own thread; a ticker task records how late the loop wakes it
    (figures only: the lag is ``benchmarks/bench_triggers.py``'s to report, not a test's to bound)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self.blocking_sleeps = 0  # time.sleep calls made on the loop's own thread
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.period)
            self.lags.append(loop.time() - started - self.period)

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        loop_thread, real_sleep = threading.get_ident(), time.sleep

        def observed_sleep(seconds: float) -> None:
            if threading.get_ident() == loop_thread:
                self.blocking_sleeps += 1
            real_sleep(seconds)

        self._real_sleep = real_sleep
        time.sleep = observed_sleep  # observe only: every call still sleeps
        return self

    async def __aexit__(self, *exc: object) -> None:
        time.sleep = self._real_sleep
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def first_events(triggers: list[Any]) -> list[dict[str, Any]]:
    async def one(trigger: Any) -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("trigger ended without an event")

    return await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), timeout=50)


def per_window(sim: Any, endpoint: str) -> Counter:
    """Calls of ``endpoint`` per simulated one-minute window (the simulator's own fixed windows)."""
    return Counter(int(record.time // 60) for record in sim.stats.records(endpoint))


async def run_at_scale(sim: Any, api: str, status_endpoint: str, triggers: list[Any], job_ids: list[str]) -> None:
    async with LoopWatch() as watch:
        with TimeWarp(sim, SCALE):
            events = await first_events(triggers)

    assert [e["status"] for e in events] == ["success"] * TRIGGERS, Counter(e["status"] for e in events)
    assert {e[triggers[0].job_id_field] for e in events} == set(job_ids)
    assert sum(sim.stats.throttled.values()) == 0, dict(sim.stats.throttled)
    assert sim.stats.tokens_issued[api] == 1
    windows = per_window(sim, status_endpoint)
    # The demand really exceeded one window's limit (without the shared limiter this test would see 429s) ...
    assert sum(windows.values()) > 2 * LIMIT
    # ... and no simulated minute got more than the limit.
    assert max(windows.values()) <= LIMIT
    assert watch.blocking_sleeps == 0
    assert watch.lags  # the loop was watched; its lag figures are benchmarks/bench_triggers.py's, not a test's
    assert SESSIONS.open_count() == 0


async def test_100_criteo_triggers_share_one_token_and_stay_under_the_rate_limit(limited_sim):
    sim = limited_sim
    token = criteo_token(sim)
    report_ids = [create_criteo_export(sim, token) for _ in range(TRIGGERS)]
    sim.stats.reset()
    sim.config.criteo_rate_limit_per_minute = LIMIT
    triggers = [
        CriteoMpoReportTrigger(
            report_id=report_id,
            criteo_mpo_conn_id="criteo_scale",
            poll_interval=5.0 / SCALE,  # Criteo's 5 s minimum, then back off to its 60 s cap, in scaled time
            max_poll_interval=60.0 / SCALE,
            timeout=60,
        )
        for report_id in report_ids
    ]
    await run_at_scale(sim, "criteo", "criteo.status", triggers, report_ids)
    assert sim.stats.calls["criteo.status"] >= TRIGGERS


async def test_100_walmart_triggers_share_one_token_and_stay_under_the_rate_limit(limited_sim):
    sim = limited_sim
    token = walmart_token(sim)
    request_ids = [create_walmart_request(sim, token)["requestId"] for _ in range(TRIGGERS)]
    sim.stats.reset()
    sim.config.walmart_status_rate_limit_per_minute = LIMIT
    triggers = [
        WalmartReportTrigger(
            request_id=request_id,
            walmart_conn_id="walmart_scale",
            poll_interval=60.0 / SCALE,  # Walmart's minute, backing off to five, in scaled time
            max_poll_interval=300.0 / SCALE,
            timeout=60,
        )
        for request_id in request_ids
    ]
    await run_at_scale(sim, "walmart", "walmart.status", triggers, request_ids)
    assert sim.stats.calls["walmart.status"] >= TRIGGERS


async def test_triggers_on_many_credentials_fetch_one_token_per_credential(monkeypatch, mocker):
    """100 triggers over 25 applications: one token each, every Done seen, and the burst of 25 connection
    lookups and token registrations (each new secret recompiles Airflow's masker) does not stall the loop."""
    credentials = {f"app-{n}": f"secret-of-app-{n}" for n in range(25)}
    config = SimulatorConfig(criteo_job_seconds=1.0, extra_credentials=credentials)
    with run_simulator(config) as sim:
        report_ids: list[tuple[str, str]] = []
        for n, (client_id, secret) in enumerate(credentials.items()):
            conn_id = f"criteo_app_{n}"
            extra = {**FAST_EXTRA, "max_calls_per_minute": 0}
            monkeypatch.setenv(*connection_env(conn_id, "criteo_mpo", sim.url, client_id, secret, extra))
            token = criteo_token(sim, client_id, secret)
            report_ids += [(create_criteo_export(sim, token), conn_id) for _ in range(TRIGGERS // len(credentials))]
        sim.stats.reset()
        triggers = [
            CriteoMpoReportTrigger(report_id=report_id, criteo_mpo_conn_id=conn_id, poll_interval=0.5, timeout=30)
            for report_id, conn_id in report_ids
        ]
        lookups = mocker.spy(CriteoMpoAsyncHook, "_lookup_connection")
        async with LoopWatch() as watch:
            events = await first_events(triggers)

        assert [e["status"] for e in events] == ["success"] * TRIGGERS
        assert sim.stats.tokens_issued["criteo"] == len(credentials)
        # One lookup per connection, shared by the four triggers of each (in a real triggerer, a round trip each).
        assert sorted(call.args[-1] for call in lookups.call_args_list) == sorted(f"criteo_app_{n}" for n in range(25))
        assert {r.path.rsplit("/", 1)[-1] for r in sim.stats.records("criteo.status")} == {rid for rid, _ in report_ids}
        assert watch.blocking_sleeps == 0
        assert watch.lags  # the loop was watched; its lag figures are benchmarks/bench_triggers.py's, not a test's
