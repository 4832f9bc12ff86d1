"""Split Walmart reports (a zip of several CSV parts, or a download answer listing several files) land whole
through the sync hook (requests) and the async hook (aiohttp) alike, over loopback HTTP against the simulator."""

from __future__ import annotations

import time

import pyarrow.parquet as pq
import pytest

from airflow_report_provider.apis.walmart import WalmartReportRequest
from airflow_report_provider.common.exceptions import ApiError, ReportContentError
from airflow_report_provider.common.landing.writer import check_output_params, write_report
from airflow_report_provider.common.landing.sources import file_opener
from airflow_report_provider.common.states import ReportState
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook, WalmartMarketplaceHook

ITEM = WalmartReportRequest.build(report_type="ITEM", report_version="v4")


@pytest.fixture(autouse=True)
def _fast_jobs(sim):
    sim.config.walmart_job_seconds = 0.3
    sim.config.walmart_rows = 240


def ready_request(sim, files: int = 1, zip_parts: int = 1, mismatched: bool = False) -> str:
    sim.config.walmart_download_files = files
    sim.config.walmart_zip_parts = zip_parts
    sim.config.walmart_mismatched_part = mismatched
    hook = WalmartMarketplaceHook()
    request_id = hook.create_report_request(ITEM).job_id
    deadline = time.time() + 15
    while hook.get_request_status(request_id).state is not ReportState.SUCCEEDED:
        assert time.time() < deadline
        time.sleep(0.1)
    return request_id


def land_sync(request_id: str, target, fmt: str) -> dict:
    openers = WalmartMarketplaceHook().open_download_parts(request_id, 4096)
    return write_report(openers, f"file://{target}", check_output_params(output_format=fmt), api="walmart", archived=True)


async def land_async(request_id: str, target, fmt: str, spool) -> dict:
    spool.mkdir(exist_ok=True)
    paths = await WalmartMarketplaceAsyncHook().download_report_files(request_id, str(spool), 4096)
    openers = [file_opener(path) for path in paths]
    return write_report(openers, f"file://{target}", check_output_params(output_format=fmt), api="walmart", archived=True)


@pytest.mark.parametrize(("files", "zip_parts"), [(1, 3), (3, 1), (2, 2)])
async def test_sync_and_async_paths_land_the_same_whole_report(sim, tmp_path, files, zip_parts):
    request_id = ready_request(sim, files, zip_parts)
    assert len(WalmartMarketplaceHook().get_download_links(request_id)) == files
    whole = sim.walmart_report_csv(request_id, bom=False)
    for fmt in ("csv", "parquet"):
        sync_result = land_sync(request_id, tmp_path / f"sync.{fmt}", fmt)
        async_result = await land_async(request_id, tmp_path / f"async.{fmt}", fmt, tmp_path / f"spool-{fmt}")
        assert sync_result["rows"] == async_result["rows"] == 240
        assert sync_result["sha256"] == async_result["sha256"]
        assert sync_result["members"] == async_result["members"] and len(sync_result["members"]) == files * zip_parts
    assert (tmp_path / "sync.csv").read_bytes() == (tmp_path / "async.csv").read_bytes() == whole
    table = pq.read_table(tmp_path / "sync.parquet")
    assert table.num_rows == 240 and table.column_names[0] == "SKU"


async def test_async_iter_report_files_reads_every_link_in_order(sim):
    request_id = ready_request(sim, files=3)
    seen = [index async for index, _ in WalmartMarketplaceAsyncHook().iter_report_files(request_id, 256)]
    assert seen == sorted(seen) and set(seen) == {0, 1, 2}
    with pytest.raises(ApiError, match="split into 3 files"):
        async for _ in WalmartMarketplaceAsyncHook().iter_report_file(request_id):
            pass


async def test_mismatched_parts_fail_on_both_paths_with_nothing_written(sim, tmp_path):
    request_id = ready_request(sim, zip_parts=3, mismatched=True)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReportContentError, match="_part3.csv"):
        land_sync(request_id, out / "sync.csv", "csv")
    with pytest.raises(ReportContentError, match="_part3.csv"):
        await land_async(request_id, out / "async.parquet", "parquet", tmp_path / "spool")
    assert list(out.iterdir()) == []


def test_sync_opener_of_a_split_report_renews_its_own_link(sim, tmp_path):
    request_id = ready_request(sim, files=2)
    sim.inject_fault("walmart.blob", status=403)
    result = land_sync(request_id, tmp_path / "items.csv", "csv")
    assert result["rows"] == 240
    assert (tmp_path / "items.csv").read_bytes() == sim.walmart_report_csv(request_id, bom=False)
    assert [r.status for r in sim.stats.records("walmart.blob")] == [403, 200, 200]


def test_single_file_opener_refuses_a_split_report(sim, tmp_path):
    request_id = ready_request(sim, files=2)
    opener = WalmartMarketplaceHook().open_download(request_id)
    with pytest.raises(ApiError, match="output_format"):
        with opener(0):
            pass
