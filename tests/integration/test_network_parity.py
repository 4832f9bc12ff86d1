"""Network parity and safety of both transports: proxies, redirects, closed sessions (over loopback only)."""

from __future__ import annotations

import gc
import time

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest
from airflow_report_provider.apis.walmart import WalmartReportRequest
from airflow_report_provider.common.exceptions import ApiError
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.common.landing.streaming import stream_to_local_file
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook, WalmartMarketplaceHook
from tests.support.airflow_env import simulator_connections
from tests.support.proxy import run_proxy

REPORT = CriteoReportRequest.build(
    advertiser_ids=["123"], metrics=["Clicks"], dimensions=["Hour"], report_start="2026-11-23T00:00:00Z", report_end="2026-11-23T01:00:00Z"
)
ITEM = WalmartReportRequest.build(report_type="ITEM", report_version="v4")


@pytest.fixture
def proxy():
    with run_proxy() as running:
        yield running


@pytest.fixture
def no_env_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _went_through(proxy, sim, path_part: str) -> bool:
    return any(t.startswith(sim.url) and path_part in t for t in proxy.targets())


# -- proxies ---------------------------------------------------------------------------------------------------
def test_proxy_extra_routes_sync_calls_through_the_proxy(sim, proxy, monkeypatch, no_env_proxy):
    simulator_connections(sim, monkeypatch, proxy=proxy.url)
    hook = CriteoMpoHook()
    created = hook.create_report(REPORT)
    hook.get_report_status(created.job_id)
    assert _went_through(proxy, sim, "/oauth2/token") and _went_through(proxy, sim, created.job_id)


async def test_proxy_extra_routes_async_calls_through_the_proxy(sim, proxy, monkeypatch, no_env_proxy):
    simulator_connections(sim, monkeypatch, proxy=proxy.url)
    hook = CriteoMpoAsyncHook()
    created = await hook.create_report(REPORT)
    await hook.get_report_status(created.job_id)
    assert _went_through(proxy, sim, "/oauth2/token") and _went_through(proxy, sim, created.job_id)


async def test_async_transport_honours_the_proxy_environment_like_requests(sim, proxy, monkeypatch, no_env_proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    created = CriteoMpoHook().create_report(REPORT)
    assert _went_through(proxy, sim, "/oauth2/token")  # requests: trust_env by default
    proxy.seen.clear()
    await CriteoMpoAsyncHook().get_report_status(created.job_id)
    assert _went_through(proxy, sim, created.job_id)


async def test_no_proxy_environment_bypasses_the_proxy_in_both_transports(sim, proxy, monkeypatch, no_env_proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    created = CriteoMpoHook().create_report(REPORT)
    await CriteoMpoAsyncHook().get_report_status(created.job_id)
    assert proxy.seen == []


# -- redirects -------------------------------------------------------------------------------------------------
def test_sync_authenticated_call_does_not_follow_a_redirect(sim, proxy, no_env_proxy):
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    sim.inject_fault("walmart.status", status=307, headers={"Location": f"{proxy.url}/elsewhere"})
    with pytest.raises(ApiError) as raised:
        hook.get_request_status(request_id)
    assert raised.value.status == 307
    assert proxy.seen == []  # the access token never reached the other host


async def test_async_authenticated_call_does_not_follow_a_redirect(sim, proxy, no_env_proxy):
    request_id = WalmartMarketplaceHook().create_report_request(ITEM).job_id
    sim.inject_fault("walmart.status", status=302, headers={"Location": f"{proxy.url}/elsewhere"})
    with pytest.raises(ApiError) as raised:
        await WalmartMarketplaceAsyncHook().get_request_status(request_id)
    assert raised.value.status == 302
    assert proxy.seen == []


def test_presigned_blob_download_still_follows_a_redirect(sim, tmp_path, no_env_proxy):
    sim.config.walmart_job_seconds = 0.2
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    deadline = time.time() + 15
    while hook.get_request_status(request_id).state is not ReportState.SUCCEEDED:
        assert time.time() < deadline, "request never became READY"
        time.sleep(0.1)
    target = hook.get_download_links(request_id)[0].url
    sim.inject_fault("walmart.blob", status=302, headers={"Location": target})
    stream_to_local_file(hook.open_download(request_id), tmp_path / "r.zip")
    assert (tmp_path / "r.zip").read_bytes() == sim.walmart_file_bytes(request_id)
    assert [r.status for r in sim.stats.records("walmart.blob")] == [302, 200]


# -- sessions ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hook_class", [CriteoMpoHook, WalmartMarketplaceHook])
def test_test_connection_closes_its_session(sim, mocker, hook_class):
    hook = hook_class()
    closed = mocker.spy(hook.get_conn().session, "close")  # this hook's own session (others may close meanwhile)
    assert hook.test_connection()[0] is True
    assert closed.call_count == 1
    # The hook stays usable: a later call opens a new session, closed again.
    reopened = mocker.spy(hook.get_conn().session, "close")
    assert hook.test_connection()[0] is True and reopened.call_count == 1


def test_hook_session_closes_with_the_hook(sim, mocker):
    with CriteoMpoHook() as hook:
        closed = mocker.spy(hook.get_conn().session, "close")
        hook.create_report(REPORT)
    assert closed.call_count == 1
    forgotten = CriteoMpoHook()
    forgotten.create_report(REPORT)
    dropped = mocker.spy(forgotten.get_conn().session, "close")
    del forgotten
    gc.collect()
    assert dropped.call_count == 1
