"""Failing well: readable trigger errors, one create retry budget, unknown statuses, first poll and the connection
lookup meanwhile, masker size."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest
from airflow_report_provider.common.exceptions import RateLimitedError, ServerError
from airflow_report_provider.common.http.tokens import TOKEN_CACHE
from airflow_report_provider.hooks.connections import ConnectionLookups
from airflow_report_provider.hooks.criteo_mpo import CREATE_ATTEMPTS, CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger

ABSOLUTE = CriteoReportRequest.build(
    advertiser_ids=["123"], metrics=["Clicks"], dimensions=["Hour"], report_start="2026-11-23T00:00:00Z", report_end="2026-11-23T01:00:00Z"
)
#: A 429 that asks for no wait: the transport backs off (tenths of seconds with the test connection) and resends.
THROTTLED = {"status": 429, "headers": {"x-ratelimit-reset": "0"}}


async def first_event(trigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


# -- triggers: unexpected failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "trigger",
    [
        CriteoMpoReportTrigger(report_id="r-1", criteo_mpo_conn_id="no_such_connection", poll_interval=0.01),
        WalmartReportTrigger(request_id="q-1", walmart_conn_id="no_such_connection", poll_interval=0.01),
    ],
)
async def test_missing_connection_ends_in_a_readable_error_event(trigger):
    event = await first_event(trigger)
    assert event["status"] == "error"
    assert "no_such_connection" in event["message"] and event["message"].startswith("waiting for ")
    assert event[trigger.job_id_field] == trigger.job_id


async def test_a_bug_in_status_handling_ends_in_an_error_event(sim, mocker):
    report_id = CriteoMpoHook().create_report(ABSOLUTE).job_id
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.01)
    mocker.patch.object(CriteoMpoReportTrigger, "fetch_status", side_effect=KeyError("attributes"))
    event = await first_event(trigger)
    assert event["status"] == "error" and "KeyError" in event["message"] and report_id in event["message"]


# -- the trigger's first poll ----------------------------------------------------------------------------------------
async def test_first_poll_waits_the_schedules_first_delay(sim):
    sim.config.criteo_job_seconds = 0
    report_id = CriteoMpoHook().create_report(ABSOLUTE).job_id
    sim.stats.reset()
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.2, timeout=30)
    waits: list[tuple[float, int]] = []
    real_wait = trigger._wait

    async def observed(seconds: float) -> None:
        waits.append((seconds, sim.stats.calls["criteo.status"]))
        await real_wait(seconds)

    trigger._wait = observed  # observe only: the trigger still sleeps
    event = await first_event(trigger)
    assert event["status"] == "success" and event["polls"] == 1
    (seconds, status_calls_before), *_ = waits
    assert status_calls_before == 0 and seconds >= 0.2 * (1 - trigger.schedule.jitter)


async def test_the_connection_is_looked_up_during_the_first_wait_not_after_it(sim, mocker):
    """In a triggerer the lookup is a round trip to the supervisor that queues behind its other work when many
    triggers start together: it runs while the trigger waits for its first poll, not after."""
    report_id = CriteoMpoHook().create_report(ABSOLUTE).job_id
    sim.stats.reset()
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=600, timeout=3600)
    first_wait = asyncio.Event()
    real_wait = trigger._wait

    async def observed(seconds: float) -> None:
        first_wait.set()
        await real_wait(seconds)

    trigger._wait = observed
    lookups = mocker.spy(CriteoMpoAsyncHook, "_lookup_connection")
    running = asyncio.ensure_future(first_event(trigger))
    try:
        await asyncio.wait_for(first_wait.wait(), 30)
        for _ in range(3000):  # the lookup completes while the 600 s first wait is still under way
            if lookups.call_count and lookups.spy_return is not None:
                break
            await asyncio.sleep(0.01)
        assert lookups.call_count == 1 and lookups.spy_return.conn_id == "criteo_mpo_default"
        assert not running.done() and sim.stats.calls["criteo.status"] == 0
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_cancelled_trigger_does_not_cancel_the_others_waiting_for_its_connection_lookup():
    lookups = ConnectionLookups()
    started, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def slow_lookup(conn_id: str) -> str:
        calls.append(conn_id)
        started.set()
        await release.wait()
        return f"connection {conn_id}"

    leader = asyncio.ensure_future(lookups.get("c", slow_lookup))
    await started.wait()
    follower = asyncio.ensure_future(lookups.get("c", slow_lookup))
    await asyncio.sleep(0)
    leader.cancel()  # the trigger that started the lookup goes away
    with contextlib.suppress(asyncio.CancelledError):
        await leader
    release.set()
    assert await asyncio.wait_for(follower, 10) == "connection c"  # looked up again, not cancelled
    assert calls == ["c", "c"]


# -- Criteo create: one retry budget --------------------------------------------------------------------------------
def test_sync_create_sends_at_most_create_attempts_posts(sim):
    sim.inject_fault("criteo.create", times=50, **THROTTLED)
    with pytest.raises(RateLimitedError):
        CriteoMpoHook().create_report(ABSOLUTE)
    assert sim.stats.calls["criteo.create"] == CREATE_ATTEMPTS


async def test_async_create_sends_at_most_create_attempts_posts(sim):
    sim.inject_fault("criteo.create", times=50, **THROTTLED)
    with pytest.raises(RateLimitedError):
        await CriteoMpoAsyncHook().create_report(ABSOLUTE)
    assert sim.stats.calls["criteo.create"] == CREATE_ATTEMPTS


async def test_async_create_resends_an_absolute_window_after_a_5xx_like_the_sync_one(sim):
    sim.inject_fault("criteo.create", status=503)
    created = await CriteoMpoAsyncHook().create_report(ABSOLUTE)
    assert created.job_id and sim.stats.calls["criteo.create"] == 2
    sim.inject_fault("criteo.create", status=503)
    assert CriteoMpoHook().create_report(ABSOLUTE).job_id == created.job_id


async def test_async_create_does_not_resend_a_lookback_window_after_a_5xx(sim):
    sim.inject_fault("criteo.create", status=503)
    lookback = CriteoReportRequest.build(advertiser_ids=["123"], metrics=["Clicks"], dimensions=["Hour"], lookback_window=60)
    with pytest.raises(ServerError):
        await CriteoMpoAsyncHook().create_report(lookback)
    assert sim.stats.calls["criteo.create"] == 1


# -- unknown statuses ----------------------------------------------------------------------------------------------
def _criteo_job(report_id: str, status: str) -> dict:
    return {"data": {"id": report_id, "type": "Export", "attributes": {"exportId": report_id, "status": status}}}


def test_an_unknown_status_is_warned_about_once(sim, caplog):
    report_id = CriteoMpoHook().create_report(ABSOLUTE).job_id
    sim.inject_fault("criteo.status", status=200, times=3, body=_criteo_job(report_id, "Queued-Brand-New"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert CriteoMpoHook().get_report_status(report_id).raw_status == "Queued-Brand-New"
    warnings = [r for r in caplog.records if "Queued-Brand-New" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        CriteoMpoHook().get_report_status(report_id)  # a documented status: no warning
    assert not [r for r in caplog.records if "does not know" in r.getMessage()]


# -- the secret masker stays bounded ------------------------------------------------------------------------------------
def test_token_refreshes_do_not_grow_the_secret_masker(sim):
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    hook = WalmartMarketplaceHook()
    hook.get_conn().token()
    size = len(_secrets_masker().patterns)
    tokens = set()
    for _ in range(5):
        TOKEN_CACHE.clear()
        tokens.add(hook.get_conn().token())
    assert len(tokens) == 5 and sim.stats.tokens_issued["walmart"] == 6
    assert len(_secrets_masker().patterns) == size
    # The current token is still masked.
    assert _secrets_masker().redact(f"token {hook.get_conn().token()}") == "token ***"
