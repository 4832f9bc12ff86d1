"""Criteo MPO hooks and trigger over real loopback HTTP against the simulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest
from airflow_report_provider.common.exceptions import AuthenticationError, InvalidRequestError, ReportNotFoundError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.http.tokens import TOKEN_CACHE
from airflow_report_provider.common.http.transport import SESSIONS
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from tests.support.airflow_env import connection_env

REPORT = CriteoReportRequest.build(
    advertiser_ids=["123"],
    dimensions=["AdvertiserId", "Hour"],
    metrics=["Clicks", "Cost"],
    file_format="csv",
    report_start="2026-11-23T00:00:00Z",
    report_end="2026-11-23T01:00:00Z",
)


def wait_done(hook: CriteoMpoHook, report_id: str, limit: float = 15.0) -> None:
    deadline = time.time() + limit
    while hook.get_report_status(report_id).state is not ReportState.SUCCEEDED:
        assert time.time() < deadline, "export never became Done"
        time.sleep(0.2)


def test_create_status_and_stream_download_byte_exact(sim):
    hook = CriteoMpoHook()
    created = hook.create_report(REPORT)
    assert created.job_id and created.state is ReportState.PENDING
    wait_done(hook, created.job_id)
    body = b"".join(hook.iter_report(created.job_id, chunk_size=1024))
    assert body == sim.criteo_report_bytes(created.job_id)
    assert body.startswith(b"AdvertiserId,Hour,Clicks,Cost")
    assert sim.stats.tokens_issued["criteo"] == 1


def test_every_call_sends_the_user_agent(sim):
    hook = CriteoMpoHook()
    hook.get_report_status(hook.create_report(REPORT).job_id)
    agents = {r.headers.get("User-Agent") for r in sim.stats.requests}
    assert agents and all(a and a.startswith("airflow-report-provider/") and "python-requests/" in a for a in agents)


def test_identical_request_reuses_the_cached_export(sim):
    hook = CriteoMpoHook()
    first = hook.create_report(REPORT)
    second = hook.create_report(REPORT)
    assert first.job_id == second.job_id


def test_token_expired_mid_poll_is_refreshed_once(sim):
    hook = CriteoMpoHook()
    report_id = hook.create_report(REPORT).job_id
    sim.expire_tokens()
    assert hook.get_report_status(report_id).job_id == report_id
    assert sim.stats.tokens_issued["criteo"] == 2


def test_429_with_ratelimit_reset_is_waited_for(sim):
    hook = CriteoMpoHook()
    report_id = hook.create_report(REPORT).job_id
    sim.inject_fault("criteo.status", status=429, times=2, headers={"x-ratelimit-reset": str(int(time.time()))})
    assert hook.get_report_status(report_id).job_id == report_id
    assert sim.stats.throttled["criteo.status"] == 2


def test_5xx_on_status_is_retried(sim):
    hook = CriteoMpoHook()
    report_id = hook.create_report(REPORT).job_id
    sim.inject_fault("criteo.status", status=503, times=3)
    assert hook.get_report_status(report_id).job_id == report_id


def test_create_is_not_resent_after_5xx_for_a_lookback_window(sim):
    hook = CriteoMpoHook()
    relative = CriteoReportRequest.build(advertiser_ids=["123"], lookback_window=60)
    sim.inject_fault("criteo.create", status=500, times=1)
    with pytest.raises(Exception, match="500"):
        hook.create_report(relative)
    assert sim.stats.calls["criteo.create"] == 1


def test_wrong_credentials_fail_fast(sim, monkeypatch):
    name, value = connection_env("criteo_bad", "criteo_mpo", sim.url, "sim-criteo-client", "wrong-secret", {"retry_base_delay": 0.01})
    monkeypatch.setenv(name, value)
    with pytest.raises(AuthenticationError) as info:
        CriteoMpoHook(criteo_mpo_conn_id="criteo_bad").get_report_status("abc")
    assert "wrong-secret" not in str(info.value)
    assert sim.stats.calls["criteo.token"] == 1


def test_unknown_export_maps_to_not_found(sim):
    with pytest.raises(ReportNotFoundError) as info:
        CriteoMpoHook().get_report_status("00000000-0000-0000-0000-000000000000")
    assert info.value.code == "export-not-found" and info.value.status == 403


def test_api_validation_error_carries_the_code(sim):
    # Bypass the client-side rules to check the mapping of the API's own answer.
    hook = CriteoMpoHook()
    request = hook.protocol.create_request(REPORT)
    bad = type(request)(**{**request.__dict__, "json": {"data": {"type": "RealTimeProductReportJob", "attributes": {"advertiserIds": ["1"], "fileFormat": "xml", "lookbackWindow": 60}}}})
    with pytest.raises(InvalidRequestError) as info:
        hook.get_conn().send(bad)
    assert info.value.code == "json-serialization-error"


def test_test_connection(sim, monkeypatch):
    assert CriteoMpoHook().test_connection()[0] is True
    name, value = connection_env("criteo_bad", "criteo_mpo", sim.url, "nobody", "nothing", {})
    monkeypatch.setenv(name, value)
    ok, message = CriteoMpoHook(criteo_mpo_conn_id="criteo_bad").test_connection()
    assert ok is False and "nothing" not in message


async def test_async_hook_status_and_download(sim):
    sync_hook = CriteoMpoHook()
    report_id = sync_hook.create_report(REPORT).job_id
    wait_done(sync_hook, report_id)
    hook = CriteoMpoAsyncHook()
    status = await hook.get_report_status(report_id)
    assert status.state is ReportState.SUCCEEDED
    chunks = [c async for c in hook.iter_report(report_id, chunk_size=512)]
    assert b"".join(chunks) == sim.criteo_report_bytes(report_id)
    assert max(len(c) for c in chunks) <= 512
    agents = {r.headers.get("User-Agent") for r in sim.stats.requests if r.endpoint == "criteo.status"}
    assert any("aiohttp/" in (a or "") for a in agents)
    assert SESSIONS.open_count() == 0


async def test_trigger_run_emits_one_success_event(sim):
    report_id = CriteoMpoHook().create_report(REPORT).job_id
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.2, timeout=30)
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    assert events[0].payload["status"] == "success" and events[0].payload["report_id"] == report_id


async def test_trigger_reports_failure_with_message(sim):
    sim.config.criteo_job_outcome = "Failure"
    report_id = CriteoMpoHook().create_report(REPORT).job_id
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.2, timeout=30)
    events = [event async for event in trigger.run()]
    assert events[0].payload["status"] == "failed" and report_id in events[0].payload["message"]


async def test_trigger_times_out_at_its_absolute_deadline(sim):
    sim.config.criteo_job_seconds = 60
    report_id = CriteoMpoHook().create_report(REPORT).job_id
    trigger = CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.2, deadline=time.time() + 1)
    events = [event async for event in trigger.run()]
    assert [e.payload["status"] for e in events] == ["timeout"]


def test_trigger_serializes_only_ids_and_deadline(sim):
    trigger = CriteoMpoReportTrigger(report_id="r-1", criteo_mpo_conn_id="c", poll_interval=7, timeout=100)
    path, kwargs = trigger.serialize()
    assert path == "airflow_report_provider.triggers.criteo_mpo.CriteoMpoReportTrigger"
    assert set(kwargs) == {"report_id", "criteo_mpo_conn_id", "poll_interval", "max_poll_interval", "deadline"}
    rebuilt = CriteoMpoReportTrigger(**kwargs)
    assert rebuilt.deadline == trigger.deadline


async def test_triggers_share_one_token_and_one_session(sim):
    hook = CriteoMpoHook()
    ids = [hook.create_report(CriteoReportRequest.build(advertiser_ids=[str(i)], lookback_window=60)).job_id for i in range(10)]
    TOKEN_CACHE.clear()
    issued_before = sim.stats.tokens_issued["criteo"]

    async def run(report_id: str):
        return [e async for e in CriteoMpoReportTrigger(report_id=report_id, poll_interval=0.3, timeout=30).run()]

    results = await asyncio.gather(*(run(i) for i in ids))
    assert all(r[0].payload["status"] == "success" for r in results)
    assert sim.stats.tokens_issued["criteo"] - issued_before == 1
