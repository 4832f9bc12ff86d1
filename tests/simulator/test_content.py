"""Content generation and streamed bodies, without a server."""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
import zlib
from datetime import UTC, datetime

import pytest

from airflow_report_provider.simulator.archive import gzip_stored_body, zip_stored_body
from airflow_report_provider.simulator.body import BytesBody, ConcatBody, RowBlocks, StoredDeflate, crc32_of
from airflow_report_provider.simulator.content import criteo_table, walmart_table
from airflow_report_provider.simulator.criteo_rules import parse_export
from airflow_report_provider.simulator.streaming import parse_range

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _criteo(fmt="csv", rows=50, target=None, **attrs):
    body = {"data": {"attributes": {"advertiserIds": ["1", "2"], "lookbackWindow": 120, "fileFormat": fmt, **attrs}}}
    export = parse_export(body, NOW)
    return criteo_table(export.attributes, export.window, "client", 0, rows, target)


def test_random_access_matches_sequential_reads():
    table = _criteo(target=300_000)
    full = table.body.to_bytes()
    assert len(full) == table.body.length
    rng = random.Random(1)
    for _ in range(200):
        start = rng.randrange(len(full))
        size = rng.randrange(1, 70_000)
        assert table.body.read(start, size) == full[start : start + size]
    assert b"".join(table.body.iter_range(123, 200_000, 777)) == full[123:200_000]


def test_sized_csv_rows_are_distinct_and_well_formed():
    table = _criteo(target=500_000, dimensions=["AdvertiserId", "CampaignId", "Day"], metrics=["Displays", "Cost"])
    lines = table.body.to_bytes().decode().splitlines()
    assert lines[0] == "AdvertiserId,CampaignId,Day,Displays,Cost"
    assert len(lines) - 1 == table.rows > 2048
    assert len(set(lines[1:])) == table.rows  # the CampaignId numbers the rows
    assert abs(table.body.length - 500_000) < 5_000


@pytest.mark.parametrize("target", [None, 300_000])
def test_metrics_are_plausible_and_never_number_the_rows(target):
    """Clicks, Displays and Cost hold counts and amounts of a real report, whatever the dimensions and size."""
    table = _criteo(target=target, dimensions=["AdvertiserId", "Day"], metrics=["Clicks", "Displays", "Cost"])
    rows = [line.split(",") for line in table.body.to_bytes().decode().splitlines()[1:]]
    assert rows
    for _, _, clicks, displays, cost in rows:
        assert 0 <= int(clicks) < 500 and 500 <= int(displays) < 100_000 and 0 <= float(cost) < 1000


@pytest.mark.parametrize("rows", [0, 1, 1024, 1025, 3000])
def test_json_row_counts(rows):
    table = _criteo("json", rows=rows)
    doc = json.loads(table.body.to_bytes())
    assert doc["rows"] == len(doc["data"]) == rows == table.rows


def test_time_buckets_in_the_requested_zone():
    table = _criteo(dimensions=["Hour"], metrics=["Clicks"], timezone="Asia/Kolkata")
    hours = {line.split(",")[0] for line in table.body.to_bytes().decode().splitlines()[1:]}
    assert hours == {"2026-11-24T13:00:00+05:30", "2026-11-24T14:00:00+05:30", "2026-11-24T15:00:00+05:30"}


def test_walmart_csv_bom_and_columns():
    table = walmart_table("ITEM", {"excludeColumns": ["brand"]}, "10000001", NOW, 0, 5, None, True)
    data = table.body.to_bytes()
    assert data.startswith(b"\xef\xbb\xbfSKU,Item ID,Product Name")
    assert b"Brand" not in data.split(b"\n")[0]
    assert len(data.splitlines()) == 6


def test_stored_deflate_and_archives_are_valid():
    csv = walmart_table("ITEM", {}, "10000001", NOW, 0, 0, 200_000, False).body
    raw = csv.to_bytes()
    assert zlib.decompress(StoredDeflate(csv).to_bytes(), -15) == raw
    crc = crc32_of(csv)
    assert gzip.decompress(gzip_stored_body(csv, crc).to_bytes()) == raw
    with zipfile.ZipFile(io.BytesIO(zip_stored_body(csv, crc, "Item.csv", NOW).to_bytes())) as zf:
        assert zf.testzip() is None and zf.read("Item.csv") == raw
    empty = BytesBody(b"")
    assert zlib.decompress(StoredDeflate(empty).to_bytes(), -15) == b""


def test_concat_and_row_blocks_edges():
    body = ConcatBody([BytesBody(b"ab"), RowBlocks(b"x\x00\x00\x00\x00\x00\x00\n", [8], 3), BytesBody(b"!")])
    assert body.to_bytes() == b"abx000000\nx000001\nx000002\n!"
    assert body.read(9, 100) == b"\nx000001\nx000002\n!"


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("bytes=0-", (0, 100)),
        ("bytes=10-19", (10, 20)),
        ("bytes=90-200", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=5-1", None),
        ("bytes=1-2,5-6", None),
        ("items=1-2", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected
