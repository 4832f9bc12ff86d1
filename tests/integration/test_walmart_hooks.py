"""Walmart Marketplace hooks and trigger over real loopback HTTP against the simulator."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_report_provider.apis.walmart import WalmartReportRequest
from airflow_report_provider.common.exceptions import RateLimitedError, ReportNotFoundError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.landing.streaming import stream_to_local_file
from airflow_report_provider.common.http.tokens import TOKEN_CACHE
from airflow_report_provider.common.http.transport import SESSIONS
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook, WalmartMarketplaceHook
from airflow_report_provider.triggers.walmart import WalmartReportTrigger
from tests.support.airflow_env import connection_env

ITEM = WalmartReportRequest.build(report_type="ITEM", report_version="v4")
#: Headers that must never reach the blob store behind the pre-signed URL.
WALMART_HEADERS = {"wm_sec.access_token", "wm_qos.correlation_id", "wm_svc.name", "authorization"}


@pytest.fixture(autouse=True)
def _fast_jobs(sim):
    sim.config.walmart_job_seconds = 0.5


def wait_ready(hook: WalmartMarketplaceHook, request_id: str, limit: float = 15.0) -> None:
    deadline = time.time() + limit
    while hook.get_request_status(request_id).state is not ReportState.SUCCEEDED:
        assert time.time() < deadline, "request never became READY"
        time.sleep(0.1)


def download(hook: WalmartMarketplaceHook, request_id: str, path) -> bytes:
    stream_to_local_file(hook.open_download(request_id, chunk_size=512), path, chunk_size=512)
    return path.read_bytes()


def test_create_status_and_streamed_download_byte_exact(sim, tmp_path):
    hook = WalmartMarketplaceHook()
    created = hook.create_report_request(ITEM)
    assert created.job_id and created.state is ReportState.PENDING and created.raw_status == "RECEIVED"
    wait_ready(hook, created.job_id)
    assert download(hook, created.job_id, tmp_path / "report.zip") == sim.walmart_file_bytes(created.job_id)
    # Many calls, new hook objects, one token: the process-wide cache serves them all.
    assert WalmartMarketplaceHook().get_request_status(created.job_id).state is ReportState.SUCCEEDED
    assert sim.stats.total_calls() >= 5 and sim.stats.tokens_issued["walmart"] == 1


def test_every_api_call_sends_the_walmart_headers(sim):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    for _ in range(3):
        hook.get_request_status(request_id)
    hook.list_report_requests(report_type="ITEM")
    records = [r for r in sim.stats.records() if r.endpoint.startswith("walmart.") and r.endpoint != "walmart.blob"]
    assert {r.endpoint for r in records} >= {"walmart.token", "walmart.list", "walmart.create", "walmart.status"}
    for record in records:
        headers = {k.lower(): v for k, v in record.headers.items()}
        assert headers["wm_svc.name"] == "Walmart Marketplace"
        assert "application/json" in headers["accept"]
        assert headers["user-agent"].startswith("airflow-report-provider/") and "python-requests/" in headers["user-agent"]
        if record.endpoint != "walmart.token":
            assert "wm_sec.access_token" in headers
    correlation_ids = [{k.lower(): v for k, v in r.headers.items()}["wm_qos.correlation_id"] for r in records]
    assert len(set(correlation_ids)) == len(correlation_ids)  # a fresh one per call
    (create,) = sim.stats.records("walmart.create")
    assert create.headers.get("Content-Type", "").startswith("application/json")
    assert create.query == "reportType=ITEM&reportVersion=v4"


def test_list_follows_every_page(sim):
    sim.config.walmart_create_limit_per_hour = 0
    sim.config.walmart_list_page_size = 2
    hook = WalmartMarketplaceHook()
    created = {hook.create_report_request(ITEM, reuse=False).job_id for _ in range(7)}
    hook.create_report_request(WalmartReportRequest.build(report_type="INVENTORY", report_version="v1"), reuse=False)
    listed = hook.list_report_requests(report_type="ITEM", report_version="v4")
    assert {status.job_id for status in listed} == created and len(listed) == 7
    assert sim.stats.calls["walmart.list"] == 4  # pages of 2: 2 + 2 + 2 + 1
    pages = sim.stats.records("walmart.list")
    assert "page=" not in pages[0].query and all("page=" in p.query for p in pages[1:])


def test_download_links_and_blob_fetched_without_walmart_headers(sim, tmp_path):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    wait_ready(hook, request_id)
    (link,) = hook.get_download_links(request_id)
    assert link.url.startswith(f"{sim.url}/blob/") and "sig=" in link.url
    assert link.expires_at is not None and not link.is_expired()
    assert "sig=" not in repr(link) and "sig=" not in link.redacted
    download(hook, request_id, tmp_path / "report.zip")
    (blob,) = sim.stats.records("walmart.blob")
    assert blob.status == 200 and not blob.header_names & WALMART_HEADERS
    assert blob.user_agent.startswith("airflow-report-provider/")


def test_test_connection_reads_the_token_detail(sim, monkeypatch):
    assert WalmartMarketplaceHook().test_connection() == (True, "Connection to Walmart Marketplace succeeded")
    assert sim.stats.calls["walmart.token_detail"] == 1
    name, value = connection_env("walmart_bad", "walmart_marketplace", sim.url, "nobody", "wrong-secret", {})
    monkeypatch.setenv(name, value)
    ok, message = WalmartMarketplaceHook(walmart_conn_id="walmart_bad").test_connection()
    assert ok is False and "UNAUTHORIZED" in message and "wrong-secret" not in message


def test_wrong_secret_alone_fails(sim, monkeypatch):
    name, value = connection_env("walmart_bad", "walmart_marketplace", sim.url, "sim-walmart-client", "wrong-secret", {})
    monkeypatch.setenv(name, value)
    ok, message = WalmartMarketplaceHook(walmart_conn_id="walmart_bad").test_connection()
    assert ok is False and "UNAUTHORIZED" in message and "wrong-secret" not in message
    assert sim.stats.calls["walmart.token"] == 1 and sim.stats.calls["walmart.token_detail"] == 0


def test_wrong_secret_is_not_masked_by_a_cached_token(sim, monkeypatch):
    assert WalmartMarketplaceHook().test_connection()[0] is True
    name, value = connection_env("walmart_bad", "walmart_marketplace", sim.url, "sim-walmart-client", "wrong-secret", {})
    monkeypatch.setenv(name, value)
    assert WalmartMarketplaceHook(walmart_conn_id="walmart_bad").test_connection()[0] is False


def test_second_create_within_the_hour_reuses_the_first_request(sim):
    first = WalmartMarketplaceHook().create_report_request(ITEM)
    second = WalmartMarketplaceHook().create_report_request(WalmartReportRequest.build(report_type="item", report_version="V4"))
    assert second.job_id == first.job_id
    assert sim.stats.calls["walmart.create"] == 1


def test_429_on_create_reattaches_to_the_listed_request(sim):
    hook = WalmartMarketplaceHook()
    first = hook.create_report_request(ITEM, reuse=False)
    again = hook.create_report_request(ITEM, reuse=False)  # the simulator enforces one ITEM request per hour
    assert again.job_id == first.job_id
    assert sim.stats.calls["walmart.create"] == 2 and sim.stats.throttled["walmart.create"] == 1


def test_create_whose_answer_was_lost_is_found_not_resent(sim):
    sim.inject_fault("walmart.create", cut_after_bytes=5)  # the request is made, its answer cut
    created = WalmartMarketplaceHook().create_report_request(ITEM)
    assert created.job_id in sim.walmart_requests
    assert sim.stats.calls["walmart.create"] == 1


def test_a_different_body_is_not_reused_and_the_create_is_not_retried(sim):
    hook = WalmartMarketplaceHook()
    hook.create_report_request(WalmartReportRequest.build(report_type="ITEM", report_version="v4", request_body={"excludeColumns": ["Shelf Name"]}))
    with pytest.raises(RateLimitedError) as info:
        hook.create_report_request(ITEM)
    assert info.value.code == "REQUEST_THRESHOLD_VIOLATED" and info.value.retry_after > 3000
    assert sim.stats.calls["walmart.create"] == 2 and len(sim.walmart_requests) == 1


def test_expired_download_url_is_renewed(sim, tmp_path):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    wait_ready(hook, request_id)
    opener = hook.open_download(request_id, chunk_size=256)
    with opener(0) as body:  # gets a URL and starts reading
        assert next(body.chunks)
    sim.advance_clock(sim.config.walmart_download_url_ttl_seconds + 60)  # that URL has now expired
    with opener(0) as body:
        assert b"".join(body.chunks) == sim.walmart_file_bytes(request_id)
    assert [r.status for r in sim.stats.records("walmart.blob")] == [200, 403, 200]
    assert sim.stats.calls["walmart.download_url"] == 2


def test_blob_store_refusal_asks_for_a_new_url(sim, tmp_path):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    wait_ready(hook, request_id)
    sim.inject_fault("walmart.blob", status=403)
    assert download(hook, request_id, tmp_path / "report.zip") == sim.walmart_file_bytes(request_id)
    assert sim.stats.calls["walmart.download_url"] == 2 and sim.stats.calls["walmart.blob"] == 2


def test_cut_download_resumes_with_range(sim, tmp_path):
    sim.config.walmart_rows = 2000
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    wait_ready(hook, request_id)
    sim.inject_fault("walmart.blob", cut_after_bytes=4000)
    assert download(hook, request_id, tmp_path / "report.zip") == sim.walmart_file_bytes(request_id)
    resumed = sim.stats.records("walmart.blob")[1]
    assert resumed.headers.get("Range", "").startswith("bytes=") and resumed.status == 206


def test_token_expired_mid_poll_is_refreshed_once(sim):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    sim.expire_tokens()
    assert hook.get_request_status(request_id).job_id == request_id
    assert sim.stats.tokens_issued["walmart"] == 2


def test_throttled_status_poll_waits_for_replenishment(sim):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    sim.inject_fault("walmart.status", status=429, times=2, headers={"X-Next-Replenishment-Time": str(int(time.time() * 1000))})
    assert hook.get_request_status(request_id).job_id == request_id
    assert sim.stats.throttled["walmart.status"] == 2


def test_request_past_retention_is_content_not_found(sim):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    sim.advance_clock(sim.config.walmart_retention_seconds + 60)
    with pytest.raises(ReportNotFoundError) as info:
        hook.get_request_status(request_id)
    assert info.value.code == "CONTENT_NOT_FOUND" and info.value.status == 404


async def test_async_hook_status_links_and_download(sim):
    sync_hook = WalmartMarketplaceHook()
    request_id = sync_hook.create_report_request(ITEM).job_id
    wait_ready(sync_hook, request_id)
    hook = WalmartMarketplaceAsyncHook()
    assert (await hook.get_request_status(request_id)).state is ReportState.SUCCEEDED
    assert len(await hook.get_download_links(request_id)) == 1
    chunks = [c async for c in hook.iter_report_file(request_id, chunk_size=256)]
    assert b"".join(chunks) == sim.walmart_file_bytes(request_id) and max(map(len, chunks)) <= 256
    status_agents = {r.user_agent for r in sim.stats.records("walmart.status")}
    assert any("aiohttp/" in (a or "") for a in status_agents)
    blobs = sim.stats.records("walmart.blob")
    assert blobs and all(not r.header_names & WALMART_HEADERS for r in blobs)
    assert await hook.test_connection() == (True, "Connection to Walmart Marketplace succeeded")
    assert sim.stats.tokens_issued["walmart"] == 1  # the async hook used the sync hook's cached token
    assert SESSIONS.open_count() == 0


async def test_async_download_renews_a_refused_url(sim):
    sync_hook = WalmartMarketplaceHook()
    request_id = sync_hook.create_report_request(ITEM).job_id
    wait_ready(sync_hook, request_id)
    sim.inject_fault("walmart.blob", status=403)
    chunks = [c async for c in WalmartMarketplaceAsyncHook().iter_report_file(request_id)]
    assert b"".join(chunks) == sim.walmart_file_bytes(request_id)
    assert [r.status for r in sim.stats.records("walmart.blob")] == [403, 200]
    assert sim.stats.calls["walmart.download_url"] == 2


async def test_trigger_run_emits_one_success_event(sim):
    request_id = WalmartMarketplaceHook().create_report_request(ITEM).job_id
    trigger = WalmartReportTrigger(request_id=request_id, poll_interval=0.2, timeout=30)
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    assert events[0].payload["status"] == "success" and events[0].payload["request_id"] == request_id
    assert events[0].payload["raw_status"] == "READY"


async def test_trigger_reports_error_status_as_failed(sim):
    sim.config.walmart_job_outcome = "ERROR"
    request_id = WalmartMarketplaceHook().create_report_request(ITEM).job_id
    trigger = WalmartReportTrigger(request_id=request_id, poll_interval=0.2, timeout=30)
    (event,) = [event async for event in trigger.run()]
    assert event.payload["status"] == "failed" and event.payload["request_id"] == request_id
    assert request_id in event.payload["message"] and "ERROR" in event.payload["message"]


async def test_trigger_reports_a_request_gone_past_retention(sim):
    request_id = WalmartMarketplaceHook().create_report_request(ITEM).job_id
    sim.advance_clock(sim.config.walmart_retention_seconds + 60)
    (event,) = [e async for e in WalmartReportTrigger(request_id=request_id, poll_interval=0.2, timeout=30).run()]
    assert event.payload["status"] == "error" and event.payload["code"] == "CONTENT_NOT_FOUND"


async def test_trigger_times_out_at_its_absolute_deadline(sim):
    sim.config.walmart_job_seconds = 600
    request_id = WalmartMarketplaceHook().create_report_request(ITEM).job_id
    trigger = WalmartReportTrigger(request_id=request_id, poll_interval=0.2, deadline=time.time() + 1)
    events = [event async for event in trigger.run()]
    assert [e.payload["status"] for e in events] == ["timeout"]
    assert sim.stats.calls["walmart.status"] >= 2


def test_trigger_serializes_only_ids_poll_settings_and_deadline(sim):
    trigger = WalmartReportTrigger(request_id="r-1", walmart_conn_id="c", poll_interval=7, timeout=100)
    path, kwargs = trigger.serialize()
    assert path == "airflow_report_provider.triggers.walmart.WalmartReportTrigger"
    assert set(kwargs) == {"request_id", "walmart_conn_id", "poll_interval", "max_poll_interval", "deadline"}
    assert kwargs["request_id"] == "r-1" and kwargs["walmart_conn_id"] == "c"
    rebuilt = WalmartReportTrigger(**kwargs)
    assert rebuilt.deadline == trigger.deadline  # an absolute deadline survives a triggerer restart
    assert sim.config.walmart_client_secret not in repr(kwargs)


async def test_triggers_share_one_token(sim):
    sim.config.walmart_create_limit_per_hour = 0
    hook = WalmartMarketplaceHook()
    ids = [hook.create_report_request(ITEM, reuse=False).job_id for _ in range(5)]
    TOKEN_CACHE.clear()
    issued_before = sim.stats.tokens_issued["walmart"]

    async def run(request_id: str):
        return [e async for e in WalmartReportTrigger(request_id=request_id, poll_interval=0.2, timeout=30).run()]

    results = await asyncio.gather(*(run(i) for i in ids))
    assert [r[0].payload["status"] for r in results] == ["success"] * 5
    assert sim.stats.tokens_issued["walmart"] - issued_before == 1
