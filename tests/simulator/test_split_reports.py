"""The simulator's split Walmart reports, read over plain HTTP (no client code): a zip of several CSV parts, a
download answer listing several files, and a broken split whose last part has another header."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import create_walmart_request, walmart_headers, walmart_token


@pytest.fixture
def sim():
    with run_simulator(SimulatorConfig(walmart_job_seconds=0, walmart_rows=100)) as s:
        yield s


def _answer(sim) -> tuple[str, dict]:
    token = walmart_token(sim)
    rid = create_walmart_request(sim, token)["requestId"]
    r = requests.get(sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(token), timeout=10)
    assert r.status_code == 200, r.text
    return rid, r.json()


def _members(url: str) -> list[tuple[str, bytes]]:
    content = requests.get(url, timeout=10).content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def test_zip_of_three_parts_holds_every_row_once_with_the_header_in_each(sim):
    sim.config.walmart_zip_parts = 3
    rid, answer = _answer(sim)
    assert "downloadURLs" not in answer
    members = _members(answer["downloadURL"])
    assert [name.rsplit("_", 1)[-1] for name, _ in members] == ["part1.csv", "part2.csv", "part3.csv"]
    header, _, _ = sim.walmart_report_csv(rid).partition(b"\n")
    rows = []
    for _, data in members:
        first, _, body = data.partition(b"\n")
        assert first == header  # the BOM and the header in every part
        rows += body.splitlines()
    assert header + b"\n" + b"\n".join(rows) + b"\n" == sim.walmart_report_csv(rid) and len(rows) == 100


def test_download_answer_lists_several_files(sim):
    sim.config.walmart_download_files = 2
    sim.config.walmart_zip_parts = 2
    rid, answer = _answer(sim)
    urls = answer["downloadURLs"]
    assert len(urls) == 2 and urls[0] == answer["downloadURL"] and urls[0] != urls[1]
    parts = [data for url in urls for _, data in _members(url)]
    assert len(parts) == 4
    assert sum(len(data.partition(b"\n")[2].splitlines()) for data in parts) == 100


def test_mismatched_last_part(sim):
    sim.config.walmart_zip_parts = 2
    sim.config.walmart_mismatched_part = True
    _, answer = _answer(sim)
    (_, first), (_, last) = _members(answer["downloadURL"])
    assert first.partition(b"\n")[0] + b",Extra Column" == last.partition(b"\n")[0]
