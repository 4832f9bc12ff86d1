"""Format detection and report extraction for downloaded zip / gzip / plain files."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from airflow_report_provider.common.landing.archives import (
    UTF8_BOM,
    detect_format,
    inspect_report_file,
    member_name,
    open_report_member,
    report_members,
    sniff_format,
)
from airflow_report_provider.common.exceptions import TransferError
from airflow_report_provider.common.landing.streaming import file_opener, stream_to_object_storage

CSV = b"date,sku,units\n" + b"".join(b"2024-01-%02d,SKU%d,%d\n" % (d % 28 + 1, d, d * 3) for d in range(5000))


def make_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"PK\x03\x04rest", "zip"),
        (b"PK\x05\x06", "zip"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"date,sku\n", "plain"),
        (UTF8_BOM + b"a,b", "plain"),
        (b"", "plain"),
        (b"P", "plain"),
    ],
)
def test_detect_format(head, expected):
    assert detect_format(head) == expected


def test_zip_single_member(tmp_path):
    path = tmp_path / "report.zip"
    make_zip(path, {"folder/": b"", "Report_2024.csv": CSV})

    assert sniff_format(path) == "zip"
    assert member_name(path) == "Report_2024.csv"
    assert inspect_report_file(path).size == len(CSV)
    with open_report_member(path) as stream:
        assert stream.read() == CSV


def test_zip_parts_are_every_csv_in_name_order(tmp_path):
    path = tmp_path / "report.zip"
    make_zip(
        path,
        {
            "readme.txt": b"x" * 100_000,
            "part_10.csv": b"a\n10\n",
            "part_2.CSV": CSV,
            "part_1.csv": b"a\n1\n",
            "__MACOSX/._part_1.csv": b"junk" * 99_999,
        },
    )
    assert report_members(path) == ["part_1.csv", "part_2.CSV", "part_10.csv"]
    found = inspect_report_file(path)
    assert found.member == "part_1.csv" and found.size == len(CSV) + 9
    with open_report_member(path, member="part_2.CSV") as stream:
        assert stream.read() == CSV
    with pytest.raises(TransferError, match="3 parts"):
        with open_report_member(path):
            pass


def test_zip_without_csv_takes_every_file(tmp_path):
    path = tmp_path / "report.zip"
    make_zip(path, {"b.tsv": CSV, "a.txt": b"1"})
    assert report_members(path) == ["a.txt", "b.tsv"]


def test_empty_zip_fails(tmp_path):
    path = tmp_path / "empty.zip"
    make_zip(path, {})
    assert sniff_format(path) == "zip"
    with pytest.raises(TransferError, match="no file"):
        with open_report_member(path):
            pass


def test_zip_member_is_streamed(tmp_path):
    path = tmp_path / "report.zip"
    make_zip(path, {"r.csv": CSV})
    with open_report_member(path) as stream:
        assert isinstance(stream, zipfile.ZipExtFile)  # decompressed on the fly, not read whole
        assert stream.read(5) == CSV[:5]


def test_gzip(tmp_path):
    path = tmp_path / "report.csv.gz"
    with open(path, "wb") as raw, gzip.GzipFile("inner.csv", "wb", fileobj=raw) as handle:
        handle.write(CSV)

    assert sniff_format(path) == "gzip"
    assert member_name(path) == "inner.csv"
    assert inspect_report_file(path).size is None
    with open_report_member(path) as stream:
        assert stream.read() == CSV


def test_gzip_without_stored_name(tmp_path):
    path = tmp_path / "report.csv.gz"
    path.write_bytes(gzip.compress(CSV, mtime=0))
    assert member_name(path) == "report.csv"


def test_plain(tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(CSV)
    assert sniff_format(path) == "plain"
    assert inspect_report_file(path) == inspect_report_file(path).__class__("plain", "report.csv", len(CSV), ("report.csv",))
    with open_report_member(path) as stream:
        assert stream.read() == CSV


@pytest.mark.parametrize("kind", ["plain", "gzip", "zip"])
def test_bom_kept_by_default_and_stripped_on_request(tmp_path, kind):
    data = UTF8_BOM + CSV
    path = tmp_path / "report"
    if kind == "plain":
        path.write_bytes(data)
    elif kind == "gzip":
        path.write_bytes(gzip.compress(data))
    else:
        make_zip(path, {"r.csv": data})

    with open_report_member(path) as stream:
        assert stream.read() == data
    with open_report_member(path, strip_bom=True) as stream:
        assert stream.read() == CSV
    with open_report_member(path, strip_bom=True) as stream:
        pieces = iter(lambda: stream.read(2), b"")
        assert b"".join(pieces) == CSV


def test_strip_bom_without_bom_keeps_everything(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"ab")  # shorter than a BOM
    with open_report_member(path, strip_bom=True) as stream:
        assert stream.read(1) == b"a" and stream.read() == b"b"
    path.write_bytes(CSV)
    with open_report_member(path, strip_bom=True) as stream:
        assert io.BufferedReader(stream).read() == CSV  # readinto works too


def test_extracted_member_streams_to_storage(tmp_path):
    path = tmp_path / "report.zip"
    make_zip(path, {"r.csv": CSV})
    with open_report_member(path) as stream:
        result = stream_to_object_storage(
            file_opener(stream, 4096, size=inspect_report_file(path).size), tmp_path / "out.csv"
        )
    assert (tmp_path / "out.csv").read_bytes() == CSV and result.source_bytes == len(CSV)
