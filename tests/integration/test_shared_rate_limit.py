"""The optional shared rate limit (``rate_limit_storage``): one limit per credential for every process, on Redis.

"Processes" here are transports with rate-limiter registries of their own (what separate processes have); the
window they share lives in the machine's Redis. Assertions are counts: calls that reached the simulator, 429s.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoMpoProtocol
from airflow_report_provider.common.http.protocol import Credentials
from airflow_report_provider.common.http.ratelimit import RateLimiterRegistry
from airflow_report_provider.common.http.retry import RetryPolicy
from airflow_report_provider.common.http.shared_ratelimit import SHARED_LIMITS, SharedRateLimit, window_for
from airflow_report_provider.common.http.transport import AsyncTransport
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.simulator.testing import create_criteo_export, criteo_token
from tests.support.airflow_env import simulator_connections
from tests.support.services import require_redis

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture(autouse=True)
def _fresh_shared_limits():
    SHARED_LIMITS.reset()
    yield
    SHARED_LIMITS.reset()


def test_window_keeps_under_the_rate():
    assert window_for(40) == (40, 62)
    assert window_for(0.5) == (1, 123)
    calls, seconds = window_for(12.5)
    assert calls / seconds * 60 < 12.5


@pytest.mark.slow
async def test_processes_sharing_a_store_stay_under_one_limit(sim, redis_url):
    """Six processes each allowed 60 calls/min by their own limiter ask for ~90 calls in 15 s; with the shared
    window the simulator (enforcing 60/min) gets at most 60 and answers no 429."""
    rate, processes, horizon = 60, 6, 15.0
    cfg = sim.config
    report_id = create_criteo_export(sim, criteo_token(sim))
    sim.stats.reset()
    sim.config.criteo_rate_limit_per_minute = rate
    protocol = CriteoMpoProtocol(host=sim.url)
    credentials = Credentials(host=sim.url, client_id=cfg.criteo_client_id, client_secret=cfg.criteo_client_secret)
    transports = [
        AsyncTransport(
            protocol,
            credentials,
            calls_per_minute=rate,
            rate_limit_storage=redis_url,
            limiters=RateLimiterRegistry(),
            retry=RetryPolicy(max_attempts=1),
        )
        for _ in range(processes)
    ]

    async def poll_forever(transport: AsyncTransport) -> None:
        while True:
            await transport.send(protocol.status_request(report_id))

    tasks = [asyncio.create_task(poll_forever(t)) for t in transports]
    done, _ = await asyncio.wait(tasks, timeout=horizon)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert not done, [t.exception() for t in done]  # no call failed (a 429 would have raised)

    calls = sim.stats.calls["criteo.status"]
    assert 0 < calls <= rate
    assert sum(sim.stats.throttled.values()) == 0
    shared = transports[0].shared
    assert shared is not None and all(t.shared is shared for t in transports)
    # Every slot of the shared window was taken: the demand really exceeded one limit.
    stats = shared._sync_limiter().get_window_stats(shared.item, *shared.key)
    assert stats.remaining == 0


def test_two_processes_book_in_the_same_window(redis_url):
    key = ("test", f"pid-{os.getpid()}-{id(redis_url)}", "two-processes")
    first, second = SharedRateLimit(redis_url, key, 3), SharedRateLimit(redis_url, key, 3)
    assert first.acquire() == 0.0 and first.acquire() == 0.0 and second.acquire() == 0.0
    assert not second._sync_limiter().hit(second.item, *key)  # the third slot went to the other process


def test_sync_hook_books_its_calls_in_the_shared_window(sim, redis_url, monkeypatch):
    simulator_connections(sim, monkeypatch, max_calls_per_minute=40, rate_limit_storage=redis_url)
    hook = CriteoMpoHook()
    report_id = create_criteo_export(sim, criteo_token(sim))
    for _ in range(3):
        hook.get_report_status(report_id)
    shared = hook.get_conn().shared
    assert shared is not None and shared.storage_url == redis_url
    stats = shared._sync_limiter().get_window_stats(shared.item, *shared.key)
    assert stats.remaining == 40 - 3


def test_unreachable_store_falls_back_to_the_process_limiter_with_one_warning(sim, monkeypatch, caplog):
    simulator_connections(sim, monkeypatch, max_calls_per_minute=600, rate_limit_storage=UNREACHABLE)
    report_id = create_criteo_export(sim, criteo_token(sim))
    with caplog.at_level(logging.WARNING, logger="airflow_report_provider.common.http.shared_ratelimit"):
        for _ in range(3):
            CriteoMpoHook().get_report_status(report_id)
    assert sim.stats.calls["criteo.status"] == 3
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1:1" in warnings[0].getMessage()


async def test_unreachable_store_falls_back_in_the_async_transport_too(sim, monkeypatch):
    simulator_connections(sim, monkeypatch, max_calls_per_minute=600, rate_limit_storage=UNREACHABLE)
    report_id = create_criteo_export(sim, criteo_token(sim))
    for _ in range(2):
        await CriteoMpoAsyncHook().get_report_status(report_id)
    assert sim.stats.calls["criteo.status"] == 2


def test_airflow_config_switches_it_on_for_every_connection(sim, monkeypatch, redis_url):
    simulator_connections(sim, monkeypatch, max_calls_per_minute=40)
    assert CriteoMpoHook().get_conn().shared is None  # unset: the in-process limiter only
    monkeypatch.setenv("AIRFLOW__REPORT_PROVIDER__RATE_LIMIT_STORAGE", redis_url)
    assert CriteoMpoHook().get_conn().shared.storage_url == redis_url
    simulator_connections(sim, monkeypatch, max_calls_per_minute=40, rate_limit_storage=f"{redis_url[:-1]}5")
    assert CriteoMpoHook().get_conn().shared.storage_url.endswith("/5")  # the connection's extra wins
