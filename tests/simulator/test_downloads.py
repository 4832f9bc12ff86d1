"""Downloads: Criteo export bytes and Walmart blobs (formats, pre-signed URLs, Range, cut connections, size)."""

from __future__ import annotations

import asyncio
import gzip
import io
import resource
import zipfile
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
import pytest
import requests
import yarl

from airflow_report_provider.simulator import Simulator, SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import (
    create_criteo_export,
    create_walmart_request,
    criteo_base,
    criteo_headers,
    criteo_token,
    walmart_headers,
    walmart_token,
)


@pytest.fixture
def sim():
    with run_simulator(SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0)) as s:
        yield s


def _walmart_ready(sim, report_type="ITEM", body=None) -> tuple[str, str]:
    """(request id, download URL) of a READY request."""
    token = walmart_token(sim)
    rid = create_walmart_request(sim, token, report_type, "v4", body)["requestId"]
    r = requests.get(sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(token))
    assert r.status_code == 200, r.text
    return rid, r.json()["downloadURL"]


def _criteo_ready(sim, **attrs) -> tuple[str, str, dict]:
    token = criteo_token(sim)
    export_id = create_criteo_export(sim, token, **attrs)
    return export_id, criteo_base(sim) + f"/realtime-reports/{export_id}", criteo_headers(token)


# ------------------------------------------------------------------ Walmart file formats


def test_zip_blob_holds_one_csv(sim):
    rid, url = _walmart_ready(sim)
    r = requests.get(url, headers={"User-Agent": "t"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert int(r.headers["Content-Length"]) == len(r.content) and r.content[:2] == b"PK"
    assert r.content == sim.walmart_file_bytes(rid)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        (name,) = zf.namelist()
        assert name.startswith("ItemReport_") and name.endswith(".csv")
        data = zf.read(name)
    assert data.startswith(b"\xef\xbb\xbf") and data == sim.walmart_report_csv(rid)
    assert zipfile.ZipFile(io.BytesIO(r.content)).infolist()[0].compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize(
    "fmt, magic, content_type", [("gzip", b"\x1f\x8b", "application/gzip"), ("plain", b"\xef\xbb\xbf", "text/csv")]
)
def test_gzip_and_plain_blobs(sim, fmt, magic, content_type):
    sim.config.walmart_file_format = fmt
    sim.config.walmart_csv_bom = fmt == "plain"
    rid, url = _walmart_ready(sim)
    r = requests.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"] == content_type and r.content[: len(magic)] == magic
    csv_bytes = gzip.decompress(r.content) if fmt == "gzip" else r.content
    assert csv_bytes == sim.walmart_report_csv(rid)
    assert csv_bytes.startswith(b"SKU,") == (fmt == "gzip")


# ------------------------------------------------------------------ pre-signed URLs


@pytest.mark.parametrize(
    "headers", [{"WM_SEC.ACCESS_TOKEN": "x"}, {"Authorization": "Bearer x"}, {"wm_sec.access_token": "x"}]
)
def test_blob_refuses_credentials(sim, headers):
    _, url = _walmart_ready(sim)
    r = requests.get(url, headers=headers)
    assert r.status_code == 403 and "<Code>AuthenticationFailed</Code>" in r.text
    assert r.headers["x-ms-error-code"] == "AuthenticationFailed"


def test_blob_accepts_other_walmart_headers_but_not_the_token(sim):
    _, url = _walmart_ready(sim)
    headers = walmart_headers(walmart_token(sim))
    assert requests.get(url, headers=headers).status_code == 403
    del headers["WM_SEC.ACCESS_TOKEN"]
    assert requests.get(url, headers=headers).status_code == 200


def test_blob_url_expires(sim):
    rid, url = _walmart_ready(sim)
    sim.advance_clock(301)
    r = requests.get(url)
    assert r.status_code == 403 and "expired" in r.text
    # asking again gives a fresh URL for the same file
    r = requests.get(
        sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(walmart_token(sim))
    )
    assert requests.get(r.json()["downloadURL"]).status_code == 200


def test_blob_refuses_tampered_urls(sim):
    _, url = _walmart_ready(sim)
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert "%2B" in url or "%2F" in url or "%3D" in url  # Azure-style base64 signature, percent-encoded
    for change in ({"se": str(int(q["se"]) + 3600)}, {"sig": "A" + q["sig"][1:]}, {"sig": None}, {"se": None}):
        params = {**q, **change}
        query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
        r = requests.get(f"{base}?{query}")
        assert r.status_code == 403, change
    other = base.rsplit("/", 1)[0] + "/Other.zip?" + parts.query
    assert requests.get(other).status_code == 403


def test_blob_urls_work_from_aiohttp_when_not_requoted(sim):
    rid, url = _walmart_ready(sim)

    async def fetch() -> bytes:
        async with aiohttp.ClientSession() as s, s.get(yarl.URL(url, encoded=True)) as r:
            assert r.status == 200
            return await r.read()

    assert asyncio.run(fetch()) == sim.walmart_file_bytes(rid)


def test_public_url_overrides_blob_host(sim):
    sim.config.public_url = "http://simulator:8080/"
    _, url = _walmart_ready(sim)
    assert url.startswith("http://simulator:8080/blob/")


# ------------------------------------------------------------------ Range


def _check_ranges(url: str, headers: dict, full: bytes) -> None:
    r = requests.get(url, headers={**headers, "Range": "bytes=100-"})
    assert r.status_code == 206 and r.content == full[100:]
    assert r.headers["Content-Range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    assert int(r.headers["Content-Length"]) == len(full) - 100
    r = requests.get(url, headers={**headers, "Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == full[10:20]
    r = requests.get(url, headers={**headers, "Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == full[-5:]
    r = requests.get(url, headers={**headers, "Range": f"bytes={len(full)}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(full)}"


def test_criteo_range(sim):
    export_id, url, headers = _criteo_ready(sim)
    full = sim.criteo_report_bytes(export_id)
    assert requests.get(url, headers=headers).headers["Accept-Ranges"] == "bytes"
    _check_ranges(url, headers, full)


def test_blob_range(sim):
    rid, url = _walmart_ready(sim)
    _check_ranges(url, {}, sim.walmart_file_bytes(rid))


def test_range_support_off(sim):
    sim.config.range_support = False
    export_id, url, headers = _criteo_ready(sim)
    r = requests.get(url, headers={**headers, "Range": "bytes=100-"})
    assert r.status_code == 200 and r.content == sim.criteo_report_bytes(export_id) and "Accept-Ranges" not in r.headers
    rid, blob_url = _walmart_ready(sim)
    r = requests.get(blob_url, headers={"Range": "bytes=100-"})
    assert r.status_code == 200 and r.content == sim.walmart_file_bytes(rid)


# ------------------------------------------------------------------ cut connections


@pytest.mark.parametrize("endpoint", ["criteo.download", "walmart.blob"])
def test_cut_connection_raises_in_requests(sim, endpoint):
    if endpoint == "criteo.download":
        _, url, headers = _criteo_ready(sim)
    else:
        (_, url), headers = _walmart_ready(sim), {}
    full_length = int(requests.get(url, headers=headers).headers["Content-Length"])
    sim.inject_fault(endpoint, cut_after_bytes=100)
    with requests.get(url, headers=headers, stream=True) as r:
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == full_length
        received = bytearray()
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
            for piece in r.iter_content(1):
                received += piece
    assert len(received) == 100
    assert requests.get(url, headers=headers).status_code == 200  # times=1: the next call is whole


def test_cut_connection_raises_in_aiohttp(sim):
    _, url, headers = _criteo_ready(sim)
    sim.inject_fault("criteo.download", cut_after_bytes=10, times=2)

    async def fetch() -> None:
        async with aiohttp.ClientSession() as s:
            for _ in range(2):
                with pytest.raises(aiohttp.ClientPayloadError):
                    async with s.get(url, headers=headers) as r:
                        await r.read()
            async with s.get(url, headers=headers) as r:
                assert r.status == 200 and len(await r.read()) == r.content_length

    asyncio.run(fetch())


def test_resume_after_cut_with_range(sim):
    export_id, url, headers = _criteo_ready(sim)
    sim.inject_fault("criteo.download", cut_after_bytes=1000)
    got = bytearray()
    with pytest.raises(requests.exceptions.RequestException), requests.get(url, headers=headers, stream=True) as r:
        for piece in r.iter_content(100):
            got += piece
    r = requests.get(url, headers={**headers, "Range": f"bytes={len(got)}-"})
    assert r.status_code == 206
    assert bytes(got) + r.content == sim.criteo_report_bytes(export_id)


# ------------------------------------------------------------------ size and determinism


def test_large_criteo_report_streams_in_bounded_memory(sim):
    sim.config.criteo_report_bytes = 100 << 20
    _, url, headers = _criteo_ready(sim, dimensions=["AdvertiserId", "ProductId", "Day"])
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = 0
    with requests.get(url, headers=headers, stream=True) as r:
        length = int(r.headers["Content-Length"])
        for piece in r.iter_content(1 << 20):
            total += len(piece)
    assert total == length and abs(length - (100 << 20)) < (100 << 20) // 100
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024  # KiB on Linux


def test_large_report_json_is_valid_json(sim):
    sim.config.criteo_report_bytes = 3 << 20
    _, url, headers = _criteo_ready(sim, fileFormat="json")
    doc = requests.get(url, headers=headers).json()
    assert doc["rows"] == len(doc["data"]) > 1024
    assert len({tuple(row) for row in doc["data"]}) == doc["rows"]  # rows stay distinct across blocks


@pytest.mark.parametrize("fmt", ["zip", "gzip"])
def test_large_walmart_archives_stream_and_resume(sim, fmt):
    sim.config.walmart_file_format = fmt
    sim.config.walmart_report_bytes = 9 << 20  # above the in-memory compression limit: stored blocks, streamed
    rid, url = _walmart_ready(sim)
    first = requests.get(url, headers={"Range": "bytes=0-999999"})
    assert first.status_code == 206
    rest = requests.get(url, headers={"Range": "bytes=1000000-"})
    data = first.content + rest.content
    assert len(data) == int(rest.headers["Content-Range"].rsplit("/", 1)[1])
    csv_bytes = sim.walmart_report_csv(rid)
    assert abs(len(csv_bytes) - (9 << 20)) < (9 << 20) // 100
    if fmt == "gzip":
        assert gzip.decompress(data) == csv_bytes
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None
            assert zf.read(zf.namelist()[0]) == csv_bytes


def test_content_is_deterministic():
    window = {
        "startDate": "2026-01-01T00:00:00Z",
        "endDate": "2026-01-01T06:00:00Z",
        "dimensions": ["Hour", "CampaignId"],
    }
    outputs = []
    for seed in (0, 0, 1):
        with run_simulator(SimulatorConfig(seed=seed, criteo_job_seconds=0, walmart_job_seconds=0)) as s:
            _, url, headers = _criteo_ready(s, **window)
            rid, _ = _walmart_ready(s)
            outputs.append((requests.get(url, headers=headers).content, s.walmart_report_csv(rid)))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != outputs[2][0] and outputs[0][1] != outputs[2][1]


def test_async_form_on_running_loop():
    form = {"grant_type": "client_credentials", "client_id": "sim-criteo-client", "client_secret": "sim-criteo-secret"}

    async def main() -> int:
        async with Simulator(SimulatorConfig(criteo_job_seconds=0)) as s, aiohttp.ClientSession() as http:
            resp = await http.post(s.url + "/oauth2/token", data=form)
            resp.release()
            return resp.status

    assert asyncio.run(main()) == 200
